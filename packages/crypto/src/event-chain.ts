/**
 * The directory's signed, hash-chained event log (iicp-federated-directory.md §5.1,
 * DIR-FED-01; digest-directory.md §4):
 *
 *   ph        = sha256_hex(sorted_compact_json(payload))
 *   sig       = hex(Ed25519(key, SHA256(`${event_id}:${event_type}:${seq}:${ts_ms}:${ph}:${prev_hash}`)))
 *   prev_hash = sha256_hex(ASCII(previous.sig))  |  GENESIS_ROOT for the first signed event
 *
 * Chaining on the predecessor's hex signature keeps `prev_hash` reproducible from the
 * wire in every language. iicp-dir.md §3.7 describes an older form (no separators, no
 * prev_hash, base64url); S.13 and the federation-chain-v0 vector win (digest C7).
 */
import { canonicalJsonSortedCompact } from '@iicp/codec';
import { sha256 } from '@noble/hashes/sha2.js';
import { EVENT_CHAIN_GENESIS_ROOT } from '@iicp/wire';
import type { Ed25519Signer } from './directory-key.ts';
import { ed25519Verify } from './ed25519.ts';
import { fromHexStrict, isLowerHex, toHex, utf8 } from './encoding.ts';

/** `SHA256_hex("iicp:dir:event-log:genesis:v1")` (iicp-federated-directory.md §5.1). */
export const GENESIS_ROOT: string = EVENT_CHAIN_GENESIS_ROOT;
/** The preimage of {@link GENESIS_ROOT}. */
export const GENESIS_ROOT_PREIMAGE = 'iicp:dir:event-log:genesis:v1';

/** The members of an event that the chain covers; other members pass through unsigned. */
export interface ChainedEvent {
  readonly event_id: string;
  readonly event_type: string;
  readonly seq: number;
  readonly ts_ms: number;
  readonly payload: unknown;
  /** `null` (or absent) only in the legacy un-chained prefix. */
  readonly prev_hash?: string | null;
  /** 128 lowercase hex. */
  readonly sig: string;
  readonly signer_did?: string;
}

export type UnsignedChainedEvent = Omit<ChainedEvent, 'sig' | 'prev_hash'>;

/**
 * sha256 hex of the sorted compact JSON of the payload. §5.1 names RFC 8785; the
 * vector was made with sorted, compact, UTF-8-unescaped JSON, and spec/decisions.md
 * D-035 follows the vector. The two agree for the integers and strings the directory
 * signs (D-035 keeps signed numbers integral).
 */
export function eventPayloadHash(payload: unknown): string {
  return toHex(sha256(utf8(canonicalJsonSortedCompact(payload))));
}

/** The colon-joined message whose SHA-256 is signed. */
export function eventSigningMessage(
  e: UnsignedChainedEvent & { readonly prev_hash: string },
): string {
  return `${e.event_id}:${e.event_type}:${e.seq}:${e.ts_ms}:${eventPayloadHash(e.payload)}:${e.prev_hash}`;
}

/** `prev_hash` of the event after one signed with `previousSig` (or the first one). */
export function chainPrevHash(previousSig: string | null): string {
  return previousSig === null ? GENESIS_ROOT : toHex(sha256(utf8(previousSig)));
}

function checkIntegers(e: UnsignedChainedEvent): void {
  if (!Number.isSafeInteger(e.seq) || e.seq < 0)
    throw new RangeError('seq must be a non-negative integer');
  if (!Number.isSafeInteger(e.ts_ms) || e.ts_ms < 0)
    throw new RangeError('ts_ms must be a non-negative integer');
  if (e.event_id.includes(':') || e.event_type.includes(':')) {
    // A colon would make the joined message ambiguous.
    throw new RangeError('event_id and event_type must not contain ":"');
  }
}

/** Sign one event at a given chain position. */
export function signChainedEvent<E extends UnsignedChainedEvent>(
  event: E,
  prevHash: string,
  signer: Ed25519Signer,
): E & { prev_hash: string; sig: string } {
  checkIntegers(event);
  if (!isLowerHex(prevHash, 32)) throw new RangeError('prev_hash must be 64 lowercase hex');
  const digest = sha256(utf8(eventSigningMessage({ ...event, prev_hash: prevHash })));
  return { ...event, prev_hash: prevHash, sig: toHex(signer.sign(digest)) };
}

/** The last signed event of a chain: what the next append links to. */
export interface ChainHead {
  readonly seq: number;
  readonly sig: string;
}

/**
 * Append: sign `event` as the successor of `head` (`null` for an empty log). The
 * caller persists the result and its new head atomically (a database transaction in
 * the directory), so two writers cannot fork the chain.
 */
export function appendChainedEvent<E extends UnsignedChainedEvent>(
  head: ChainHead | null,
  event: E,
  signer: Ed25519Signer,
): E & { prev_hash: string; sig: string } {
  if (head !== null && !(event.seq > head.seq)) {
    throw new RangeError(`seq ${event.seq} must be greater than the head seq ${head.seq}`);
  }
  return signChainedEvent(event, chainPrevHash(head?.sig ?? null), signer);
}

