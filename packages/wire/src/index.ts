// @iicp/wire: the public API, as a curated list of named exports.

export {
  ERROR_TABLE,
  ErrorBodySchema,
  IicpLocalError,
  IicpProtocolError,
  errorInfo,
  isIicpProtocolError,
  isKnownErrorCode,
} from './errors.ts';
export type {
  ErrorBody,
  ErrorCode,
  ErrorCodeInfo,
  ErrorDetails,
  ErrorFamily,
  ErrorSide,
} from './errors.ts';
export { formatFieldPath, parseWire, safeParseWire, validationErrorFromZod } from './validate.ts';
export { replaceMembers, spreadReplaceMembers } from './objects.ts';
export type { WireParseResult } from './validate.ts';
export { INTENT_REGISTRY, activeIntents, getIntent, isRegisteredIntent } from './registry/index.ts';
export type { KnownIntentUrn } from './registry/index.ts';
export {
  INTENT_KINDS,
  INTENT_STATUSES,
  IntentKindSchema,
  IntentRegistryDocumentSchema,
  IntentRegistryEntrySchema,
  IntentStatusSchema,
} from './registry/entry.ts';
export type {
  IntentKind,
  IntentRegistryDocument,
  IntentRegistryEntry,
  IntentStatus,
} from './registry/entry.ts';
export {
  ACTIVE_PAYLOAD_SCHEMAS,
  ANY_JSON_OUTPUT_SCHEMA_NAME,
  AnyJsonOutputSchema,
  AudioSpeechInputSchema,
  AudioSpeechOutputSchema,
  AudioTranscribeInputSchema,
  AudioTranscribeOutputSchema,
  CHAT_ROLES,
  ChatMessageSchema,
  LlmChatInputSchema,
  LlmChatOutputSchema,
  LlmCompletionInputSchema,
  LlmCompletionOutputSchema,
  LlmEmbeddingInputSchema,
  LlmEmbeddingOutputSchema,
  OPEN_INPUT_SCHEMA_NAME,
  OpenInputSchema,
  SPEECH_FORMATS,
  SafetyModerateInputSchema,
  SafetyModerateOutputSchema,
  TRANSCRIBE_LANGUAGE_PATTERN,
  hasPayloadContract,
  parseIntentPayload,
  payloadSchemasFor,
  validateIntentPayload,
} from './registry/payloads.ts';
export type {
  AudioSpeechInput,
  AudioSpeechOutput,
  AudioTranscribeInput,
  AudioTranscribeOutput,
  ChatMessage,
  IntentPayloadCheck,
  LlmChatInput,
  LlmChatOutput,
  LlmCompletionInput,
  LlmCompletionOutput,
  LlmEmbeddingInput,
  LlmEmbeddingOutput,
  PayloadDirection,
  PayloadSchemaPair,
  SafetyModerateInput,
  SafetyModerateOutput,
} from './registry/payloads.ts';

