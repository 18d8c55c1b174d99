import { INTENT_ENTRIES } from '../generated/intents.ts';
import type { KnownIntentUrn } from '../generated/intents.ts';
import type { IntentRegistryEntry } from './entry.ts';

/*
 * The standard intent vocabulary, typed (iicp-semantics.md §1.1: standard intents are
 * listed in the registry; custom `x.<vendor>` intents never are). The data is generated
 * from registry/intents.json; this module only looks things up.
 */

/** Every standard intent, in registry order. Vocabulary, not a list of live providers. */
export const INTENT_REGISTRY: readonly IntentRegistryEntry[] = INTENT_ENTRIES;

const BY_URN: ReadonlyMap<string, IntentRegistryEntry> = new Map(
  INTENT_REGISTRY.map((e) => [e.urn, e]),
);

/** The registry entry of `urn` (exact, case-sensitive match, iicp-semantics.md §1.2). */
export function getIntent(urn: string): IntentRegistryEntry | undefined {
  return BY_URN.get(urn);
}

/** True when `urn` is a standard intent listed in the registry, whatever its status. */
export function isRegisteredIntent(urn: unknown): urn is KnownIntentUrn {
  return typeof urn === 'string' && BY_URN.has(urn);
}

/** The entries whose status is `active`: the intents with a payload contract. */
export function activeIntents(): IntentRegistryEntry[] {
  return INTENT_REGISTRY.filter((e) => e.status === 'active');
}

export type { KnownIntentUrn };
