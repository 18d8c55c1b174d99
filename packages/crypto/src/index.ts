// @iicp/crypto: see README.md. The public API is a curated list of named exports.

export {
  ED25519_PUBLIC_KEY_LENGTH,
  ED25519_SECRET_KEY_LENGTH,
  ED25519_SIGNATURE_LENGTH,
  ed25519KeyPairFromSeed,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  generateEd25519KeyPair,
  isValidEd25519PublicKey,
} from './ed25519.ts';
export type { Ed25519KeyPair } from './ed25519.ts';

export { DirectoryKey, loadDirectoryKeyFile, writeDirectoryKeyFile } from './directory-key.ts';
export type { Ed25519PublicJwk, Ed25519Signer } from './directory-key.ts';

export {
  fromBase64Strict,
  fromBase64UrlStrict,
  fromHexStrict,
  toBase64,
  toBase64Url,
  toHex,
} from './encoding.ts';

export { MAX_COMPACT_TOKEN_LENGTH, systemClock } from './signed-token.ts';
export type { UnixClock } from './signed-token.ts';

export {
  CONSUMER_TOKEN_ANY_INTENT,
  issueConsumerToken,
  verifyConsumerToken,
} from './consumer-token.ts';
export type {
  ConsumerTokenFailure,
  ConsumerTokenResult,
  IssueConsumerTokenOptions,
  IssuedConsumerToken,
  VerifyConsumerTokenOptions,
} from './consumer-token.ts';

export {
  DISPATCH_ROUTE_TICKET_DEFAULT_TTL_SECONDS,
  TICKET_ID_PREFIX_LENGTH,
  issueDispatchRouteTicket,
  verifyDispatchRouteTicket,
} from './route-ticket.ts';
export type {
  DispatchRouteTicketFailure,
  DispatchRouteTicketResult,
  IssueDispatchRouteTicketOptions,
  IssuedDispatchRouteTicket,
  VerifyDispatchRouteTicketOptions,
} from './route-ticket.ts';

export {
  RELAY_BIND_TICKET_AUDIENCE,
  RELAY_BIND_TICKET_DOMAIN,
  RELAY_BIND_TICKET_TTL_SECONDS,
  RELAY_BIND_TICKET_TYPE,
  issueRelayBindTicket,
  verifyRelayBindTicket,
} from './relay-ticket.ts';
export type {
  IssueRelayBindTicketOptions,
  RelayBindTicketClaims,
  RelayBindTicketFailure,
  RelayBindTicketResult,
  VerifyRelayBindTicketOptions,
} from './relay-ticket.ts';

export {
  GENESIS_ROOT,
  GENESIS_ROOT_PREIMAGE,
  appendChainedEvent,
  chainPrevHash,
  eventPayloadHash,
  eventSigningMessage,
  signChainedEvent,
  verifyEventChain,
  verifyFederatedEventChain,
} from './event-chain.ts';
export type {
  ChainFailure,
  ChainHead,
  ChainVerifyResult,
  ChainedEvent,
  FederatedChainFailure,
  FederatedChainResult,
  ReplicaAuthorization,
  UnsignedChainedEvent,
  VerifyChainOptions,
  VerifyFederatedChainOptions,
} from './event-chain.ts';

export {
  operatorDelegationSigningInput,
  signOperatorDelegation,
  verifyOperatorDelegation,
} from './operator-delegation.ts';
export type {
  OperatorDelegationFailure,
  OperatorDelegationFields,
  OperatorDelegationResult,
  SignedOperatorDelegation,
  VerifyOperatorDelegationOptions,
} from './operator-delegation.ts';

export {
  EMPTY_RESPONSE_HASH,
  challengeResponse,
  computeResponseHash,
  generateReceiptNonce,
  hmacSha256Hex,
  receiptCanonicalMessage,
  signReceipt,
  verifyChallengeResponse,
  verifyReceipt,
} from './receipt.ts';
export type {
  ReceiptFailure,
  ReceiptSignedFields,
  ReceiptVerifyResult,
  VerifyReceiptOptions,
} from './receipt.ts';

export {
  DEFAULT_BCRYPT_COST,
  NODE_TOKEN_BYTES,
  NodeTokenCache,
  constantTimeEqual,
  generateNodeToken,
  hashNodeToken,
  nodeTokenFingerprint,
  verifyNodeToken,
  verifyNodeTokenHash,
} from './node-token.ts';
export type { NodeTokenCacheOptions } from './node-token.ts';

export {
  DEPLOYMENT_RECORD_PURPOSE,
  DEPLOYMENT_RECORD_SCHEMA,
  DEPLOYMENT_RECORD_SIGNING_PREFIX,
  deploymentRecordSigningInput,
  signDeploymentRecord,
  verifyDeploymentRecord,
} from './provenance.ts';
export type {
  DeploymentRecord,
  DeploymentRecordFailure,
  DeploymentRecordResult,
  UnsignedDeploymentRecord,
  VerifyDeploymentRecordOptions,
} from './provenance.ts';

export {
  CX_ENVELOPE_VERSION,
  CX_HKDF_INFO_PREFIX,
  CX_KEY_BYTES,
  CX_KEY_MAX_LIFETIME_SECONDS,
  CX_NONCE_BYTES,
  cxAad,
  cxKeyId,
  cxKeyPairFromPrivateKey,
  cxPublicKeyAdvertisement,
  generateCxKeyPair,
  openCx,
  parseCxPublicKey,
  sealCx,
} from './cx.ts';
export type {
  CxErrorModel,
  CxKeyPair,
  IicpConfEnvelope,
  OpenCxOptions,
  SealCxOptions,
} from './cx.ts';
