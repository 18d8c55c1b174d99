import {
  openCxResponse,
  openCxResponseSync,
  readCxAdvertisement,
  sealCxRequest,
  sealCxRequestSync,
  type CxRecipient,
  type SealedCxRequest,
} from '@iicp/crypto/cx';
import { IicpProtocolError, isKnownErrorCode, replaceMembers } from '@iicp/wire';
import type { AttemptFailure } from '@iicp/scoring';
import { redactSecrets } from './errors.ts';
import type { IicpError } from './errors.ts';

/**
 * IICP-CX on the consumer side (iicp-confidentiality.md §1, §3.2, §5, §5a.3;
 * spec/decisions.md D-054, D-070): every remote node that advertises a usable
 * `cx_public_key` gets the payload sealed to that key with a fresh ephemeral key per
 * attempt (CX-06); a keyless node is refused unless the caller set `allowPlaintext`;
 * there is no automatic plaintext fallback after a CX error.
 */

export type { CxRecipient } from '@iicp/crypto/cx';

/** The option that lets a client send plaintext to keyless nodes. */
export const ALLOW_PLAINTEXT_OPTION = 'allowPlaintext';

/** A node's usable CX key, or `undefined` (absent, malformed, expired: fail closed). */
export function nodeCxKey(
  node: { readonly cx_public_key?: unknown },
  nowMs: number,
): CxRecipient | undefined {
  return readCxAdvertisement(node.cx_public_key, nowMs);
}

/**
 * Each advertisement read once, its expiry kept apart: discovery answers are cached
 * (≤ 5 s), so every call meets the same advertisement objects again. Keyed by the
 * object (which this client parsed itself and never changes).
 */
const advertisements = new WeakMap<
  object,
  { readonly key: CxRecipient | undefined; readonly notAfterMs: number }
>();

/**
 * {@link nodeCxKey} for the router's hot path: the same answer (pinned by a property
 * test), with each advertisement object decoded once. The recipient returned is shared
 * between calls, so it must not be changed.
 */
export function usableCxKey(
  node: { readonly cx_public_key?: unknown },
  nowMs: number,
): CxRecipient | undefined {
  const adv = node.cx_public_key;
  if (adv === null || typeof adv !== 'object') return undefined;
  let read = advertisements.get(adv);
  if (!read) {
    const notAfter = (adv as { not_after?: unknown }).not_after;
    read = {
      // At an instant before every expiry: everything but `not_after` is checked here.
      key: readCxAdvertisement(adv, -Infinity),
      // A non-string `not_after` already made `key` undefined.
      notAfterMs:
        notAfter === undefined || notAfter === null ? Infinity : Date.parse(notAfter as string),
    };
    advertisements.set(adv, read);
  }
  // readCxAdvertisement refuses `not_after <= now` (and an unparsable one, NaN here).
  return read.key && read.notAfterMs > nowMs ? read.key : undefined;
}

/** Every candidate was keyless and plaintext is not allowed: refuse before any payload leaves. */
export function keylessRefusal(intent: string, keyless: number): IicpProtocolError {
  return new IicpProtocolError(
    'IICP-E033',
    `no node for this intent advertises a usable IICP-CX key (cx_public_key); tasks are encrypted by default, set ${ALLOW_PLAINTEXT_OPTION}: true to send plaintext to keyless nodes`,
    {
      details: {
        intent,
        reason: 'no_cx_key',
        keyless_nodes: keyless,
        option: ALLOW_PLAINTEXT_OPTION,
      },
    },
  );
}

/** What one encrypted attempt keeps until its answer is read. */
export interface CxSession {
  readonly sharedSecret: Uint8Array;
  /** `cx_response_encryption: "required"` was sent: a plaintext answer is refused. */
  readonly responseEncrypted: boolean;
}

/**
 * The CALL members replacing `payload` (§4.1): `iicp_conf`, and
 * `cx_response_encryption: "required"` when the node advertised
 * `response_encryption_v1` and the answer is buffered (D-070).
 */
export function sealTaskPayload(
  key: CxRecipient,
  taskId: string,
  intent: string,
  payload: Record<string, unknown>,
  stream: boolean,
): SealedTaskPayload | Promise<SealedTaskPayload> {
  const opts = {
    recipientPublicKey: key.publicKey,
    recipientKeyId: key.keyId,
    taskId,
    intent,
    plaintext: JSON.stringify(payload),
  };
  const responseEncrypted = key.responseEncryption && !stream;
  // Synchronous where Node's native crypto serves it; a promise elsewhere (browsers).
  const sealed = sealCxRequestSync(opts);
  return sealed
    ? sealedFields(sealed, responseEncrypted)
    : sealCxRequest(opts).then((s) => sealedFields(s, responseEncrypted));
}

/** What {@link sealTaskPayload} gives: the CALL members and the session to open the answer. */
export interface SealedTaskPayload {
  readonly fields: Record<string, unknown>;
  readonly session: CxSession;
}

