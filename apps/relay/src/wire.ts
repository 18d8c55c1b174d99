/**
 * The worker transport's bodies live in @iicp/wire (`messages/relay.ts`), shared with
 * the node's relay-worker mode; this module keeps the relay's local names for them.
 */
import { RELAY_PULL_MAX_WAIT_MS } from '@iicp/wire';
import { z } from 'zod';

/**
 * `POST /v1/relay/result` query. `next_wait_ms` (issue 11, an addition to D-044): after
 * a whole result, hold this reply as a pull of up to that long, so the worker's next
 * call comes back in it (200 with the call, 204 when none came). Without it the reply
 * is 204 at once, as before; relays that predate it ignore it and answer 204.
 */
export const RelayResultQuerySchema = z.looseObject({
  next_wait_ms: z.coerce.number().int().min(0).max(RELAY_PULL_MAX_WAIT_MS).optional(),
});
export type RelayResultQuery = z.infer<typeof RelayResultQuerySchema>;

export {
  RELAY_RESULT_STREAM_HEADERS as RESULT_STREAM_HEADERS,
  RelayBindRequestSchema,
  RelayBindResponseSchema,
  RelayHeadersSchema,
  RelayPullQuerySchema,
  RelayPulledCallSchema,
  RelayRequestIdSchema as RequestIdSchema,
  RelayResultRequestSchema,
  RelaySessionIdSchema as SessionIdSchema,
  RelayUnbindRequestSchema,
  RelayWorkerIdSchema as WorkerIdSchema,
} from '@iicp/wire';
export type {
  RelayBindRequest,
  RelayBindResponse,
  RelayHeaders,
  RelayPullQuery,
  RelayPulledCall,
  RelayResultRequest,
  RelayUnbindRequest,
} from '@iicp/wire';
