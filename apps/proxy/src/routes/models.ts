import { LLM_CHAT_INTENT, LLM_COMPLETION_INTENT, LLM_EMBEDDING_INTENT } from '@iicp/client';
import type { NodeSummary } from '@iicp/wire';
import type { Gateway } from '../gateway.ts';

/** The intents the proxy's routes call. */
export const PROXY_INTENTS = [
  LLM_CHAT_INTENT,
  LLM_COMPLETION_INTENT,
  LLM_EMBEDDING_INTENT,
] as const;

export interface ServedModel {
  readonly id: string;
  /** Intents for which at least one discovered node lists this model. */
  readonly intents: string[];
}

function modelsOf(node: NodeSummary, intent: string): string[] {
  const out = new Set<string>();
  for (const m of node.models ?? []) if (typeof m === 'string') out.add(m);
  for (const c of node.capabilities ?? []) {
    if (c.intent === intent) for (const m of c.models ?? []) out.add(m);
  }
  return [...out];
}

/**
 * The models the mesh serves right now, per intent, from discovery (the client caches
 * each NODELIST for the directory's `max-age`, at most 5 s, so this stays cheap). Fails
 * only when every discovery failed.
 */
export async function servedModels(
  gateway: Gateway,
  intents: readonly string[] = PROXY_INTENTS,
): Promise<ServedModel[]> {
  const lists = await Promise.allSettled(intents.map((i) => gateway.discover(i)));
  if (lists.every((l) => l.status === 'rejected')) {
    throw (lists[0] as PromiseRejectedResult).reason;
  }
  const byModel = new Map<string, Set<string>>();
  lists.forEach((l, i) => {
    if (l.status !== 'fulfilled') return;
    const intent = intents[i]!;
    for (const node of l.value.nodes) {
      if (node.available === false) continue;
      for (const m of modelsOf(node, intent)) {
        const set = byModel.get(m) ?? new Set<string>();
        set.add(intent);
        byModel.set(m, set);
      }
    }
  });
  return [...byModel.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, set]) => ({ id, intents: [...set] }));
}
