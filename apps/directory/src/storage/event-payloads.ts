/**
 * What the directory's node events carry (iicp-federated-directory.md §5.4; D-038).
 * The REGISTER payload is the node's replicated state, built by one function from the
 * stored registration, so that replaying the log and projecting the live rows compare
 * the same thing. `node_id` is inside every signed payload (D-038, digest C11).
 */

/** A node's replicated state: what REGISTER carries and replay rebuilds. */
export interface NodeEventState {
  readonly node_id: string;
  readonly endpoint: string;
  readonly region: string;
  readonly cip_conformance_level: string;
  readonly cip_policy: unknown;
  readonly pricing: unknown;
  /** Discover-relevant fields only, replaced wholesale by replicas (§5.4 #438). */
  readonly capabilities: readonly {
    intent: string;
    models: readonly string[];
    max_tokens: number | null;
    input_modalities: readonly string[];
  }[];
  readonly transport_endpoint: string | null;
  readonly relay_endpoint: string | null;
  /** Node keys are public (gossip key, IICP-CX key); a change of either is a key change. */
  readonly public_key: unknown;
  readonly cx_public_key: unknown;
}

/** Why a REGISTER was emitted: first registration, refresh, refresh changing a node key, or import. */
export type RegisterKind = 'new' | 'refresh' | 'key_change' | 'import';

/** Why a node left: deregistration by its owner, or retention expiry of a dormant record (D-045). */
export type DeregisterReason = 'explicit' | 'expired';

interface NodeLike {
  readonly nodeId: string;
  readonly endpoint: string;
  readonly region: string;
  readonly record: Readonly<Record<string, unknown>>;
}

function orNull(v: unknown): unknown {
  return v === undefined ? null : JSON.parse(JSON.stringify(v));
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The replicated state of a stored (or about to be stored) node. */
export function nodeEventState(n: NodeLike): NodeEventState {
  const caps = Array.isArray(n.record['capabilities']) ? n.record['capabilities'] : [];
  return {
    node_id: n.nodeId,
    endpoint: n.endpoint,
    region: n.region,
    cip_conformance_level:
      typeof n.record['cip_conformance_level'] === 'string'
        ? n.record['cip_conformance_level']
        : 'CIP-None',
    cip_policy: orNull(n.record['cip_policy']),
    pricing: orNull(n.record['pricing']),
    capabilities: caps.map((c: Record<string, unknown>) => ({
      intent: String(c['intent']),
      models: strings(c['models']),
      max_tokens: typeof c['max_tokens'] === 'number' ? c['max_tokens'] : null,
      input_modalities:
        c['input_modalities'] === undefined ? ['text'] : strings(c['input_modalities']),
    })),
    transport_endpoint:
      typeof n.record['transport_endpoint'] === 'string' ? n.record['transport_endpoint'] : null,
    relay_endpoint:
      typeof n.record['relay_endpoint'] === 'string' ? n.record['relay_endpoint'] : null,
    public_key: orNull(n.record['public_key']),
    cx_public_key: orNull(n.record['cx_public_key']),
  };
}

/** REGISTER payload: the state plus why it was emitted. */
export function registerPayload(n: NodeLike, kind: RegisterKind): Record<string, unknown> {
  return { ...nodeEventState(n), kind };
}

/** Whether a refresh changes one of the node's public keys. */
export function keysChanged(
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
): boolean {
  const same = (k: string) =>
    JSON.stringify(before[k] ?? null) === JSON.stringify(after[k] ?? null);
  return !same('public_key') || !same('cx_public_key');
}

export function deregisterPayload(
  nodeId: string,
  endpoint: string,
  region: string,
  reason: DeregisterReason,
): Record<string, unknown> {
  return { node_id: nodeId, endpoint, region, reason };
}

/**
 * EVICT (local chain): active → dormant after 90 s without a heartbeat. `register_seq`
 * is the published REGISTER it follows, so replay can order the two chains per node.
 */
export function evictPayload(
  nodeId: string,
  lastSeenMs: number,
  dormantSinceMs: number,
  registerSeq: number | null,
): Record<string, unknown> {
  return {
    node_id: nodeId,
    reason: 'heartbeat_timeout',
    last_seen_ms: lastSeenMs,
    dormant_since_ms: dormantSinceMs,
    register_seq: registerSeq,
  };
}

/** REACTIVATE (local chain): a dormant node sent a valid heartbeat. */
export function reactivatePayload(
  nodeId: string,
  dormantSinceMs: number,
  nowMs: number,
  registerSeq: number | null,
): Record<string, unknown> {
  return {
    node_id: nodeId,
    dormant_since_ms: dormantSinceMs,
    dormancy_duration_seconds: Math.max(0, Math.floor((nowMs - dormantSinceMs) / 1000)),
    register_seq: registerSeq,
  };
}
