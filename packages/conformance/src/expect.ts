/** Assertions of the checks. Messages name fields and statuses, never values sent or received. */
import { CheckFailure, type Exchange } from './types.ts';

export function expectStatus(ex: Exchange, ...statuses: number[]): void {
  if (!statuses.includes(ex.status))
    throw new CheckFailure(
      'unexpected_status',
      `expected HTTP ${statuses.join(' or ')}, got ${ex.status}`,
      ex.status,
    );
}

export function expectThat(cond: unknown, message: string, ex?: Exchange): asserts cond {
  if (!cond) throw new CheckFailure('assertion_failed', message, ex?.status ?? null);
}

export function field(value: unknown, ...path: string[]): unknown {
  let v = value;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** `{"error":{"code": …}}` with the given code (iicp-core.md §7 error envelope). */
export function expectError(ex: Exchange, status: number | number[], ...codes: string[]): void {
  expectStatus(ex, ...(Array.isArray(status) ? status : [status]));
  const code = field(ex.body, 'error', 'code');
  expectThat(typeof code === 'string', 'error body has no error.code', ex);
  expectThat(
    codes.length === 0 || codes.includes(code),
    `expected error.code ${codes.join(' or ')}, got ${code}`,
    ex,
  );
}

/** Structural view of a zod schema (the wire schemas), so this package needs no zod import. */
export interface WireSchema<T> {
  safeParse(
    v: unknown,
  ): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[] }[] } };
}

export function expectShape<T>(schema: WireSchema<T>, ex: Exchange, what: string): T {
  const r = schema.safeParse(ex.body);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new CheckFailure(
      'assertion_failed',
      `${what} does not match its schema at ${first?.path.map(String).join('.') || '(root)'}`,
      ex.status,
    );
  }
  return r.data;
}

export function expectJsonContentType(ex: Exchange): void {
  const ct = ex.headers.get('content-type') ?? '';
  expectThat(/^application\/json\b/i.test(ct), `Content-Type is not application/json`, ex);
}

/** SEC-LEAK-01: markers of stack traces in a body. */
export const STACK_TRACE_PATTERN =
  /Traceback \(most recent call last\)|\bat line \d+|\n\s+at \S+ \(|\bat (?:async )?[\w.<>]+ \((?:file:|node:|\/)/;
/** SEC-LEAK-02 / NODE-TASK-08: internal file paths (Unix and Windows home and system prefixes). */
export const INTERNAL_PATH_PATTERN =
  /(?:\/Users\/|\/home\/|\/var\/|\/root\/|\/opt\/|[A-Z]:\\\\(?:Users|Windows)\\\\)/;
