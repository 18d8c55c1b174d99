/**
 * `{ ...rest, ...add }` where `rest` is `body` without the members named in `drop`: the
 * same object, keys in the same order, built with two loops. Object rest and spread take
 * V8's generic copy path, which costs microseconds per message; CX uses this to swap an
 * envelope for its plaintext on every encrypted task (the node's CALL, the client's
 * RESPONSE). A key named `__proto__` (an own key JSON.parse can make) takes the spread
 * form, which defines it as data instead of setting the prototype. Pinned to
 * {@link spreadReplaceMembers} by a property test (test/objects.test.ts).
 */
export function replaceMembers(
  body: Record<string, unknown>,
  drop: readonly string[],
  add: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in body) {
    if (!Object.hasOwn(body, k) || drop.includes(k)) continue;
    if (k === '__proto__') return spreadReplaceMembers(body, drop, add);
    out[k] = body[k];
  }
  for (const k in add) {
    if (!Object.hasOwn(add, k)) continue;
    if (k === '__proto__') return spreadReplaceMembers(body, drop, add);
    out[k] = add[k];
  }
  return out;
}

/** The general form of {@link replaceMembers}: object spread, then the dropped keys deleted. */
export function spreadReplaceMembers(
  body: Record<string, unknown>,
  drop: readonly string[],
  add: Record<string, unknown>,
): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...body };
  for (const k of drop) delete rest[k];
  return { ...rest, ...add };
}
