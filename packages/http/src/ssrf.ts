import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { IicpLocalError, IicpProtocolError } from '@iicp/wire';

/**
 * SSRF guard for requests to URLs a peer supplied (the directory's liveness probe of
 * `{endpoint}/iicp/health`, iicp-dir.md §3.1; node backends). Names are checked
 * against the IICP-E035 list (iicp-core.md §7, iicp-dir.md §3.1 `RoutableEndpoint`),
 * then every resolved address against the non-public ranges, and the socket connects
 * to the address that was checked (the check runs inside the connection's DNS
 * lookup, so a second, different answer cannot slip in: no DNS rebinding).
 */

/** IICP-E035 reserved suffixes, plus RFC 6761 `.localhost` and RFC 8375 `.home.arpa`. */
export const RESERVED_NAME_SUFFIXES = [
  '.local',
  '.test',
  '.example',
  '.invalid',
  '.lan',
  '.internal',
  '.localhost',
  '.home.arpa',
] as const;

/** Ranges that are never a public peer: [network, prefix, why]. */
const BLOCKED_V4: readonly [string, number, string][] = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'private (RFC 1918)'],
  ['100.64.0.0', 10, 'shared address space / CGNAT (RFC 6598)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private (RFC 1918)'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation (TEST-NET-1)'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private (RFC 1918)'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation (TEST-NET-2)'],
  ['203.0.113.0', 24, 'documentation (TEST-NET-3)'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved / broadcast'],
];

/**
 * IPv6: only global unicast (2000::/3) can pass, minus its special-purpose blocks.
 * IPv4-mapped and other embedded-IPv4 forms lie outside 2000::/3 and are refused
 * outright: a public AAAA record has no reason to carry one.
 */
const BLOCKED_V6_INSIDE_GLOBAL: readonly [string, number, string][] = [
  ['2001::', 23, 'IETF protocol assignments (incl. Teredo)'],
  ['2001:db8::', 32, 'documentation'],
  ['2002::', 16, '6to4'],
  ['3fff::', 20, 'documentation'],
];

function buildBlockList(): BlockList {
  const bl = new BlockList();
  for (const [net, prefix] of BLOCKED_V4) bl.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of BLOCKED_V6_INSIDE_GLOBAL) bl.addSubnet(net, prefix, 'ipv6');
  return bl;
}
const BLOCKED = buildBlockList();
const GLOBAL_UNICAST_V6 = (() => {
  const bl = new BlockList();
  bl.addSubnet('2000::', 3, 'ipv6');
  return bl;
})();

/** `[::1]` → `::1`, `Example.COM.` → `example.com`. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  while (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** Why an IP address is not public, or undefined when it is. */
export function nonPublicAddressReason(address: string): string | undefined {
  const ip = normalizeHost(address);
  const family = isIP(ip);
  if (family === 4) {
    if (!BLOCKED.check(ip, 'ipv4')) return undefined;
    return 'non-public IPv4 address';
  }
  if (family === 6) {
    // A zone index (fe80::1%eth0) is link-local by definition.
    if (ip.includes('%')) return 'scoped IPv6 address';
    if (!GLOBAL_UNICAST_V6.check(ip, 'ipv6')) {
      return 'non-global IPv6 address (loopback, ULA, link-local, multicast, IPv4-mapped)';
    }
    if (BLOCKED.check(ip, 'ipv6')) return 'special-purpose IPv6 address';
    return undefined;
  }
  return 'not an IP address';
}

export function isPublicAddress(address: string): boolean {
  return nonPublicAddressReason(address) === undefined;
}

/**
 * Why a host name may not be a peer (IICP-E035: `localhost`, reserved suffixes,
 * bare names without a dot such as a compose service), or undefined when allowed.
 * IP literals are not judged here; see {@link nonPublicAddressReason}.
 */
export function reservedNameReason(host: string): string | undefined {
  const h = normalizeHost(host);
  if (h === '') return 'empty host';
  if (isIP(h)) return undefined;
  if (h === 'localhost') return 'localhost';
  for (const s of RESERVED_NAME_SUFFIXES) {
    if (h.endsWith(s) || h === s.slice(1)) return `reserved suffix ${s}`;
  }
  if (!h.includes('.')) return 'bare hostname without a dot';
  return undefined;
}

export type SsrfBlockReason = 'reserved_name' | 'private_address' | 'unresolvable';

/** A refused outbound target. Local: callers map it (e.g. to 422 `IICP-E035`). */
export class SsrfBlockedError extends IicpLocalError {
  readonly reason: SsrfBlockReason;
  readonly host: string;
  readonly address: string | undefined;

