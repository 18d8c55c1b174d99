import { IicpLocalError, IicpProtocolError } from '@iicp/wire';

/**
 * Everything the SDK throws is one of these two (SDK-ERR-01): a protocol error with a
 * spec code, HTTP status and `retryable` flag, or a local error (configuration, caller
 * abort) that never crossed the wire. Raw fetch/HTTP exceptions never escape.
 */
export type IicpError = IicpProtocolError | IicpLocalError;

export function isIicpError(x: unknown): x is IicpError {
  return x instanceof IicpProtocolError || x instanceof IicpLocalError;
}

/** `invalid_config` (conformance-test-suite.md §10, SDK-04/05): a local error, never sent. */
export function invalidConfig(message: string): IicpLocalError {
  return new IicpLocalError('invalid_config', message);
}

/** The caller's AbortSignal fired: terminal, never retried, never the node's fault. */
export function abortedError(reason: unknown): IicpLocalError {
  return new IicpLocalError('aborted', 'the call was cancelled by its AbortSignal', {
    cause: reason,
  });
}

/**
 * Removes every secret the client holds from a peer-supplied message, so a node that
 * echoes a credential cannot make it appear in an error (SDK-06).
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

/** A protocol error rebuilt from a peer body, with any held secret redacted (SDK-06). */
export function peerError(
  body: unknown,
  status: number,
  secrets: readonly string[],
): IicpProtocolError {
  const e = IicpProtocolError.fromWire(body, status);
  const details: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e.details)) {
    details[k] = typeof v === 'string' ? redactSecrets(v, secrets) : v;
  }
  return new IicpProtocolError(e.code, redactSecrets(e.message, secrets), {
    status: e.status,
    details,
  });
}
