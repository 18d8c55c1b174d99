/**
 * Client-side selection over a NODELIST (iicp-semantics.md §1.4, §3.2). The default is
 * filter-only: the directory's order is the recommendation and is kept. Reordering happens
 * only under a declared selection profile, and its local value never replaces `score`.
 */

/** The NODELIST fields client selection reads (iicp-dir.md §3.4). */
export interface SelectableNode {
  readonly node_id: string;
  readonly available?: boolean | null | undefined;
  readonly score?: number | null | undefined;
  readonly load?: number | null | undefined;
}

export interface FilterOptions {
  /** True while the node's circuit breaker refuses calls (see CircuitBreakers.isOpen). */
  readonly isOpen?: (nodeId: string) => boolean;
}

/**
 * The legacy/default client (iicp-semantics.md §3.2 steps 1–3): drop `available = false`,
 * skip open breakers, keep directory order. Duplicate `node_id`s keep their first place.
 */
export function filterDirectoryOrder<T extends SelectableNode>(
  nodes: readonly T[],
  opts: FilterOptions = {},
): T[] {
  const out: T[] = [];
  const seen = new Set<string>();
  for (const n of nodes) {
    if (n.available === false || seen.has(n.node_id)) continue;
    seen.add(n.node_id);
    if (opts.isOpen?.(n.node_id)) continue;
    out.push(n);
  }
  return out;
}

/** Profile identifier of the pre-normative selection profile (iicp-semantics.md §3.2). */
export const SELECTION_PROFILE_V1 = 'iicp.selection.v1';

/** The one algorithm that profile's fixture defines (research/pre-normative-profiles). */
export const WEIGHTED_V1 = Object.freeze({
  name: 'weighted_v1',
  formula: 'max(score,0.01)/(1+clamp(load,0,1))',
  defaultTopK: 3,
  minScore: 0.01,
});

/** `weighted_v1` local weight: `max(score, 0.01) / (1 + clamp(load, 0, 1))`. */
export function weightedV1Weight(node: SelectableNode): number {
  const s =
    typeof node.score === 'number' && node.score > WEIGHTED_V1.minScore
      ? node.score
      : WEIGHTED_V1.minScore;
  const l = node.load;
  const load = typeof l === 'number' && l > 0 ? (l < 1 ? l : 1) : 0;
  return s / (1 + load);
}

/** A redacted record of a local selection: no payload, no score rewrite. */
export interface SelectionReceipt {
  readonly profile: typeof SELECTION_PROFILE_V1;
  readonly algorithm: 'weighted_v1';
  readonly top_k: number;
  readonly pool_size: number;
  readonly selected_node_id: string | null;
  /** The local selection value of the chosen node, distinct from its directory `score`. */
  readonly selection_weight: number | null;
}

export interface WeightedSelection<T> {
  /** The chosen node first, then every other candidate in directory order (fallback order). */
  readonly order: T[];
  readonly receipt: SelectionReceipt;
}

/**
 * `iicp.selection.v1` / `weighted_v1`: among the first `topK` candidates of the filtered
 * directory order (a hard pool boundary), pick one with probability proportional to its
 * weight, using `random` ∈ [0, 1) over the cumulative weights in directory order. The rest
 * keep directory order behind it. Call only on the already-eligible, filtered list.
 */
export function selectWeightedV1<T extends SelectableNode>(
  nodes: readonly T[],
  random: number,
  topK: number = WEIGHTED_V1.defaultTopK,
): WeightedSelection<T> {
  const k = Math.max(1, Math.min(Math.floor(topK), nodes.length));
  const receiptBase = {
    profile: SELECTION_PROFILE_V1,
    algorithm: 'weighted_v1',
    top_k: topK,
  } as const;
  if (nodes.length === 0) {
    return {
      order: [],
      receipt: { ...receiptBase, pool_size: 0, selected_node_id: null, selection_weight: null },
    };
  }
  let total = 0;
  for (let i = 0; i < k; i++) total += weightedV1Weight(nodes[i]!);
  const r = random >= 0 ? (random < 1 ? random : 1) : 0;
  const target = r * total;
  let pick = k - 1;
  let cum = 0;
  for (let i = 0; i < k; i++) {
    cum += weightedV1Weight(nodes[i]!);
    if (target < cum) {
      pick = i;
      break;
    }
  }
  const chosen = nodes[pick]!;
  const order = [chosen];
  for (let i = 0; i < nodes.length; i++) if (i !== pick) order.push(nodes[i]!);
  return {
    order,
    receipt: {
      ...receiptBase,
      pool_size: k,
      selected_node_id: chosen.node_id,
      selection_weight: weightedV1Weight(chosen),
    },
  };
}
