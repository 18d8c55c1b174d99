import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SsrfBlockedError,
  createSsrfGuard,
  isPublicAddress,
  nonPublicAddressReason,
  reservedNameReason,
  splitHostPort,
  type ResolvedAddress,
} from '../src/index.ts';

/** Independent reference: the blocked IPv4 ranges as integer intervals. */
const V4_RANGES: [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
const toInt = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const referenceBlocked = (ip: string) =>
  V4_RANGES.some(
    ([net, p]) => Math.floor(toInt(ip) / 2 ** (32 - p)) === Math.floor(toInt(net) / 2 ** (32 - p)),
  );

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));

describe('address classification', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.127.255.254',
    '0.0.0.0',
    '224.0.0.251',
    '255.255.255.255',
    '198.18.0.1',
    '::1',
    '::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'fe80::1%eth0',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:8.8.8.8',
    '64:ff9b::a00:1',
    '2001:db8::1',
    '2002:c000:0204::1',
    '[::1]',
  ])('%s is not public', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '100.128.0.1',
    '172.32.0.1',
    '2606:4700:4700::1111',
    '2a00:1450::1',
  ])('%s is public', (ip) => {
    expect(nonPublicAddressReason(ip)).toBeUndefined();
  });

  it('agrees with an independent range table for every IPv4 address', () => {
    fc.assert(
      fc.property(v4, (ip) => {
        expect(isPublicAddress(ip)).toBe(!referenceBlocked(ip));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every IPv4-mapped IPv6 address, whatever it embeds', () => {
    fc.assert(
      fc.property(v4, (ip) => {
        expect(isPublicAddress(`::ffff:${ip}`)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

describe('reserved names (IICP-E035)', () => {
  it.each([
    'localhost',
    'LOCALHOST.',
    'api.localhost',
    'printer.local',
    'a.test',
    'node.example',
    'x.invalid',
    'nas.lan',
    'svc.internal',
    'router.home.arpa',
    'directory',
    'ollama',
  ])('%s is refused', (name) => {
    expect(reservedNameReason(name)).toBeDefined();
  });

  it.each(['example.com', 'node.iicp.dev', 'localhost.example.org', 'a.b.c.io', '8.8.8.8'])(
    '%s passes the name check',
    (name) => {
      expect(reservedNameReason(name)).toBeUndefined();
    },
  );

  it('refuses any label under a reserved suffix and any bare label', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
    fc.assert(
      fc.property(
        label,
        fc.constantFrom('.local', '.test', '.example', '.invalid', '.lan', '.internal'),
        (l, s) => {
          expect(reservedNameReason(`${l}${s}`)).toBeDefined();
          expect(reservedNameReason(l)).toBeDefined();
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('createSsrfGuard', () => {
  const resolverOf =
    (table: Record<string, string[]>) =>
    async (h: string): Promise<ResolvedAddress[]> =>
      (table[h] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('checks every resolved address, not just the first', async () => {
    const guard = createSsrfGuard({
      resolver: resolverOf({
        'mixed.iicp.dev': ['8.8.8.8', '10.0.0.5'],
        'ok.iicp.dev': ['8.8.4.4', '2606:4700::1'],
      }),
    });
    await expect(guard.assertUrl('https://mixed.iicp.dev/x')).rejects.toMatchObject({
      code: 'ssrf_blocked',
      reason: 'private_address',
      address: '10.0.0.5',
    });
    await expect(guard.assertUrl('https://ok.iicp.dev/iicp/health')).resolves.toHaveLength(2);
  });

  it('refuses reserved names before resolving, unresolvable names, literals and other schemes', async () => {
    let calls = 0;
    const guard = createSsrfGuard({
      resolver: async () => {
        calls++;
        return [];
      },
    });
    await expect(guard.assertUrl('http://svc.internal:9484/')).rejects.toMatchObject({
      reason: 'reserved_name',
    });
    expect(calls).toBe(0);
    await expect(guard.assertUrl('https://gone.iicp.dev/')).rejects.toMatchObject({
      reason: 'unresolvable',
    });
    await expect(guard.assertUrl('http://[::1]:80/')).rejects.toMatchObject({
      reason: 'private_address',
    });
    await expect(guard.assertUrl('http://169.254.169.254/latest')).rejects.toBeInstanceOf(
      SsrfBlockedError,
    );
    await expect(guard.assertUrl('file:///etc/passwd')).rejects.toBeInstanceOf(SsrfBlockedError);
  });

  it('allowPrivate lets local targets through', async () => {
    const guard = createSsrfGuard({
      allowPrivate: true,
      resolver: resolverOf({ localhost: ['127.0.0.1'] }),
    });
    await expect(guard.assertUrl('http://localhost:9484/')).resolves.toEqual([
      { address: '127.0.0.1', family: 4 },
    ]);
  });

  it('the lookup hook hands net.connect the checked addresses only', async () => {
    const guard = createSsrfGuard({
      resolver: resolverOf({ 'ok.iicp.dev': ['8.8.4.4', '2606:4700::1'] }),
    });
    const one = await new Promise<[unknown, unknown, unknown]>((r) =>
      guard.lookup('ok.iicp.dev', { family: 6 }, (e, a, f) => r([e, a, f])),
    );
    expect(one).toEqual([null, '2606:4700::1', 6]);
    const all = await new Promise<unknown>((r) =>
      guard.lookup('ok.iicp.dev', { all: true }, (_e, a) => r(a)),
    );
    expect(all).toEqual([
      { address: '8.8.4.4', family: 4 },
      { address: '2606:4700::1', family: 6 },
    ]);
  });

  it('maps a refusal to IICP-E035 or private_address without echoing the address', () => {
    const e = new SsrfBlockedError('private_address', 'n.iicp.dev', 'x', '10.0.0.1');
    expect(e.toProtocolError().toWire()).toEqual({
      error: { code: 'IICP-E035', message: 'target is not publicly routable' },
    });
    expect(e.toProtocolError('private_address').status).toBe(422);
  });

  it('splitHostPort parses the connect-to syntax', () => {
    expect(splitHostPort('Node.Example.com:443')).toEqual({ host: 'node.example.com', port: 443 });
    expect(splitHostPort('[::1]:8443')).toEqual({ host: '::1', port: 8443 });
    expect(splitHostPort('nohost')).toBeUndefined();
    expect(splitHostPort('a:70000')).toBeUndefined();
  });
});
