import type { z } from 'zod';
import { IicpProtocolError } from './errors.ts';

/** How many individual problems a validation_error lists in `details.issues`. */
const MAX_LISTED_ISSUES = 10;

/** `capabilities[0].intent` from a zod path; `(root)` for the object itself. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(root)' : out;
}

/**
 * Turn zod issues into the spec's 422 `validation_error`, naming the first failing
 * field in the message and listing up to ten in `details.issues`. zod's messages
 * describe types and ranges, never the offending value, so no input (a task payload
 * in particular) is echoed back.
 */
export function validationErrorFromZod(error: z.ZodError): IicpProtocolError {
  const issues = error.issues.slice(0, MAX_LISTED_ISSUES).map((i) => ({
    field: formatFieldPath(i.path),
    message: i.message,
  }));
  const first = issues[0] ?? { field: '(root)', message: 'invalid input' };
  return new IicpProtocolError('validation_error', `${first.field}: ${first.message}`, {
    details: { field: first.field, issues },
  });
}

/** Parse a wire message or throw a 422 `validation_error` that names the field. */
export function parseWire<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw validationErrorFromZod(r.error);
  return r.data;
}

export type WireParseResult<T> = { ok: true; value: T } | { ok: false; error: IicpProtocolError };

/** Like {@link parseWire}, returning the error instead of throwing it. */
export function safeParseWire<S extends z.ZodType>(
  schema: S,
  input: unknown,
): WireParseResult<z.output<S>> {
  const r = schema.safeParse(input);
  return r.success
    ? { ok: true, value: r.data }
    : { ok: false, error: validationErrorFromZod(r.error) };
}
