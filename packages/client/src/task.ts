import {
  CONSUMER_TOKEN_HEADER,
  IicpProtocolError,
  TRACE_ID_HEADER,
  TaskResponseSchema,
  errorInfo,
  safeParseWire,
} from '@iicp/wire';
import type { TaskConstraints, TaskResponse } from '@iicp/wire';
import type { AttemptFailure } from '@iicp/scoring';
import { normalizeTaskResponse, sealTaskPayload, type CxSession } from './cx.ts';
import { fastTaskResponse } from './fast-response.ts';
import type { DirectoryClient } from './directory.ts';
import { abortedError, peerError, redactSecrets } from './errors.ts';
import type { IicpError } from './errors.ts';
import { IICP_VERSION_HEADER_VALUE, parseJsonText, withTimeout } from './http.ts';
import type { ResolvedOptions } from './options.ts';
import type { AttemptResult, Target } from './router.ts';
import { traceparentFor } from './trace.ts';
import type { BodyReader, TaskTransportResponse } from './transport.ts';

/** Largest RESPONSE body read into memory (embeddings of long batches fit well inside). */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** Everything one logical task keeps across its attempts. */
export interface TaskContext {
  readonly o: ResolvedOptions;
  readonly directory: DirectoryClient;
  readonly secrets: readonly string[];
  readonly taskId: string;
  readonly intent: string;
  readonly payload: Record<string, unknown>;
  readonly constraints: TaskConstraints;
  readonly traceId: string;
  readonly signal: AbortSignal | undefined;
  /** Checks a successful result (registered output contract); an error fails the attempt. */
  readonly checkResult: (result: unknown) => IicpProtocolError | undefined;
}

/** A started attempt whose answer is an SSE lifecycle stream. */
export interface OpenStream {
  readonly kind: 'sse';
  readonly body: BodyReader;
  readonly nodeId: string | undefined;
  /**
   * Clears the deadline and ends the request: after a terminal event (`finished`) the
   * transport may keep the connection; otherwise it is closed, and the node sees that
   * as cancellation.
   */
  readonly close: (finished?: boolean) => void;
  readonly attemptSignal: AbortSignal;
}

