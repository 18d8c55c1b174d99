import type { NodeSummary } from '@iicp/wire';
import type { ResolvedOptions } from './options.ts';

/**
 * Whether discovery metadata says the node advertises a canonical CX key
 * (iicp-dir.md §3.4 `key_ready`, `privacy_routing_status`, `cx_public_key`).
 */
export function isKeyReady(node: NodeSummary): boolean {
  if (node.key_ready !== undefined) return node.key_ready;
  if (node.privacy_routing_status !== undefined) return node.privacy_routing_status === 'key_ready';
  return node.cx_public_key != null;
}

/** The result of applying a routing profile to the directory's list. */
export interface ProfileDecision {
  readonly nodes: NodeSummary[];
  /** True when the profile forbids sending the task to any remote node at all. */
  readonly remoteForbidden: boolean;
}

/**
 * Client remote-routing policy profiles (iicp-dir.md §3.4.1), applied after prompt-free
 * discovery and before any payload leaves the client. Filtering only: the directory's
 * order is kept (iicp-semantics.md §3.2).
 *
 * - `sensitive`: "No task prompt is sent to remote nodes" — every remote node is dropped;
 *   only a configured local fallback may run the task.
 * - `eu_restricted` / `allowed_regions_strict`: keep nodes whose `region` is in the
 *   caller's allowlist (exact match).
 * - `standard`, `debug_override`: every node.
 * - `requireKeyReady` (any profile but `debug_override`): keep key-ready nodes only.
 */
export function applyRoutingProfile(
  nodes: readonly NodeSummary[],
  o: Pick<ResolvedOptions, 'routingProfile' | 'allowedRegions' | 'requireKeyReady'>,
): ProfileDecision {
  if (o.routingProfile === 'sensitive') return { nodes: [], remoteForbidden: true };
  let out = [...nodes];
  if (o.routingProfile === 'eu_restricted' || o.routingProfile === 'allowed_regions_strict') {
    const allowed = new Set(o.allowedRegions);
    out = out.filter((n) => typeof n.region === 'string' && allowed.has(n.region));
  }
  if (o.requireKeyReady && o.routingProfile !== 'debug_override') out = out.filter(isKeyReady);
  return { nodes: out, remoteForbidden: false };
}
