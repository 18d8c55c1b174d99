import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { DirectoryKey, issueRelayBindTicket } from '@iicp/crypto';
import { describe, expect, it } from 'vitest';
import { parseCli, USAGE } from '../src/config.ts';
import { serve } from '../src/main.ts';
import { ScriptedWorker, postJson, until } from './support/harness.ts';

describe('iicp-relay CLI', () => {
  it('has defaults: loopback, port 9485, tickets required', () => {
    const inv = parseCli(['serve'], {});
    expect(inv).toMatchObject({
      command: 'serve',
      options: { host: '127.0.0.1', port: 9485, requireTicket: true, logLevel: 'info' },
    });
  });

  it('takes flags over IICP_RELAY_* env', () => {
    const env = {
      IICP_RELAY_PORT: '7000',
      IICP_RELAY_HOST: '0.0.0.0',
      IICP_RELAY_DIRECTORY_URL: 'https://dir.example.org/',
      IICP_RELAY_PUBLIC_ENDPOINT: 'https://relay.example.org',
      IICP_RELAY_LOG_LEVEL: 'warn',
      IICP_RELAY_REQUIRE_TICKET: 'false',
    };
    const inv = parseCli(['--port', '7001', '--log-level', 'debug'], env);
    expect(inv).toMatchObject({
      command: 'serve',
      options: {
        port: 7001,
        host: '0.0.0.0',
        directoryUrl: 'https://dir.example.org',
        publicEndpoint: 'https://relay.example.org',
        logLevel: 'debug',
        requireTicket: false,
      },
    });
  });

  it('has a development-only --no-require-ticket', () => {
    const inv = parseCli(['serve', '--no-require-ticket'], {});
    expect(inv.command === 'serve' && inv.options.requireTicket).toBe(false);
  });

  it('answers --help and refuses bad input', () => {
    expect(parseCli(['--help'], {})).toEqual({ command: 'help' });
    expect(USAGE).toContain('--public-endpoint');
    expect(USAGE).toContain('--no-require-ticket');
    expect(() => parseCli(['--port', '70000'], {})).toThrow(/port/);
    expect(() => parseCli(['--log-level', 'loud'], {})).toThrow(/log-level/);
    expect(() => parseCli(['--directory-url', 'ftp://x'], {})).toThrow(/directory-url/);
    expect(() => parseCli(['--directory-key', 'abc'], {})).toThrow(/directory-key/);
    expect(() => parseCli(['frobnicate'], {})).toThrow(/unknown command/);
    expect(() => parseCli(['--bogus'], {})).toThrow();
  });

  it('serve prints one start-up line and shuts down gracefully on a signal', async () => {
    const key = DirectoryKey.generate();
    const lines: string[] = [];
    const source = new EventEmitter();
    const codes: number[] = [];
    const r = await serve(
      {
        host: '127.0.0.1',
        port: 0,
        logLevel: 'silent',
        directoryPublicKey: key.publicKeyHex,
      },
      (l) => lines.push(l),
      { source, exit: (c) => codes.push(c) },
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^iicp-relay listening on http:\/\/127\.0\.0\.1:\d+ /);
    expect(lines[0]).toContain('bind-tickets=required');
    const id = randomUUID();
    const w = new ScriptedWorker(r.url, id);
    const ticket = issueRelayBindTicket({ signer: key, issuer: 'd', nodeId: id }).ticket;
    expect((await w.bind(ticket)).status).toBe(201);
    const consumer = postJson(`${r.url}/v1/relay-for/${id}/v1/task`, { n: 1 });
    await until(() => r.app.relay.hub.queuedCalls === 1);
    source.emit('SIGTERM', 'SIGTERM');
    const res = await consumer;
    expect(res.status).toBe(503);
    await until(() => codes.length > 0);
    expect(codes).toEqual([0]);
  });
});
