/**
 * The worker transport's bodies live in @iicp/wire (`messages/relay.ts`), shared with
 * the node's relay-worker mode; this module keeps the relay's local names for them.
 */
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