  constructor(reason: SsrfBlockReason, host: string, detail: string, address?: string) {
    super('ssrf_blocked', `refused outbound target ${host}: ${detail}`);
    this.reason = reason;
    this.host = host;
    this.address = address;
  }

  /**
   * The wire error for the party that supplied the target: `IICP-E035` at register
   * (iicp-core.md §7) or `private_address` at `GET /v1/probe` (DIR-PROBE-01/02), both
   * 422; `liveness_failed` when the name did not resolve. Never echoes the address.
   */
  toProtocolError(code: 'IICP-E035' | 'private_address' = 'IICP-E035'): IicpProtocolError {
    if (this.reason === 'unresolvable') {
      return new IicpProtocolError('liveness_failed', 'endpoint host does not resolve');
    }
    return new IicpProtocolError(code, 'target is not publicly routable');
  }
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Name resolution, injectable so tests need no DNS. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) => {
  const all = await dnsLookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

export interface SsrfGuardOptions {
  /**
   * Skip every check (local development and tests only). The connect-to map still
   * applies. Mirrors the spec's `APP_ENV=local|testing` bypass of IICP-E035.
   */
  allowPrivate?: boolean;
  resolver?: Resolver;
}

export interface SsrfGuard {
  readonly allowPrivate: boolean;
  /** Check a host (name or IP literal) and return its checked addresses. */
  resolve(host: string): Promise<ResolvedAddress[]>;
  /** Throw unless the URL is http(s) and its host passes. */
  assertUrl(url: string | URL): Promise<ResolvedAddress[]>;
  /** A `net.connect` lookup that resolves, checks every address, and returns them. */
  readonly lookup: LookupFunction;
}

export function createSsrfGuard(opts: SsrfGuardOptions = {}): SsrfGuard {
  const allowPrivate = opts.allowPrivate === true;
  const resolver = opts.resolver ?? systemResolver;

  async function resolve(host: string): Promise<ResolvedAddress[]> {
    const h = normalizeHost(host);
    const literal = isIP(h);
    if (literal) {
      const why = allowPrivate ? undefined : nonPublicAddressReason(h);
      if (why) throw new SsrfBlockedError('private_address', h, why, h);
      return [{ address: h, family: literal === 6 ? 6 : 4 }];
    }
    if (!allowPrivate) {
      const why = reservedNameReason(h);
      if (why) throw new SsrfBlockedError('reserved_name', h, why);
    }
    let addrs: ResolvedAddress[];
    try {
      addrs = await resolver(h);
    } catch {
      throw new SsrfBlockedError('unresolvable', h, 'name does not resolve');
    }
    if (addrs.length === 0) throw new SsrfBlockedError('unresolvable', h, 'name does not resolve');
    if (!allowPrivate) {
      // Every answer, not just the first: the socket may pick any of them.
      for (const a of addrs) {
        const why = nonPublicAddressReason(a.address);
        if (why) throw new SsrfBlockedError('private_address', h, why, a.address);
      }
    }
    return addrs;
  }

  const lookup: LookupFunction = (hostname, options, callback) => {
    resolve(hostname).then(
      (addrs) => {
        const fam = typeof options === 'object' ? options.family : options;
        const want = fam === 4 || fam === 'IPv4' ? 4 : fam === 6 || fam === 'IPv6' ? 6 : 0;
        const usable = want === 0 ? addrs : addrs.filter((a) => a.family === want);
        const first = usable[0];
        if (!first) {
          const err = Object.assign(new Error(`no usable address for ${hostname}`), {
            code: 'ENOTFOUND',
          });
          callback(err as NodeJS.ErrnoException, '', 0);
          return;
        }
        if (typeof options === 'object' && options.all) {
          (callback as unknown as (e: null, a: ResolvedAddress[]) => void)(null, usable);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };

  async function assertUrl(url: string | URL): Promise<ResolvedAddress[]> {
    let u: URL;
    try {
      u = typeof url === 'string' ? new URL(url) : url;
    } catch {
      throw new SsrfBlockedError('reserved_name', String(url).slice(0, 64), 'not a URL');
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') {
      throw new SsrfBlockedError('reserved_name', u.host, `scheme ${u.protocol} not allowed`);
    }
    return resolve(u.hostname);
  }

  return { allowPrivate, resolve, assertUrl, lookup };
}

/** A `host:port` → `address:port` override map, like curl's `--connect-to`. */
export type ConnectToMap = Readonly<Record<string, string>>;

/** Split `host:port` / `[v6]:port` into parts; undefined when malformed. */
export function splitHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(s.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: normalizeHost(m[1] as string), port };
}