/** A node without the lifecycle profile answered with one buffered RESPONSE. */
export interface BufferedAnswer {
  readonly kind: 'buffered';
  readonly response: TaskResponse;
  readonly nodeId: string | undefined;
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function transportFailure(
  err: unknown,
  callerSignal: AbortSignal | undefined,
  attemptSignal: AbortSignal,
): { failure: AttemptFailure; error: IicpError } {
  if (callerSignal?.aborted) {
    return { failure: { kind: 'aborted' }, error: abortedError(callerSignal.reason) };
  }
  if (attemptSignal.aborted) {
    return {
      failure: { kind: 'timeout' },
      error: new IicpProtocolError('task_timeout', 'the node did not answer within timeout_ms'),
    };
  }
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  // Transports reject as `fetch` does: the system or undici code is on `cause`.
  if (code !== undefined && CONNECT_CODES.has(code)) {
    return {
      failure: { kind: 'connect' },
      error: new IicpProtocolError('service_unavailable', 'the node could not be reached'),
    };
  }
  return {
    failure: { kind: 'peer_closed' },
    error: new IicpProtocolError('service_unavailable', 'the node closed the connection'),
  };
}

/** A RESPONSE with `status` other than `success` as an attempt failure (iicp-core.md §3.2). */
function responseFailure(
  res: TaskResponse,
  secrets: readonly string[],
): { failure: AttemptFailure; error: IicpError } {
  if (res.status === 'timeout') {
    return {
      failure: { kind: 'http', status: 504, code: 'task_timeout' },
      error: new IicpProtocolError('task_timeout', 'the node reported a timeout'),
    };
  }
  const code = res.error?.code ?? 'backend_error';
  const status = errorInfo(code)?.status ?? 502;
  const error = peerError(
    { error: { ...res.error, code, message: res.error?.message ?? 'task failed' } },
    status,
    secrets,
  );
  return { failure: { kind: 'http', status, code }, error };
}

function invalidAnswer(message: string): { failure: AttemptFailure; error: IicpError } {
  // A node speaking something else is treated like a broken connection: try elsewhere.
  return {
    failure: { kind: 'peer_closed' },
    error: new IicpProtocolError('backend_error', message),
  };
}

type Credentials =
  | { ok: true; headers: Record<string, string>; auth: { node_token: string } | undefined }
  | { ok: false; result: AttemptResult<never> };

/** Whether this attempt carries a consumer token (identity configured, a remote node id). */
function usesConsumerToken(ctx: TaskContext, target: Target): boolean {
  const lf = ctx.o.localFallback;
  return !!ctx.o.identity && target.nodeId !== undefined && !(target.local && lf?.nodeToken);
}

/** The body's `node_token` credentials (no consumer token): no directory round trip. */
function tokenCredentials(ctx: TaskContext, target: Target): Credentials {
  const lf = ctx.o.localFallback;
  const bodyToken = target.local ? (lf?.nodeToken ?? ctx.o.nodeToken) : ctx.o.nodeToken;
  return { ok: true, headers: {}, auth: bodyToken ? { node_token: bodyToken } : undefined };
}

/** A consumer token for the node from the directory (D-015: then no body token). */
async function consumerTokenCredentials(ctx: TaskContext, target: Target): Promise<Credentials> {
  const headers: Record<string, string> = {};
  try {
    headers[CONSUMER_TOKEN_HEADER] = await ctx.directory.consumerToken(
      target.nodeId!,
      ctx.intent,
      ctx.signal,
    );
    // D-015: with a consumer token the body carries no node_token.
    return { ok: true, headers, auth: undefined };
  } catch (err) {
    const error = err as IicpError;
    if (ctx.signal?.aborted) {
      return {
        ok: false,
        result: {
          ok: false,
          failure: { kind: 'aborted' },
          error: abortedError(ctx.signal.reason),
        },
      };
    }
    const status = error instanceof IicpProtocolError ? error.status : 500;
    // Our own identity was refused: no other node will do better. Anything else
    // (unknown target, directory hiccup) moves on without blaming the node.
    return {
      ok: false,
      result: {
        ok: false,
        failure: { kind: 'http', status: 503, code: error.code },
        error,
        action: status === 401 || status === 403 ? 'fail' : 'switch_now',
      },
    };
  }
}

/**
 * One CALL attempt, `POST {endpoint}/v1/task` (iicp-core.md §3.1). With `stream`, the
 * lifecycle profile is required and SSE accepted; the answer is then either an open
 * stream or a buffered RESPONSE.
 */
export async function attemptTask(
  ctx: TaskContext,
  target: Target,
  stream: false,
): Promise<AttemptResult<TaskResponse>>;
export async function attemptTask(
  ctx: TaskContext,
  target: Target,
  stream: true,
): Promise<AttemptResult<OpenStream | BufferedAnswer>>;
export async function attemptTask(
  ctx: TaskContext,
  target: Target,
  stream: boolean,
): Promise<AttemptResult<TaskResponse | OpenStream | BufferedAnswer>> {
  const cred = usesConsumerToken(ctx, target)
    ? await consumerTokenCredentials(ctx, target)
    : tokenCredentials(ctx, target);
  if (!cred.ok) return cred.result;
  const body: Record<string, unknown> = {
    task_id: ctx.taskId,
    intent: ctx.intent,
    constraints: ctx.constraints,
    trace: { trace_id: ctx.traceId },
  };
  // IICP-CX: sealed to the node's key, fresh per attempt; plaintext only to the local
  // fallback or, with allowPlaintext, to a keyless node (never after a CX failure).
  let cx: CxSession | undefined;
  if (target.cx) {
    let sealed = sealTaskPayload(target.cx, ctx.taskId, ctx.intent, ctx.payload, stream);
    if (sealed instanceof Promise) sealed = await sealed;
    Object.assign(body, sealed.fields);
    cx = sealed.session;
  } else if (target.local || ctx.o.allowPlaintext) {
    body.payload = ctx.payload;
  } else {
    return {
      ok: false,
      failure: { kind: 'http', status: 422, code: 'IICP-E033' },
      error: new IicpProtocolError('IICP-E033', 'the node advertises no IICP-CX key'),
      action: 'switch_now',
    };
  }
  if (cred.auth) body.auth = cred.auth;
  const headers: Record<string, string> = {
    ...ctx.o.headers,
    'content-type': 'application/json',
    accept: stream ? 'text/event-stream, application/json;q=0.5' : 'application/json',
    'x-iicp-version': IICP_VERSION_HEADER_VALUE,
    [TRACE_ID_HEADER]: ctx.traceId,
    ...cred.headers,
  };
  const traceparent = traceparentFor(ctx.traceId);
  if (traceparent) headers.traceparent = traceparent;

  const deadline = withTimeout(ctx.signal, ctx.constraints.timeout_ms + ctx.o.attemptGraceMs);
  let keepDeadline = false;
  try {
    let res: TaskTransportResponse;
    try {
      res = await ctx.o.transport.send({
        url: `${target.endpoint.replace(/\/+$/, '')}/v1/task`,
        headers,
        body: JSON.stringify(body),
        signal: deadline.signal,
      });
    } catch (err) {
      return { ok: false, ...transportFailure(err, ctx.signal, deadline.signal) };
    }
    const type = res.header('content-type') ?? '';
    if (stream && res.status === 200 && type.toLowerCase().startsWith('text/event-stream')) {
      if (!res.hasBody) return { ok: false, ...invalidAnswer('the node sent an empty stream') };
      keepDeadline = true;
      const ctl = deadline;
      const answer = res;
      const reader = answer.reader();
      return {
        ok: true,
        value: {
          kind: 'sse',
          // Leaving the SSE reader does not end the body: `close` decides how it ends.
          body: { read: () => reader.read(), cancel: async () => undefined },
          nodeId: target.nodeId,
          attemptSignal: deadline.signal,
          close: (finished = false) => {
            ctl.cancel();
            if (finished) answer.release();
            else answer.cancel();
          },
        },
      };
    }
    let parsedBody: unknown;
    try {
      parsedBody = parseJsonText(await res.text(), MAX_RESPONSE_BYTES);
    } catch (err) {
      return { ok: false, ...transportFailure(err, ctx.signal, deadline.signal) };
    }
    if (res.status !== 200) {
      const error = peerError(parsedBody, res.status, ctx.secrets);
      if (cx && error.code === 'IICP-E050') {
        // The node could not open our envelope (a stale key, say): on to the next node at
        // once, still encrypted; never a plaintext retry (iicp-confidentiality.md §6).
        return { ok: false, failure: { kind: 'peer_closed' }, error, action: 'switch_now' };
      }
      return { ok: false, failure: { kind: 'http', status: res.status, code: error.code }, error };
    }
    const pending = normalizeTaskResponse(parsedBody, cx, ctx.taskId, ctx.secrets);
    const normalized = pending instanceof Promise ? await pending : pending;
    if (!normalized.ok) return { ok: false, failure: normalized.failure, error: normalized.error };
    // The common success shape without the schema walk (same value, pinned by a test).
    const fast = fastTaskResponse(normalized.body);
    const parsed = fast
      ? ({ ok: true, value: fast } as const)
      : safeParseWire(TaskResponseSchema, normalized.body);
    if (!parsed.ok) {
      return {
        ok: false,
        ...invalidAnswer(
          `the node answered with an invalid RESPONSE (${redactSecrets(parsed.error.message, ctx.secrets)})`,
        ),
      };
    }
    const response = parsed.value;
    if (response.task_id !== ctx.taskId) {
      return { ok: false, ...invalidAnswer('the node answered for another task_id') };
    }
    if (response.status !== 'success')
      return { ok: false, ...responseFailure(response, ctx.secrets) };
    const bad = ctx.checkResult(response.result);
    if (bad) return { ok: false, failure: { kind: 'peer_closed' }, error: bad };
    return {
      ok: true,
      value: stream ? { kind: 'buffered', response, nodeId: target.nodeId } : response,
    };
  } finally {
    if (!keepDeadline) deadline.cancel();
    cx?.sharedSecret.fill(0);
  }
}