/** Why a chain was refused; the federation-chain-v0 vector spells these `reject_<reason>`. */
export type ChainFailure = 'malformed' | 'signature' | 'chain_link' | 'sequence';

export type ChainVerifyResult =
  | { readonly ok: true; readonly head: ChainHead | null; readonly verified: number }
  | { readonly ok: false; readonly reason: ChainFailure; readonly index: number };

export interface VerifyChainOptions {
  /** The directory (genesis seed) public key. */
  readonly publicKey: Uint8Array;
  /**
   * Where the given events continue from: the head already verified (a replica
   * resuming after a snapshot), or `null` (default) to start at {@link GENESIS_ROOT}.
   */
  readonly after?: ChainHead | null;
  /**
   * Skip leading events whose `prev_hash` is null: the legacy un-chained prefix of
   * §5.1 "Back-compat". Off by default; such events are not verified at all.
   */
  readonly allowLegacyPrefix?: boolean;
}

/**
 * Verify events in the order given (ascending `seq`): each `prev_hash` must equal the
 * hash of its predecessor's signature, each signature must verify, and `seq` must
 * strictly increase. Stops at the first failure and says which event.
 */
export function verifyEventChain(
  events: readonly ChainedEvent[],
  opts: VerifyChainOptions,
): ChainVerifyResult {
  let head: ChainHead | null = opts.after ?? null;
  let lastSeq = head?.seq ?? -1;
  let chained = head !== null;
  let verified = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (
      e === null ||
      typeof e !== 'object' ||
      typeof e.event_id !== 'string' ||
      typeof e.event_type !== 'string' ||
      !Number.isSafeInteger(e.seq) ||
      e.seq < 0 ||
      !Number.isSafeInteger(e.ts_ms) ||
      e.ts_ms < 0 ||
      typeof e.sig !== 'string' ||
      e.payload === undefined
    ) {
      return { ok: false, reason: 'malformed', index: i };
    }
    if (!(e.seq > lastSeq)) return { ok: false, reason: 'sequence', index: i };
    lastSeq = e.seq;
    if (e.prev_hash === null || e.prev_hash === undefined) {
      if (opts.allowLegacyPrefix === true && !chained) continue;
      return { ok: false, reason: 'chain_link', index: i };
    }
    if (typeof e.prev_hash !== 'string' || e.prev_hash !== chainPrevHash(head?.sig ?? null)) {
      return { ok: false, reason: 'chain_link', index: i };
    }
    const sig = fromHexStrict(e.sig, 64);
    if (!sig) return { ok: false, reason: 'signature', index: i };
    let digest: Uint8Array;
    try {
      digest = sha256(utf8(eventSigningMessage({ ...e, prev_hash: e.prev_hash })));
    } catch {
      // The payload has no canonical JSON form (e.g. a non-finite number).
      return { ok: false, reason: 'malformed', index: i };
    }
    if (!ed25519Verify(sig, digest, opts.publicKey)) {
      return { ok: false, reason: 'signature', index: i };
    }
    head = { seq: e.seq, sig: e.sig };
    chained = true;
    verified++;
  }
  return { ok: true, head, verified };
}

/**
 * Replica authorization states of spec/v1.9/replica-lifecycle-contract-v1.json; every
 * state but `active` is refused ("persistent_auth_rejections").
 */
export type ReplicaAuthorization = 'active' | 'expired' | 'dormant' | 'archived' | 'decommissioned';

export type FederatedChainFailure =
  ChainFailure | 'untrusted_root' | 'replica_authorization' | 'replica_authorization_expired';

export type FederatedChainResult =
  | { readonly ok: true; readonly head: ChainHead | null; readonly verified: number }
  | { readonly ok: false; readonly reason: FederatedChainFailure; readonly index?: number };

export interface VerifyFederatedChainOptions {
  /** Which genesis root (signing key) the stream claims. */
  readonly rootId: string;
  /** Root id → Ed25519 public key (32 bytes, or 64 hex). */
  readonly trustedRoots: Readonly<Record<string, Uint8Array | string>>;
  /** State of the replica that served the stream. */
  readonly replicaAuthorization: ReplicaAuthorization | string;
  readonly after?: ChainHead | null;
  readonly allowLegacyPrefix?: boolean;
}

/**
 * What a replica or light client checks before applying a federated event stream: the
 * root is one it trusts, the serving replica is still authorized, then the chain.
 */
export function verifyFederatedEventChain(
  events: readonly ChainedEvent[],
  opts: VerifyFederatedChainOptions,
): FederatedChainResult {
  const root = Object.hasOwn(opts.trustedRoots, opts.rootId)
    ? opts.trustedRoots[opts.rootId]
    : undefined;
  const publicKey = typeof root === 'string' ? fromHexStrict(root.toLowerCase(), 32) : root;
  if (!publicKey) return { ok: false, reason: 'untrusted_root' };
  if (opts.replicaAuthorization === 'expired') {
    return { ok: false, reason: 'replica_authorization_expired' };
  }
  if (opts.replicaAuthorization !== 'active') return { ok: false, reason: 'replica_authorization' };
  return verifyEventChain(events, {
    publicKey,
    after: opts.after ?? null,
    allowLegacyPrefix: opts.allowLegacyPrefix ?? false,
  });
}
