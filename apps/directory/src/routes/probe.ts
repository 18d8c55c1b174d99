/**
 * `GET /probe?host=&port=` (iicp-dir.md §3.11; conformance-test-suite.md §3.3e,
 * DIR-PROBE-01/02): can the directory open a TCP connection to a public `host:port`?
 * SSRF-guarded: loopback, private, link-local and reserved names are 422
 * `private_address` before any packet is sent, and the connection goes to the address
 * that was checked (no second lookup a rebinding DNS could answer differently).
 *
 * Decision: the guard here is strict even under `--allow-private-endpoints`. That flag
 * lets nodes on a private network register; it must not turn a public route into a
 * scanner of the directory's own network. Tests reach a local listener through
 * `--probe-connect-to`, as the liveness probe does.
 */
import { connect } from 'node:net';
import { createSsrfGuard, SsrfBlockedError, splitHostPort, normalizeHost } from '@iicp/http';
import { IicpProtocolError, parseWire } from '@iicp/wire';
import { z } from 'zod';
import type { FastifyInstance, FastifyReply, FastifyRequest } from '@iicp/http';
import { clientIp, type DirectoryContext } from '../context.ts';
import { enforceLimit } from './trust-common.ts';

/** Outbound connects per source IP per minute: the route makes the directory dial out. */
export const PROBE_RATE_LIMIT = 30;
/** Same budget as the registration liveness probe (5 s). */
export const PROBE_TIMEOUT_MS = 5_000;

export const ProbeQuerySchema = z.looseObject({
  host: z.string().min(1).max(253),
  port: z.preprocess(
    (v) => (typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : v),
    z.int().min(1).max(65535),
  ),
});

export interface ProbeResult {
  readonly host: string;
  readonly port: number;
  readonly reachable: boolean;
  readonly latency_ms: number | null;
  /** Why not reachable: `connect_failed`, `timeout` or `unresolvable`; null when reachable. */
  readonly reason: 'connect_failed' | 'timeout' | 'unresolvable' | null;
  readonly checked_at: string;
}

const strictGuard = createSsrfGuard({ allowPrivate: false });

function tcpConnect(address: string, port: number): Promise<ProbeResult['reason'] | number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = connect({ host: address, port });
    const done = (r: ProbeResult['reason'] | number) => {
      sock.destroy();
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => done('timeout'), PROBE_TIMEOUT_MS);
    sock.once('connect', () => done(Math.round((performance.now() - t0) * 100) / 100));
    sock.once('error', () => done('connect_failed'));
  });
}

/** The `--probe-connect-to` target for `host:port`, if the operator mapped it (tests). */
function mapped(
  ctx: DirectoryContext,
  host: string,
  port: number,
): { host: string; port: number } | undefined {
  for (const [from, to] of Object.entries(ctx.config.probeConnectTo)) {
    const f = splitHostPort(from);
    if (f && f.host === host && f.port === port) return splitHostPort(to);
  }
  return undefined;
}

async function probe(
  ctx: DirectoryContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<ProbeResult> {
  await enforceLimit(
    ctx,
    reply,
    `probe:${clientIp(ctx, req)}`,
    PROBE_RATE_LIMIT,
    60_000,
    'probe requests',
  );
  const q = parseWire(ProbeQuerySchema, req.query);
  const host = normalizeHost(q.host);
  const base = { host, port: q.port, checked_at: new Date(ctx.now()).toISOString() };
  let target = mapped(ctx, host, q.port);
  if (!target) {
    try {
      const addrs = await strictGuard.resolve(host);
      target = { host: addrs[0]!.address, port: q.port };
    } catch (e) {
      if (e instanceof SsrfBlockedError) {
        if (e.reason === 'unresolvable') {
          return { ...base, reachable: false, latency_ms: null, reason: 'unresolvable' };
        }
        const err = e.toProtocolError('private_address');
        throw new IicpProtocolError(err.code, err.message, {
          status: 422,
          details: { field: 'host' },
        });
      }
      throw e;
    }
  }
  const r = await tcpConnect(target.host, target.port);
  void reply.header('cache-control', 'no-store');
  return typeof r === 'number'
    ? { ...base, reachable: true, latency_ms: r, reason: null }
    : { ...base, reachable: false, latency_ms: null, reason: r };
}

export function probeRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  app.get('/probe', (req, reply) => probe(ctx, req, reply));
}