function sealedFields(sealed: SealedCxRequest, responseEncrypted: boolean): SealedTaskPayload {
  return {
    fields: {
      iicp_conf: sealed.envelope,
      ...(responseEncrypted ? { cx_response_encryption: 'required' } : {}),
    },
    session: { sharedSecret: sealed.sharedSecret, responseEncrypted },
  };
}

/** One strict decoder for every answer: a non-streaming `decode` keeps no state. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The RESPONSE members an opened answer replaces (its envelope, and `status: "encrypted"`). */
const RESPONSE_ENVELOPE = ['iicp_conf_resp', 'status'] as const;

type Normalized =
  | { readonly ok: true; readonly body: unknown }
  | { readonly ok: false; readonly failure: AttemptFailure; readonly error: IicpError };

/** A node answered something we cannot use: like a broken connection, try the next node. */
function broken(error: IicpError): Normalized {
  return { ok: false, failure: { kind: 'peer_closed' }, error };
}

/** The node's encrypted answer could not be opened or read: on to the next node. */
function undecryptable(): Normalized {
  return broken(
    new IicpProtocolError('IICP-E050', "the node's encrypted answer could not be decrypted", {
      status: 422,
    }),
  );
}

/**
 * A 200 RESPONSE body as deployed peers send it, made into the spec's shape before the
 * schema reads it (Postel's rule, spec/decisions.md D-070, D-071):
 * - `status: "encrypted"` with `iicp_conf_resp`: decrypted with the attempt's shared
 *   secret; the plaintext is the `result`, or a whole RESPONSE object;
 * - a plaintext success after `cx_response_encryption: "required"`: refused;
 * - `error_code` / `error_message` and no `result`: a failed attempt with that code
 *   (retried elsewhere, counted by the breaker);
 * - `status: "completed"`: `success`.
 *
 * Synchronous where Node's native crypto opens the answer (no promise or microtask turn
 * on the answer path); a promise otherwise.
 */
export function normalizeTaskResponse(
  raw: unknown,
  session: CxSession | undefined,
  taskId: string,
  secrets: readonly string[],
): Normalized | Promise<Normalized> {
  if (!isRecord(raw)) return { ok: true, body: raw };
  if (raw.status === 'encrypted' || raw.iicp_conf_resp !== undefined) {
    if (!session) {
      return broken(
        new IicpProtocolError(
          'backend_error',
          'the node sent an encrypted answer to a plaintext task',
        ),
      );
    }
    const open = { sharedSecret: session.sharedSecret, taskId, envelope: raw.iicp_conf_resp };
    let plaintext: Uint8Array | undefined;
    try {
      plaintext = openCxResponseSync(open);
    } catch {
      return undecryptable();
    }
    if (plaintext) return openedAnswer(raw, plaintext, taskId, secrets);
    return openCxResponse(open).then(
      (pt) => openedAnswer(raw, pt, taskId, secrets),
      () => undecryptable(),
    );
  }
  if (
    session?.responseEncrypted &&
    (raw.status === 'success' || raw.status === 'completed' || raw.result !== undefined)
  ) {
    return broken(
      new IicpProtocolError(
        'IICP-E050',
        'the node answered in plaintext although response encryption was negotiated',
        { status: 422 },
      ),
    );
  }
  return normalizedBody(raw, taskId, secrets);
}

/** The RESPONSE with its decrypted plaintext in place of `iicp_conf_resp`. */
function openedAnswer(
  raw: Record<string, unknown>,
  plaintext: Uint8Array,
  taskId: string,
  secrets: readonly string[],
): Normalized {
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(plaintext));
  } catch {
    return undecryptable();
  }
  const body =
    isRecord(value) && typeof value.task_id === 'string' && typeof value.status === 'string'
      ? replaceMembers(raw, RESPONSE_ENVELOPE, value)
      : replaceMembers(raw, RESPONSE_ENVELOPE, { status: 'success', result: value, error: null });
  return normalizedBody(body, taskId, secrets);
}

/** A plaintext (or opened) RESPONSE: deployed error fields and `completed` made spec-shaped. */
function normalizedBody(
  body: Record<string, unknown>,
  taskId: string,
  secrets: readonly string[],
): Normalized {
  const errorCode = body.error_code;
  const errorMessage = body.error_message;
  if (
    (body.result === undefined || body.result === null) &&
    (typeof errorCode === 'string' || typeof errorMessage === 'string') &&
    body.error == null
  ) {
    const code =
      typeof errorCode === 'string' && isKnownErrorCode(errorCode) ? errorCode : 'backend_error';
    const message =
      typeof errorMessage === 'string' ? errorMessage : 'the node reported a backend error';
    return broken(
      new IicpProtocolError(code, redactSecrets(message.slice(0, 500), secrets), {
        details: {
          task_id: taskId,
          ...(typeof errorCode === 'string'
            ? { node_error_code: redactSecrets(errorCode.slice(0, 100), secrets) }
            : {}),
        },
      }),
    );
  }
  if (body.status === 'completed') return { ok: true, body: { ...body, status: 'success' } };
  return { ok: true, body };
}
