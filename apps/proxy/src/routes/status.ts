import { LLM_CHAT_INTENT, type ClientOptions } from '@iicp/client';
import type { IicpFastifyInstance } from '@iicp/http';
import { MeResponseSchema } from '@iicp/wire';
import type { Gateway } from '../gateway.ts';

/** How long `/status` waits for the directory. */
export const STATUS_PROBE_TIMEOUT_MS = 2_000;

export interface StatusDeps {
  readonly gateway: Gateway;
  readonly clientOptions: ClientOptions;
  readonly version: string;
  readonly now: () => number;
  readonly startedAt: number;
}

async function probe(
  f: typeof fetch,
  url: string,
  headers: Record<string, string> = {},
): Promise<Response | undefined> {
  try {
    return await f(url, {
      headers: { accept: 'application/json', ...headers },
      signal: AbortSignal.timeout(STATUS_PROBE_TIMEOUT_MS),
    });
  } catch {
    return undefined;
  }
}

/**
 * `GET /status`: directory reachability (a live discover probe), the last discovery and
 * the last routed request, circuit breaker states from the client, and — only when the
 * proxy has a node identity — the source IP the directory observes for it
 * (iicp-core.md §11.2 via `GET /v1/me`, DIR-ADDR-04). Never payloads or credentials.
 */
export function statusRoutes(deps: StatusDeps) {
  return async (app: IicpFastifyInstance): Promise<void> => {
    app.get('/status', async () => {
      const o = deps.clientOptions;
      const f = o.fetch ?? globalThis.fetch;
      const dir = o.directoryUrl.replace(/\/+$/, '');
      const t0 = deps.now();
      const res = await probe(
        f,
        `${dir}/v1/discover?intent=${encodeURIComponent(LLM_CHAT_INTENT)}&limit=1`,
      );
      await res?.body?.cancel().catch(() => undefined);
      const directory = {
        url: dir,
        reachable: res !== undefined && res.status < 500,
        ...(res ? { status: res.status } : {}),
        checked_at: new Date(t0).toISOString(),
        probe_ms: Math.max(0, deps.now() - t0),
      };
      let observed: { observed_source_ip?: string | null } = {};
      if (o.identity) {
        const me = await probe(f, `${dir}/v1/me`, {
          authorization: `Bearer ${o.identity.nodeToken}`,
        });
        let ip: string | null = null;
        if (me?.ok) {
          const parsed = MeResponseSchema.safeParse(await me.json().catch(() => undefined));
          if (parsed.success) ip = parsed.data.observed_source_ip;
        } else {
          await me?.body?.cancel().catch(() => undefined);
        }
        observed = { observed_source_ip: ip };
      }
      return {
        service: 'iicp-proxy',
        version: deps.version,
        uptime_s: Math.floor((deps.now() - deps.startedAt) / 1000),
        directory,
        last_discover: deps.gateway.lastDiscover ?? null,
        last_route: deps.gateway.lastRoute ?? null,
        breakers: deps.gateway.client.breakerStates(),
        stats: deps.gateway.client.stats(),
        routing: {
          profile: o.routingProfile ?? 'standard',
          dispatch: o.dispatch ?? 'discover',
          ...(o.region ? { region: o.region } : {}),
          ...(o.qos ? { qos: o.qos } : {}),
        },
        ...observed,
      };
    });
  };
}
