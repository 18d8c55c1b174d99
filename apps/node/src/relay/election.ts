/**
 * Auto-election of a relay (iicp-dir.md §7, §7.6): from the relays discover lists,
 * bind the one with the lowest load, never the node itself, never one below the
 * reputation floor; ties go to the higher reputation, then to the smaller node id,
 * then to the smaller endpoint, so the choice is deterministic for a given list.
 */
import { RELAY_MIN_REPUTATION, type RelayCandidate } from './wire.ts';

export interface ElectionOptions {
  /** The node's own id: a node never relays through itself. */
  selfNodeId?: string | undefined;
  /** The node's own direct endpoints: a relay at the same origin is the node itself. */
  selfEndpoints?: readonly string[];
  /** Relays to skip (recently failed), by endpoint. */
  exclude?: ReadonlySet<string>;
  minReputation?: number;
}

/** Normalised base URL (no trailing slash) used to compare endpoints. */
export function relayBase(url: string): string {
  return url.replace(/\/+$/, '');
}

/** Same scheme, host and port: a relay there would be this node itself. */
function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

function eligible(c: RelayCandidate, o: ElectionOptions): boolean {
  const base = relayBase(c.endpoint);
  if (c.relay_capable === false || c.available === false) return false;
  if (o.selfNodeId !== undefined && c.node_id === o.selfNodeId) return false;
  if (o.selfEndpoints?.some((e) => sameOrigin(e, base))) return false;
  if (o.exclude?.has(base)) return false;
  // An unknown score is the directory default (0.5), above the floor.
  const rep = c.reputation_score ?? 0.5;
  return rep >= (o.minReputation ?? RELAY_MIN_REPUTATION);
}

/** Candidates in election order (best first). */
export function rankRelays(
  candidates: readonly RelayCandidate[],
  opts: ElectionOptions = {},
): RelayCandidate[] {
  return candidates
    .filter((c) => eligible(c, opts))
    .sort(
      (a, b) =>
        (a.load ?? 1) - (b.load ?? 1) ||
        (b.reputation_score ?? 0.5) - (a.reputation_score ?? 0.5) ||
        (a.node_id < b.node_id ? -1 : a.node_id > b.node_id ? 1 : 0) ||
        (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0) ||
        // A list with one node twice (a directory never sends one, but a list is
        // input): order by every field, so the choice never depends on list order.
        compareText(sortedJson(a), sortedJson(b)),
    );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedJson(c: RelayCandidate): string {
  return JSON.stringify(c, Object.keys(c).sort());
}

/** The elected relay, or undefined when none is eligible. */
export function electRelay(
  candidates: readonly RelayCandidate[],
  opts: ElectionOptions = {},
): RelayCandidate | undefined {
  return rankRelays(candidates, opts)[0];
}
