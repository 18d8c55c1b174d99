/**
 * The worker side of the relay's long-poll transport (iicp-dir.md §7.1) and of the
 * directory's bind-ticket route (§7.4). The bodies are the project's formats of
 * spec/decisions.md D-044, shared with apps/relay through @iicp/wire.
 */
import { RelayPulledCallSchema as WireRelayPulledCallSchema } from '@iicp/wire';

export {
  RELAY_INTENT,
  RELAY_MIN_REPUTATION,
  RELAY_PULL_MAX_WAIT_MS,
  RELAY_RESULT_STREAM_HEADERS as RESULT_STREAM_HEADERS,
  RELAY_SESSION_LIVENESS_MS,
  RelayBindResponseSchema,
  RelayCandidateSchema,
  RelayTicketResponseSchema,
} from '@iicp/wire';
export type { RelayBindResponse, RelayCandidate, RelayTicketResponse } from '@iicp/wire';

/**
 * A pulled call as the worker accepts it: only the two routes a consumer may reach
 * through the relay (`POST /v1/task`, `GET /iicp/health`), whatever the relay sends.
 */
export const RelayPulledCallSchema = WireRelayPulledCallSchema.refine(
  (c) =>
    (c.method === 'POST' && /^\/v1\/task(\?.*)?$/.test(c.path)) ||
    (c.method === 'GET' && /^\/iicp\/health(\?.*)?$/.test(c.path)),
  { message: 'only POST /v1/task and GET /iicp/health are served through a relay', path: ['path'] },
);
export type RelayPulledCall = (typeof RelayPulledCallSchema)['_output'];
