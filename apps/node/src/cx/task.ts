import type { CxKeyPair } from '@iicp/crypto';
import {
  openCxRequest,
  openCxRequestSync,
  sealCxResponse,
  sealCxResponseSync,
  type CxResponseEnvelope,
  type OpenCxRequestOptions,
  type OpenedCxRequest,
} from '@iicp/crypto/cx';
import { IicpProtocolError, replaceMembers } from '@iicp/wire';
import { FastCounter } from '@iicp/http';
import { Counter, type Registry } from 'prom-client';

/** Request header asking the node to refuse plaintext (iicp-confidentiality.md §7). */
export const REQUIRE_E2E_HEADER = 'x-iicp-require-e2e';

/** How the node treats IICP-CX (iicp-confidentiality.md). */
export interface NodeCxOptions {
  /** Keys an envelope may address (current and, during rotation, the previous one). */
  keys: () => readonly CxKeyPair[];
  /** `--require-encryption`: plaintext tasks are refused with IICP-E050. */
  requireEncryption?: boolean;
}

/** What a decrypted task keeps for its answer. */
export interface CxSession {
  readonly sharedSecret: Uint8Array;
  /** The caller sent `cx_response_encryption: "required"` (§5a.3). */
  readonly encryptResponse: boolean;
}

/**
 * Counters on `/metrics`: how many tasks arrived encrypted, and how many failed to open.
 * The one touched on every task is @iicp/http's FastCounter (prom-client's exposition,
 * without hashing the label object on each call).
 */
export interface CxMetrics {
  tasks: FastCounter<'mode'>;
  failures: Counter;
}

export function createCxMetrics(registry: Registry): CxMetrics {
  return {
    tasks: new FastCounter({
      name: 'iicp_node_cx_tasks_total',
      help: 'Tasks received by transport confidentiality: plaintext, encrypted (request only) or encrypted_both (request and response)',
      labelNames: ['mode'] as const,
      registers: [registry],
    }),
    failures: new Counter({
      name: 'iicp_node_cx_failures_total',
      help: 'IICP-CX envelopes refused (IICP-E050): undecryptable, unknown key, or CX required',
      registers: [registry],
    }),
  };
}

/** The shipped Tier-1 code: `IICP-E050` with status 422 (spec/decisions.md D-032). */
function e050(message: string): IicpProtocolError {
  return new IicpProtocolError('IICP-E050', message, { status: 422 });
}

/** The CALL members an opened envelope replaces with `payload`. */
const CALL_ENVELOPE = ['iicp_conf', 'cx_response_encryption'] as const;

/** One strict decoder for every answer: a non-streaming `decode` keeps no state. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Turn a received CALL body into a plaintext one (iicp-confidentiality.md §4.1, §5):
 * with `iicp_conf`, decrypt it into `payload` (which must then be absent from the body)
 * and drop the envelope; without it, refuse when this node or the caller requires
 * encryption (§7). Throws `IICP-E050` (422) on every CX failure. The returned body goes
 * through the normal CALL schema afterwards.
 *
 * Synchronous where Node's native crypto opens the envelope (always, in Node ≥ 20.16):
 * no promise or microtask turn on the task path; a promise otherwise.
 */
export function openCxTask(
  body: Record<string, unknown>,
  headers: Record<string, string | string[] | undefined>,
  cx: NodeCxOptions | undefined,
  metrics: CxMetrics | undefined,
): OpenedCxTask | Promise<OpenedCxTask> {
  if (body.iicp_conf === undefined) {
    const require = headers[REQUIRE_E2E_HEADER];
    if (cx?.requireEncryption || require === '1' || require === 'true') {
      metrics?.failures.inc();
      throw e050('this node accepts IICP-CX encrypted tasks only (send iicp_conf)');
    }
    metrics?.tasks.inc({ mode: 'plaintext' });
    return { body, session: undefined };
  }
  try {
    if (!cx) throw e050('this node does not accept IICP-CX encrypted tasks');
    if (body.payload !== undefined) throw e050('payload must be absent when iicp_conf is present');
    if (typeof body.task_id !== 'string' || typeof body.intent !== 'string') {
      throw e050('an encrypted task needs task_id and intent (they are its associated data)');
    }
    const request: OpenCxRequestOptions = {
      envelope: body.iicp_conf,
      recipientKeys: cx.keys(),
      taskId: body.task_id,
      intent: body.intent,
    };
    const now = openCxRequestSync(request);
    if (now) return openedTask(body, now, metrics);
    return openCxRequest(request)
      .then((opened) => openedTask(body, opened, metrics))
      .catch((err: unknown) => {
        metrics?.failures.inc();
        throw err;
      });
  } catch (err) {
    metrics?.failures.inc();
    throw err;
  }
}

export interface OpenedCxTask {
  body: Record<string, unknown>;
  session: CxSession | undefined;
}

/** The plaintext task from an opened envelope; throws `IICP-E050` (the caller counts it). */
function openedTask(
  body: Record<string, unknown>,
  opened: OpenedCxRequest,
  metrics: CxMetrics | undefined,
): OpenedCxTask {
  let payload: unknown;
  try {
    payload = JSON.parse(UTF8.decode(opened.plaintext));
  } catch {
    payload = undefined;
  } finally {
    opened.plaintext.fill(0);
  }
  if (!isRecord(payload)) {
    opened.sharedSecret.fill(0);
    throw e050('the decrypted payload is not a JSON object');
  }
  const encryptResponse = body.cx_response_encryption === 'required';
  metrics?.tasks.inc({ mode: encryptResponse ? 'encrypted_both' : 'encrypted' });
  return {
    body: replaceMembers(body, CALL_ENVELOPE, { payload }),
    session: { sharedSecret: opened.sharedSecret, encryptResponse },
  };
}

/**
 * The encrypted RESPONSE of §5a.3 as deployed peers send it (spec/decisions.md D-070):
 * `{task_id, status: "encrypted", iicp_conf_resp}`, the `result` as compact JSON inside,
 * non-content metadata in clear beside it. Synchronous where Node's native crypto
 * seals it (see {@link openCxTask}); the secret is wiped either way.
 */
export function sealCxResult(
  session: CxSession,
  taskId: string,
  result: unknown,
  metadata: Record<string, unknown>,
): SealedCxResult | Promise<SealedCxResult> {
  const seal = { sharedSecret: session.sharedSecret, taskId, plaintext: '' };
  let now: CxResponseEnvelope | undefined;
  try {
    seal.plaintext = JSON.stringify(result ?? null);
    now = sealCxResponseSync(seal);
  } catch (err) {
    session.sharedSecret.fill(0);
    throw err;
  }
  if (now) {
    session.sharedSecret.fill(0);
    return { ...metadata, task_id: taskId, status: 'encrypted', iicp_conf_resp: now };
  }
  return sealCxResponse(seal).then(
    (iicp_conf_resp): SealedCxResult => {
      session.sharedSecret.fill(0);
      return { ...metadata, task_id: taskId, status: 'encrypted', iicp_conf_resp };
    },
    (err: unknown) => {
      session.sharedSecret.fill(0);
      throw err;
    },
  );
}

export type SealedCxResult = {
  task_id: string;
  status: 'encrypted';
  iicp_conf_resp: CxResponseEnvelope;
};
