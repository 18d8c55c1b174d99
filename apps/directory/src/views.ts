/**
 * Wire views of a stored node: the route-dispatch NODELIST entry and the public
 * presentation (iicp-dir.md §3.4), and the reputation tier both carry.
 *
 * Each view is three groups of fields around the two that vary per request (`score`,
 * and `reputation_tier`, which depends on the time for platinum). The `…Json` forms
 * serialise the groups once per stored node object (the node map replaces the object on
 * every write, so a cached fragment can never outlive the state it shows) and splice in
 * the per-request values: the same bytes as `JSON.stringify` of the object view.
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

type Fields = Record<string, unknown>;

/** Dispatch view fields before `score`. */
function dispatchHead(n: StoredNode): Fields {
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
  };
}

/** Dispatch view fields between `score` and `reputation_tier`. */
function dispatchMid(n: StoredNode): Fields {
  return {
    available: n.available && n.status === 'active',
    load: n.load,
    active_jobs: n.activeJobs,
    max_concurrent: maxConcurrentOf(n),
    status: n.status,
    ...(n.livenessRttMs !== null ? { latency_estimate_ms: Math.round(n.livenessRttMs) } : {}),
    reputation_score: n.reputation,
    reputation_model: REPUTATION_MODEL,
  };
}

/** Dispatch view fields after `reputation_tier`. */
function dispatchTail(n: StoredNode): Fields {
  const caps = capabilitiesOf(n);
  const cx = pick(n, 'cx_public_key');
  return {
    completed_tasks_count: n.completedTasksCount,
    operator_fingerprint: n.operatorFingerprint ?? null,
    observed_latency_ms:
      n.observedLatencyMs == null ? null : Math.round(n.observedLatencyMs * 100) / 100,
    input_modalities: union(caps.map((c) => c.input_modalities ?? ['text'])),
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

/** Route-dispatch node view (iicp-dir.md §3.4 NODELIST entry). */
export function dispatchView(n: StoredNode, score: number, now: number): Fields {
  return {
    ...dispatchHead(n),
    score: round4(score),
    ...dispatchMid(n),
    reputation_tier: reputationTier(n.reputation, n.registeredAt, now),
    ...dispatchTail(n),
  };
}

/** Public view fields before `score`. */
function publicHead(n: StoredNode): Fields {
  return {
    node_id_prefix: n.nodeId.replace(/-/g, '').slice(0, 8),
    region: n.region,
  };
}

function publicMid(n: StoredNode): Fields {
  return {
    available: n.available && n.status === 'active',
    load: n.load,
    reputation_score: n.reputation,
    reputation_model: REPUTATION_MODEL,
  };
}

function publicTail(n: StoredNode): Fields {
  const caps = capabilitiesOf(n);
  return {
    completed_tasks_count: n.completedTasksCount,
    route_class: 'direct',
    key_ready: n.record['cx_public_key'] != null,
    models: union(caps.map((c) => c.models)),
    input_modalities: union(caps.map((c) => c.input_modalities ?? ['text'])),
    cip_conformance_level: n.record['cip_conformance_level'] ?? 'CIP-None',
  };
}

/** `view=public` node (iicp-dir.md §3.4 public presentation): no id, routes or keys. */
export function publicView(n: StoredNode, score: number, now: number): Fields {
  return {
    ...publicHead(n),
    score: round4(score),
    ...publicMid(n),
    reputation_tier: reputationTier(n.reputation, n.registeredAt, now),
    ...publicTail(n),
  };
}

/**
 * A view serialised around its two per-request values:
 * `head` + score + `mid` + tier + `tail` is the whole object's JSON.
 */
interface Fragment {
  /** `{"node_id":…,"region":"…","score":` */
  readonly head: string;
  /** `,"available":…,"reputation_model":"…","reputation_tier":` */
  readonly mid: string;
  /** `,"completed_tasks_count":…}` */
  readonly tail: string;
}

/** JSON of an object's members without the braces: `"a":1,"b":2`. */
function members(fields: Fields): string {
  return JSON.stringify(fields).slice(1, -1);
}

function fragmentOf(head: Fields, mid: Fields, tail: Fields): Fragment {
  const h = members(head);
  const m = members(mid);
  const t = members(tail);
  return {
    head: `{${h}${h ? ',' : ''}"score":`,
    mid: `${m ? ',' : ''}${m},"reputation_tier":`,
    tail: `${t ? ',' : ''}${t}}`,
  };
}

// Keyed by the stored object itself: a write replaces it, and the entry goes with it.
const dispatchFragments = new WeakMap<StoredNode, Fragment>();
const publicFragments = new WeakMap<StoredNode, Fragment>();

function splice(f: Fragment, n: StoredNode, score: number, now: number): string {
  // Both values are plain numbers and ASCII labels, so no escaping is needed.
  return `${f.head}${JSON.stringify(round4(score))}${f.mid}"${reputationTier(n.reputation, n.registeredAt, now)}"${f.tail}`;
}

/** `JSON.stringify(dispatchView(n, score, now))`, from a per-node cached fragment. */
export function dispatchViewJson(n: StoredNode, score: number, now: number): string {
  let f = dispatchFragments.get(n);
  if (f === undefined) {
    f = fragmentOf(dispatchHead(n), dispatchMid(n), dispatchTail(n));
    dispatchFragments.set(n, f);
  }
  return splice(f, n, score, now);
}

/** `JSON.stringify(publicView(n, score, now))`, from a per-node cached fragment. */
export function publicViewJson(n: StoredNode, score: number, now: number): string {
  let f = publicFragments.get(n);
  if (f === undefined) {
    f = fragmentOf(publicHead(n), publicMid(n), publicTail(n));
    publicFragments.set(n, f);
  }
  return splice(f, n, score, now);
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
