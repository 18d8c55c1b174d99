/**
 * Sharing the strings that repeat across stored nodes. With 100,000 nodes in memory
 * (the discover index's warm-up, iicp-dir.md §3.3), every row read from the database
 * and every parsed REGISTER record carries its own copy of the same few strings: the
 * status, the region, each capability's intent URN, model ids and modalities, the CIP
 * level; and the record repeats the row's node id and endpoint. Strings are immutable,
 * so one shared copy is indistinguishable from many equal ones: values, key order and
 * serialisation stay exactly what JSON.parse and the driver returned.
 */

/**
 * Distinct strings kept in the pool. The fields interned have few distinct values in
 * practice (regions, intents, model ids); past this bound a new value is simply not
 * shared, so a registrant inventing names cannot grow the pool without limit.
 */
export const INTERN_POOL_SIZE = 4096;
/** Longer strings are left alone (never a region, intent or model id in practice). */
export const INTERN_MAX_LENGTH = 256;

const pool = new Map<string, string>();

/** The pooled copy of `s` (pooling it if there is room). */
export function intern(s: string): string {
  const hit = pool.get(s);
  if (hit !== undefined) return hit;
  if (pool.size < INTERN_POOL_SIZE && s.length <= INTERN_MAX_LENGTH) pool.set(s, s);
  return s;
}

/** Distinct strings pooled so far (for tests). */
export function internPoolSize(): number {
  return pool.size;
}

const internValue = (v: unknown): unknown => (typeof v === 'string' ? intern(v) : v);

/** Replace each string element of `a` (if an array) by its pooled copy, in place. */
function internArray(a: unknown): void {
  if (!Array.isArray(a)) return;
  for (let i = 0; i < a.length; i++) a[i] = internValue(a[i]);
}

/** Capability fields whose values repeat across nodes (iicp-dir.md §3.1). */
const CAPABILITY_ARRAYS = ['models', 'input_modalities', 'output_modalities'] as const;

/**
 * Share the repeated strings of a freshly parsed REGISTER record, in place, and return
 * it: `node_id`, `endpoint` and `region` take the row's strings when equal to them; the
 * capabilities' intents, models and modalities and the CIP level come from the pool.
 * Only string values are replaced, each by an equal string, and only where they are;
 * nothing is added, removed or reordered.
 */
export function compactRecord(
  record: Record<string, unknown>,
  row: { readonly nodeId: string; readonly endpoint: string; readonly region: string },
): Record<string, unknown> {
  if (record['node_id'] === row.nodeId) record['node_id'] = row.nodeId;
  if (record['endpoint'] === row.endpoint) record['endpoint'] = row.endpoint;
  if (record['region'] === row.region) record['region'] = row.region;
  if (typeof record['cip_conformance_level'] === 'string') {
    record['cip_conformance_level'] = intern(record['cip_conformance_level']);
  }
  const caps = record['capabilities'];
  if (Array.isArray(caps)) {
    for (const c of caps as unknown[]) {
      if (c === null || typeof c !== 'object' || Array.isArray(c)) continue;
      const cap = c as Record<string, unknown>;
      if (typeof cap['intent'] === 'string') cap['intent'] = intern(cap['intent']);
      for (const k of CAPABILITY_ARRAYS) internArray(cap[k]);
    }
  }
  return record;
}
