/**
 * Wire views of a stored node: the route-dispatch NODELIST entry and the public
 * presentation (iicp-dir.md §3.4), and the reputation tier both carry.
 */
import { REPUTATION_MODEL } from '@iicp/wire';
import { capabilitiesOf, maxConcurrentOf } from './context.ts';
import type { StoredNode } from './storage/node-store.ts';

function union(lists: (readonly string[] | undefined)[]): string[] {
  const s = new Set<string>();
  for (const l of lists) for (const x of l ?? []) s.add(x);
  return [...s];
}

function pick(n: StoredNode, key: string): unknown {
  const v = n.record[key];
  return v === undefined ? null : v;
}

/** Route-dispatch node view (iicp-dir.md §3.4 NODELIST entry). */
export function dispatchView(n: StoredNode, score: number, now: number): Record<string, unknown> {
  const caps = capabilitiesOf(n);
  const modalities = union(caps.map((c) => c.input_modalities ?? ['text']));
  const cx = pick(n, 'cx_public_key');
  return {
    node_id: n.nodeId,
    endpoint: n.endpoint,
    transport_endpoint: pick(n, 'transport_endpoint'),
    transport_method: pick(n, 'transport_method'),
    transport_candidates: pick(n, 'transport_candidates'),
    relay_endpoint: pick(n, 'relay_endpoint'),
    transport_metadata: pick(n, 'transport_metadata'),
    nat_type: pick(n, 'nat_type'),
    address_family: pick(n, 'address_family'),
    relay_capable: n.record['relay_capable'] === true,
    reachability_tier: 'direct',
    route_evidence: 'directory_observed',
    region: n.region,
    score: round4(score),
    available: n.available && n.status === 'active',
    load: n.load,
    active_jobs: n.activeJobs,
    max_concurrent: maxConcurrentOf(n),
    status: n.status,
    ...(n.livenessRttMs !== null ? { latency_estimate_ms: Math.round(n.livenessRttMs) } : {}),
    reputation_score: n.reputation,
    reputation_model: REPUTATION_MODEL,
    reputation_tier: reputationTier(n.reputation, n.registeredAt, now),
    completed_tasks_count: n.completedTasksCount,
    operator_fingerprint: n.operatorFingerprint ?? null,
    observed_latency_ms:
      n.observedLatencyMs == null ? null : Math.round(n.observedLatencyMs * 100) / 100,
    input_modalities: modalities,
    models: union(caps.map((c) => c.models)),
    capabilities: caps,
    cip_conformance_level: n.record['cip_conformance_level'] ?? 'CIP-None',
    cip_policy: pick(n, 'cip_policy'),
    pricing: pick(n, 'pricing'),
    cx_public_key: cx,
    key_ready: cx !== null,
    privacy_routing_status: cx !== null ? 'key_ready' : 'transitional',
  };
}

/** `view=public` node (iicp-dir.md §3.4 public presentation): no id, routes or keys. */
export function publicView(n: StoredNode, score: number, now: number): Record<string, unknown> {
  const caps = capabilitiesOf(n);
  return {
    node_id_prefix: n.nodeId.replace(/-/g, '').slice(0, 8),
    region: n.region,
    score: round4(score),
    available: n.available && n.status === 'active',
    load: n.load,
    reputation_score: n.reputation,
    reputation_model: REPUTATION_MODEL,
    reputation_tier: reputationTier(n.reputation, n.registeredAt, now),
    completed_tasks_count: n.completedTasksCount,
    route_class: 'direct',
    key_ready: n.record['cx_public_key'] != null,
    models: union(caps.map((c) => c.models)),
    input_modalities: union(caps.map((c) => c.input_modalities ?? ['text'])),
    cip_conformance_level: n.record['cip_conformance_level'] ?? 'CIP-None',
  };
}

/** Identity-age gate for platinum: 720 h (iicp-cooperative-inference.md §5.1.1). */
const PLATINUM_MIN_AGE_MS = 720 * 3600_000;

/**
 * `reputation_tier` (iicp-cooperative-inference.md §5.1.1): bronze ≥ 0, silver ≥ 0.40,
 * gold ≥ 0.65, platinum ≥ 0.85 and registered ≥ 720 h ago (else gold).
 */
export function reputationTier(reputation: number, registeredAt: number, now: number): string {
  if (reputation >= 0.85) return now - registeredAt >= PLATINUM_MIN_AGE_MS ? 'platinum' : 'gold';
  if (reputation >= 0.65) return 'gold';
  if (reputation >= 0.4) return 'silver';
  return 'bronze';
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
