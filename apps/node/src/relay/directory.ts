/**
 * The directory calls relay-worker mode adds (iicp-dir.md §7.4, §3.1, §3.4): bind
 * tickets, discovery of relays, and REGISTER carrying the relay route while bound.
 */
import { createHttpClient, type HttpClient } from '@iicp/http';
import {
  IicpProtocolError,
  safeParseWire,
  type RegisterAck,
  type RegisterRequest,
} from '@iicp/wire';
import { z } from 'zod';
import { DirectoryClient } from '../directory/client.ts';
import {
  RELAY_INTENT,
  RelayCandidateSchema,
  RelayTicketResponseSchema,
  type RelayCandidate,
} from './wire.ts';

/** What a ticket request came to. */
export type TicketOutcome =
  | { readonly ticket: string }
  /**
   * `unsupported`: the directory has no ticket route (404/405/501); `unauthorized`:
   * it refused the node token; `failed`: anything else (network, 5xx, bad body).
   */
  | { readonly ticket?: undefined; readonly reason: 'unsupported' | 'unauthorized' | 'failed' };

/** The relay route a bound node registers (§3.1 ADR-041 fields; D-044). */
export interface RelayRoute {
  /** `{relay}/v1/relay-for/{node_id}`. */
  readonly endpoint: string;
}

const NodeListSchema = z.looseObject({ nodes: z.array(z.unknown()) });

/** Directory client for a node that may serve through a relay. */
export class RelayDirectoryClient extends DirectoryClient {
  readonly #http: HttpClient;
  #route: RelayRoute | undefined;

  constructor(baseUrl: string, opts: { timeoutMs?: number } = {}) {
    const http = createHttpClient({
      timeoutMs: opts.timeoutMs ?? 10_000,
      headers: { 'x-iicp-version': '1.5' },
    });
    super(baseUrl, { http });
    this.#http = http;
  }

  /** The route registered from now on; undefined: the node's own endpoint. */
  get route(): RelayRoute | undefined {
    return this.#route;
  }
  set route(r: RelayRoute | undefined) {
    this.#route = r;
  }

  /**
   * REGISTER; while bound to a relay the endpoint is the relay-for URL (so the
   * directory's liveness probe goes through the relay, D-044) and the transport fields
   * say so: `transport_method: "turn_relay"` with `relay_endpoint` (§3.1), and
   * `exposure_mode: null` because the node has not run an ADR-043 qualification — it
   * only knows that its own endpoint is not reachable.
   */
  override register(req: RegisterRequest): Promise<RegisterAck> {
    const r = this.#route;
    if (!r) return super.register(req);
    return super.register({
      ...req,
      endpoint: r.endpoint,
      transport_method: 'turn_relay',
      relay_endpoint: r.endpoint,
      transport_endpoint: null,
      exposure_mode: null,
    });
  }

  /** `POST /api/v1/relay/ticket` (Bearer node_token, `{node_id}`) → a bind ticket (§7.4). */
  async relayTicket(nodeId: string, nodeToken: string): Promise<TicketOutcome> {
    let res;
    try {
      res = await this.#http.request({
        url: `${this.baseUrl}/api/v1/relay/ticket`,
        method: 'POST',
        body: { node_id: nodeId },
        headers: { authorization: `Bearer ${nodeToken}` },
        throwOnHttpError: false,
      });
    } catch {
      return { reason: 'failed' };
    }
    if (res.status === 404 || res.status === 405 || res.status === 501)
      return { reason: 'unsupported' };
    if (res.status === 401 || res.status === 403) return { reason: 'unauthorized' };
    if (res.status < 200 || res.status >= 300) return { reason: 'failed' };
    const parsed = safeParseWire(RelayTicketResponseSchema, res.body);
    return parsed.ok ? { ticket: parsed.value.ticket } : { reason: 'failed' };
  }

  /** Relays the directory lists (`discover` for the relay intent, D-044); bad entries dropped. */
  async discoverRelays(): Promise<RelayCandidate[]> {
    const res = await this.#http.request({
      url: `${this.baseUrl}/api/v1/discover?intent=${encodeURIComponent(RELAY_INTENT)}&limit=50`,
    });
    const list = safeParseWire(NodeListSchema, res.body);
    if (!list.ok)
      throw new IicpProtocolError('backend_error', 'the directory answered discover without nodes');
    const out: RelayCandidate[] = [];
    for (const n of list.value.nodes) {
      const c = RelayCandidateSchema.safeParse(n);
      if (c.success) out.push(c.data);
    }
    return out;
  }

  override async close(): Promise<void> {
    await super.close();
    await this.#http.close();
  }
}