// Primitives, constants and message schemas (wire-messages).
export {
  HexSchema,
  HhMmSchema,
  HttpUrlSchema,
  INTENT_URN_PATTERN,
  INTENT_URN_PREFIX,
  IntentUrnSchema,
  isIntentUrn,
  isUuidV4,
  MaxConcurrentSchema,
  NonNegativeIntSchema,
  parseIntentUrn,
  PositiveIntSchema,
  QosSchema,
  RegionSchema,
  TimeoutMsSchema,
  TimestampSchema,
  UnitIntervalSchema,
  UUID_V4_PATTERN,
  UuidSchema,
  UuidV4Schema,
} from './primitives.ts';
export type { IntentUrn, ParsedIntentUrn, Qos, Region, UuidV4 } from './primitives.ts';
export {
  BOOTSTRAP_DEFAULT_LIMIT,
  BOOTSTRAP_MAX_LIMIT,
  CONSENSUS_VALUES,
  CONSUMER_TOKEN_DOMAIN,
  CONSUMER_TOKEN_GRACE_S,
  CONSUMER_TOKEN_HEADER,
  CONSUMER_TOKEN_TTL_S,
  DISCOVER_CACHE_CONTROL,
  DISCOVER_DEFAULT_LIMIT,
  DISCOVER_MAX_LIMIT,
  DISPATCH_ROUTE_TICKET_AUDIENCE,
  DISPATCH_ROUTE_TICKET_DOMAIN,
  DISPATCH_ROUTE_TICKET_TYPE,
  EVENT_CHAIN_GENESIS_ROOT,
  HEARTBEAT_INTERVAL_MS,
  INTENT_URN_MAX_LENGTH,
  LIVENESS_WINDOW_MS,
  MAX_CONCURRENT_MAX,
  MAX_CONCURRENT_MIN,
  METRICS_BATCH_ID_MAX_LENGTH,
  MIN_DISCOVER_SCORE,
  MODALITY_VALUES,
  NATIVE_PORT,
  NODE_TOKEN_MIN_BYTES,
  PRIORITY_VALUES,
  QOS_VALUES,
  REGION_MAX_LENGTH,
  REPUTATION_INITIAL,
  REPUTATION_MODEL,
  TASK_STATUS_VALUES,
  TIMEOUT_MS_MAX,
  TIMEOUT_MS_MIN,
  TRACE_ID_HEADER,
} from './constants.ts';
export {
  CapabilityLimitSchema,
  CapabilityListSchema,
  CapabilitySchema,
  CipConformanceLevelSchema,
  CipPolicySchema,
  ModalitySchema,
  PricingSchema,
  PROVIDER_POLICY_DEFAULTS,
  ProviderPolicySchema,
} from './messages/capability.ts';
export type {
  Capability,
  CapabilityLimit,
  CipConformanceLevel,
  CipPolicy,
  Modality,
  Pricing,
  ProviderPolicy,
} from './messages/capability.ts';
export {
  AvailabilityWindowSchema,
  BACKEND_VALUES,
  CxPublicKeySchema,
  HealthLabelSchema,
  IMPLEMENTATION_NAME_PATTERN,
  IMPLEMENTATION_VERSION_PATTERN,
  NodePolicyManifestSchema,
  PolicyManifestSchema,
  PolicyManifestSignatureSchema,
  RecoveryActionSchema,
  RecoveryStateSchema,
  TransportCandidateSchema,
  TransportEndpointSchema,
  TransportMetadataSchema,
  TransportMethodSchema,
  WebRtcTransportSchema,
} from './messages/node-fields.ts';
export type {
  AvailabilityWindow,
  CxPublicKey,
  HealthLabel,
  NodePolicyManifest,
  PolicyManifest,
  RecoveryAction,
  RecoveryState,
  TransportCandidate,
  TransportMetadata,
  TransportMethod,
} from './messages/node-fields.ts';
export {
  OPERATOR_DELEGATION_SIGNED_FIELDS,
  OperatorDelegationSchema,
} from './messages/delegation.ts';
export type { OperatorDelegation } from './messages/delegation.ts';
export {
  DeregisterRequestSchema,
  DeregisterResponseSchema,
  RegisterAckSchema,
  RegisterLimitsSchema,
  RegisterRequestSchema,
} from './messages/register.ts';
export type {
  DeregisterRequest,
  DeregisterResponse,
  RegisterAck,
  RegisterLimits,
  RegisterRequest,
} from './messages/register.ts';
export {
  HeartbeatMetricsSchema,
  HeartbeatRequestSchema,
  HeartbeatResponseSchema,
  MetricsBatchIdSchema,
} from './messages/heartbeat.ts';
export type {
  HeartbeatMetrics,
  HeartbeatRequest,
  HeartbeatResponse,
} from './messages/heartbeat.ts';
export {
  AutoUpdateSchema,
  clampDiscoverLimit,
  DiscoverQuerySchema,
  DiscoverViewSchema,
  NodeListSchema,
  NodeSummarySchema,
  PUBLIC_VIEW_FORBIDDEN_FIELDS,
  PublicNodeListSchema,
  PublicNodeSummarySchema,
  QueryBooleanSchema,
  ReputationTierSchema,
} from './messages/discover.ts';
export type {
  DiscoverQuery,
  DiscoverView,
  NodeList,
  NodeSummary,
  PublicNodeList,
  PublicNodeSummary,
} from './messages/discover.ts';
export {
  HealthReachabilitySchema,
  NodeDetailSchema,
  NodeHealthSchema,
} from './messages/node-detail.ts';
export type { NodeDetail, NodeHealth } from './messages/node-detail.ts';
export { MeResponseSchema } from './messages/me.ts';
export type { MeResponse } from './messages/me.ts';
export {
  CreditScheduleSchema,
  MeshHealthSchema,
  SdkAdoptionSchema,
  StatsResponseSchema,
} from './messages/stats.ts';
export type { StatsResponse } from './messages/stats.ts';
export {
  BootstrapPeerSchema,
  BootstrapQuerySchema,
  BootstrapResponseSchema,
  PeerExchangeRequestSchema,
  PeerExchangeResponseSchema,
} from './messages/bootstrap.ts';
export type {
  BootstrapPeer,
  BootstrapQuery,
  BootstrapResponse,
  PeerExchangeRequest,
  PeerExchangeResponse,
} from './messages/bootstrap.ts';
export {
  CipBlockSchema,
  requireTaskAuth,
  TaskAuthSchema,
  TaskBillingSchema,
  TaskConstraintsSchema,
  TaskErrorSchema,
  TaskMetricsSchema,
  TaskPayloadSchema,
  TaskRequestSchema,
  TaskRequestWithBodyAuthSchema,
  TaskResponseSchema,
  TaskTraceSchema,
} from './messages/task.ts';
export type {
  CipBlock,
  TaskAuth,
  TaskBilling,
  TaskConstraints,
  TaskError,
  TaskMetrics,
  TaskRequest,
  TaskRequestWithBodyAuth,
  TaskResponse,
  TaskTrace,
} from './messages/task.ts';
export { HealthResponseSchema } from './messages/health.ts';
export type { HealthResponse } from './messages/health.ts';
export {
  ConsumerTokenClaimsSchema,
  ConsumerTokenRequestSchema,
  ConsumerTokenResponseSchema,
  DirectoryKeyResponseSchema,
  DISPATCH_TICKET_FORBIDDEN_KEYS,
  DispatchRouteTicketClaimsSchema,
  DispatchTicketRequestSchema,
  DispatchTicketResponseSchema,
} from './messages/tokens.ts';
export type {
  ConsumerTokenClaims,
  ConsumerTokenRequest,
  ConsumerTokenResponse,
  DirectoryKeyResponse,
  DispatchRouteTicketClaims,
  DispatchTicketRequest,
  DispatchTicketResponse,
} from './messages/tokens.ts';
export {
  DIRECTORY_EVENT_TYPES,
  DirectoryEventSchema,
  EventsQuerySchema,
  EventsResponseSchema,
} from './messages/events.ts';
export type {
  DirectoryEvent,
  DirectoryEventType,
  EventsQuery,
  EventsResponse,
} from './messages/events.ts';
export {
  EcosystemVersionTruthSchema,
  EvidenceStatusSchema,
  ReleaseCandidateEvidenceSchema,
  VersionTruthComponentSchema,
} from './messages/evidence.ts';
export type { EcosystemVersionTruth, ReleaseCandidateEvidence } from './messages/evidence.ts';
export {
  RELAY_INTENT,
  RELAY_MIN_REPUTATION,
  RELAY_PULL_MAX_WAIT_MS,
  RELAY_RESULT_STREAM_HEADERS,
  RELAY_SESSION_LIVENESS_MS,
  RelayBindRequestSchema,
  RelayBindResponseSchema,
  RelayCandidateSchema,
  RelayHeadersSchema,
  RelayPullQuerySchema,
  RelayPulledCallSchema,
  RelayRequestIdSchema,
  RelayResultRequestSchema,
  RelaySessionIdSchema,
  RelayTicketRequestSchema,
  RelayTicketResponseSchema,
  RelayUnbindRequestSchema,
  RelayWorkerIdSchema,
} from './messages/relay.ts';
export type {
  RelayBindRequest,
  RelayBindResponse,
  RelayCandidate,
  RelayHeaders,
  RelayPullQuery,
  RelayPulledCall,
  RelayResultRequest,
  RelayTicketRequest,
  RelayTicketResponse,
  RelayUnbindRequest,
} from './messages/relay.ts';
