import { intentRiskDecision } from '@iicp/scoring';
import type { BreakerState, QosLevel } from '@iicp/scoring';
import {
  IicpProtocolError,
  TaskConstraintsSchema,
  hasPayloadContract,
  isIntentUrn,
  safeParseWire,
  validateIntentPayload,
} from '@iicp/wire';
import type {
  ChatMessage,
  LlmChatInput,
  LlmChatOutput,
  LlmCompletionInput,
  LlmCompletionOutput,
  LlmEmbeddingInput,
  LlmEmbeddingOutput,
  NodeList,
  TaskConstraints,
  TaskResponse,
} from '@iicp/wire';
import { DirectoryClient } from './directory.ts';
import { chatInputSurelyValid, chatOutputSurelyValid } from './fast-contracts.ts';
import type { DiscoverOptions } from './directory.ts';
import { abortedError, redactSecrets } from './errors.ts';
import { SERVICE_LIFECYCLE_PROFILE, asLifecycleEvent, textOfChunk } from './lifecycle.ts';
import type { LifecycleEvent } from './lifecycle.ts';
import { checkQos, checkTimeoutMs, resolveOptions } from './options.ts';
import type { ClientOptions, ResolvedOptions } from './options.ts';
import { Router } from './router.ts';
import type { AttemptInfo } from './router.ts';
import { SseParser } from './sse.ts';
import { attemptTask } from './task.ts';
import type { BufferedAnswer, OpenStream, TaskContext } from './task.ts';
import { isValidTraceId, newTraceId, traceIdFromTraceparent } from './trace.ts';

export const LLM_CHAT_INTENT = 'urn:iicp:intent:llm:chat:v1';
export const LLM_COMPLETION_INTENT = 'urn:iicp:intent:llm:completion:v1';
export const LLM_EMBEDDING_INTENT = 'urn:iicp:intent:llm:embedding:v1';

/** CALL `constraints` as a caller gives them: `timeout_ms` defaults to the client's. */
export type CallConstraints = Partial<TaskConstraints>;

export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Trace id to propagate (1–64 chars); a 32-hex id is generated when absent. */
  readonly traceId?: string;
  /** W3C `traceparent` of the caller's span; its trace id is reused. */
  readonly traceparent?: string;
  /** Model preference for discovery scoring (iicp-semantics.md §3.1); never a filter. */
  readonly model?: string;
  /** Called after every attempt (metrics, logs); never receives payloads. */
  readonly onAttempt?: (info: AttemptInfo) => void;
}

/** A successful RESPONSE (iicp-core.md §3.2) with its typed `result`. */
export type IicpResponse<R = unknown> = TaskResponse & { readonly result: R };

/** One delta of a streamed task (iicp-service-lifecycle-profile.md §4). */
export interface StreamDelta<R = unknown> {
  readonly task_id: string;
  readonly sequence: number;
  readonly event: 'partial' | 'completed';
  readonly is_final: boolean;
  /** The incremental chunk; reconstruct the output by concatenating in order. */
  readonly result: R | undefined;
  /** The chunk's text for LLM intents (string chunks or OpenAI-shaped deltas). */
  readonly text: string | undefined;
  /** Cumulative; the terminal value is authoritative. */
  readonly tokens_used?: number;
  readonly model_used?: string;
  readonly node_id: string | undefined;
}

/** `chat()` output: the OpenAI Chat Completions shape (SDK-02). */
export interface ChatCompletion extends LlmChatOutput {
  readonly id: string;
  readonly object: 'chat.completion';
  readonly created: number;
  readonly model: string;
}

export interface TextCompletion extends LlmCompletionOutput {
  readonly id: string;
  readonly object: 'text_completion';
  readonly created: number;
  readonly model: string;
}

export interface EmbeddingList {
  readonly object: 'list';
  readonly data: Array<{ object: 'embedding'; embedding: number[]; index: number }>;
  readonly model: string;
  readonly usage?: Record<string, unknown>;
}

/** Options of the typed helpers: constraints and call options in one object. */
export interface HelperOptions extends CallOptions, CallConstraints {}

export interface IicpClient {
  /** `GET /v1/discover` (iicp-core.md §5), cached for the directory's `max-age` (≤ 5 s). */
  discover(intent: string, opts?: DiscoverOptions): Promise<NodeList>;
  /** One task, routed with retry, breaker and fallback; resolves with the RESPONSE. */
  call<R = unknown>(
    intent: string,
    payload: Record<string, unknown>,
    constraints?: CallConstraints,
    opts?: CallOptions,
  ): Promise<IicpResponse<R>>;
  /** A streamed task: partial results as the node produces them. */
  stream<R = unknown>(
    intent: string,
    payload: Record<string, unknown>,
    constraints?: CallConstraints,
    opts?: CallOptions,
  ): AsyncIterable<StreamDelta<R>>;
  chat(input: LlmChatInput | readonly ChatMessage[], opts?: HelperOptions): Promise<ChatCompletion>;
  chatStream(
    input: LlmChatInput | readonly ChatMessage[],
    opts?: HelperOptions,
  ): AsyncIterable<StreamDelta>;
  complete(input: LlmCompletionInput | string, opts?: HelperOptions): Promise<TextCompletion>;
  embed(
    input: LlmEmbeddingInput | string | readonly string[],
    opts?: HelperOptions,
  ): Promise<EmbeddingList>;
  /** Circuit breaker state of one node (iicp-semantics.md §7.1). */
  breakerState(nodeId: string): BreakerState;
  /** Every node whose breaker has failures on record. */
  breakerStates(): Record<string, BreakerState>;
  /** Counters for status pages. */
  stats(): { discoverRequests: number; consumerTokenRequests: number };
}

/** How many admitted intents (and their result checkers) a client remembers. */
const ADMITTED_MAX = 256;

/** Refuses malformed and prohibited intents before anything is sent (SDK-03, iicp-semantics.md §1.3). */
function checkIntent(intent: unknown, o: ResolvedOptions): string {
  if (!isIntentUrn(intent)) {
    throw new IicpProtocolError('validation_error', 'intent: not a valid intent URN', {
      details: { field: 'intent' },
    });
  }
  const risk = intentRiskDecision(intent, { allowHighRisk: o.allowHighRisk });
  if (risk.action === 'refuse') {
    // Status 422 as the directory answers the same refusal (iicp-dir.md §3.4 tickets).
    throw new IicpProtocolError(
      'IICP-POLICY-001',
      `intent refused by the intent risk policy (${risk.category})`,
      { status: 422, details: { category: risk.category, rules: [...risk.ruleIds] } },
    );
  }
  return intent;
}

function checkPayload(intent: string, payload: unknown): Record<string, unknown> {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new IicpProtocolError('validation_error', 'payload: must be a JSON object', {
      details: { field: 'payload' },
    });
  }
  if (hasPayloadContract(intent)) {
    // The usual chat payload without the schema walk (a sure verdict only; see fast-contracts.ts).
    if (intent === LLM_CHAT_INTENT && chatInputSurelyValid(payload as Record<string, unknown>)) {
      return payload as Record<string, unknown>;
    }
    const r = validateIntentPayload(intent, payload, 'input');
    if (!r.ok) throw r.error;
  }
  return payload as Record<string, unknown>;
}

/**
 * The constraints of a call that names none depend only on the client's options:
 * validated once per client and mode, then shared (frozen, so that no attempt can
 * change what the next call sends).
 */
const defaultConstraints = new WeakMap<ResolvedOptions, Map<boolean, TaskConstraints>>();

function isEmptyObject(c: CallConstraints | undefined): boolean {
  if (c === undefined) return true;
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return false;
  if (Object.getPrototypeOf(c) !== Object.prototype) return false;
  for (const k in c) if (Object.hasOwn(c, k)) return false;
  return Object.getOwnPropertySymbols(c).length === 0;
}

function buildConstraints(
  o: ResolvedOptions,
  c: CallConstraints | undefined,
  stream: boolean,
): TaskConstraints {
  if (!isEmptyObject(c)) return validateConstraints(o, c, stream);
  let byMode = defaultConstraints.get(o);
  if (!byMode) {
    byMode = new Map();
    defaultConstraints.set(o, byMode);
  }
  let built = byMode.get(stream);
  if (!built) {
    built = deepFreeze(validateConstraints(o, undefined, stream));
    byMode.set(stream, built);
  }
  return built;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

function validateConstraints(
  o: ResolvedOptions,
  c: CallConstraints | undefined,
  stream: boolean,
): TaskConstraints {
  if (c !== undefined && (c === null || typeof c !== 'object' || Array.isArray(c))) {
    throw new IicpProtocolError('validation_error', 'constraints: must be an object', {
      details: { field: 'constraints' },
    });
  }
  const timeout =
    c?.timeout_ms === undefined ? o.timeoutMs : checkTimeoutMs(c.timeout_ms, 'timeout_ms');
  const qos = c?.qos === undefined ? o.qos : checkQos(c.qos, 'qos');
  const out: Record<string, unknown> = { ...(c ?? {}), timeout_ms: timeout };
  if (qos) out.qos = qos;
  if (stream) {
    const required = Array.isArray(out.required_profiles) ? [...out.required_profiles] : [];
    if (!required.includes(SERVICE_LIFECYCLE_PROFILE)) required.push(SERVICE_LIFECYCLE_PROFILE);
    out.required_profiles = required;
  }
  const parsed = safeParseWire(TaskConstraintsSchema, out);
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

function pickTraceId(opts: CallOptions | undefined): string {
  if (opts?.traceId !== undefined) {
    if (!isValidTraceId(opts.traceId)) {
      throw new IicpProtocolError('validation_error', 'traceId: 1-64 printable ASCII characters', {
        details: { field: 'trace.trace_id' },
      });
    }
    return opts.traceId;
  }
  if (typeof opts?.traceparent === 'string') {
    const id = traceIdFromTraceparent(opts.traceparent);
    if (id) return id;
  }
  return newTraceId();
}

function resultChecker(intent: string, secrets: readonly string[]) {
  const sure = intent === LLM_CHAT_INTENT ? chatOutputSurelyValid : undefined;
  return (result: unknown): IicpProtocolError | undefined => {
    if (!hasPayloadContract(intent)) return undefined;
    if (sure?.(result)) return undefined;
    const r = validateIntentPayload(intent, result, 'output');
    if (r.ok) return undefined;
    return new IicpProtocolError(
      'backend_error',
      `the node's result does not match the ${intent} output contract (${redactSecrets(r.error.message, secrets)})`,
    );
  };
}

/** `tokens_used` of an event, top level (profile vectors) or in `metrics` (terminal RESPONSE fields). */
function tokensOf(ev: LifecycleEvent): number | undefined {
  if (typeof ev.tokens_used === 'number') return ev.tokens_used;
  const m = ev.metrics as { tokens_used?: unknown } | undefined;
  return m && typeof m.tokens_used === 'number' ? m.tokens_used : undefined;
}

function nowSeconds(o: ResolvedOptions): number {
  return Math.floor(o.now() / 1000);
}

/** Creates a client. Every configuration fault throws `invalid_config` here (SDK-04, SDK-05). */
export function createClient(options: ClientOptions): IicpClient {
  const o = resolveOptions(options);
  const secrets = [o.nodeToken, o.identity?.nodeToken, o.localFallback?.nodeToken].filter(
    (s): s is string => typeof s === 'string',
  );
  const directory = new DirectoryClient(o, secrets);
  const router = new Router(o, directory);
  /**
   * Intents that passed {@link checkIntent} (URN grammar and risk policy, both fixed for
   * this client's options): a caller sends the same few on every call.
   */
  const admitted = new Set<string>();
  /** One output-contract checker per intent (it depends only on the intent and secrets). */
  const checkers = new Map<string, (result: unknown) => IicpProtocolError | undefined>();

  function admit(intent: string): string {
    if (admitted.has(intent)) return intent;
    const urn = checkIntent(intent, o);
    if (admitted.size >= ADMITTED_MAX) admitted.clear();
    admitted.add(urn);
    return urn;
  }

  function checkerFor(urn: string) {
    let c = checkers.get(urn);
    if (!c) {
      c = resultChecker(urn, secrets);
      if (checkers.size >= ADMITTED_MAX) checkers.clear();
      checkers.set(urn, c);
    }
    return c;
  }

  function prepare(
    intent: string,
    payload: unknown,
    constraints: CallConstraints | undefined,
    opts: CallOptions | undefined,
    stream: boolean,
  ): TaskContext {
    const urn = admit(intent);
    if (opts?.signal?.aborted) throw abortedError(opts.signal.reason);
    return {
      o,
      directory,
      secrets,
      taskId: globalThis.crypto.randomUUID(),
      intent: urn,
      payload: checkPayload(urn, payload),
      constraints: buildConstraints(o, constraints, stream),
      traceId: pickTraceId(opts),
      signal: opts?.signal,
      checkResult: checkerFor(urn),
    };
  }

  function routeRequest(ctx: TaskContext, opts: CallOptions | undefined) {
    return {
      taskId: ctx.taskId,
      intent: ctx.intent,
      qos: ctx.constraints.qos as QosLevel | undefined,
      model: opts?.model,
      signal: ctx.signal,
      onAttempt: opts?.onAttempt,
    };
  }

  // Not `async`: the router's promise is handed back as it is (no extra hops); a
  // refusal before routing still rejects rather than throws.
  function call<R>(
    intent: string,
    payload: Record<string, unknown>,
    constraints?: CallConstraints,
    opts?: CallOptions,
  ): Promise<IicpResponse<R>> {
    let ctx: TaskContext;
    try {
      ctx = prepare(intent, payload, constraints, opts, false);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return router.route(routeRequest(ctx, opts), (target) =>
      attemptTask(ctx, target, false),
    ) as Promise<IicpResponse<R>>;
  }

  async function* stream<R>(
    intent: string,
    payload: Record<string, unknown>,
    constraints?: CallConstraints,
    opts?: CallOptions,
  ): AsyncGenerator<StreamDelta<R>, void, undefined> {
    const ctx = prepare(intent, payload, constraints, opts, true);
    const started: OpenStream | BufferedAnswer = await router.route(
      routeRequest(ctx, opts),
      (target) => attemptTask(ctx, target, true),
    );
    if (started.kind === 'buffered') {
      const r = started.response;
      yield {
        task_id: r.task_id,
        sequence: 0,
        event: 'completed',
        is_final: true,
        result: r.result as R,
        text: textOfChunk(r.result),
        ...(r.metrics?.tokens_used !== undefined ? { tokens_used: r.metrics.tokens_used } : {}),
        ...(r.model_used !== undefined ? { model_used: r.model_used } : {}),
        node_id: started.nodeId,
      };
      return;
    }
    // The lifecycle events are read here, in this generator, over the body's reader and
    // a synchronous SSE parser: no further async-generator layers (readSse, a delegate
    // through yield*) between a chunk from the node and the delta handed to the caller.
    const s = started;
    const reader = s.body;
    const decoder = new TextDecoder('utf-8');
    const parser = new SseParser();
    let last = -1;
    let finished = false;
    try {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.push(decoder.decode(value, { stream: true }));
          for (let msg = parser.next(); msg !== undefined; msg = parser.next()) {
            let data: unknown;
            try {
              data = JSON.parse(msg.data);
            } catch {
              continue; // not an envelope (keep-alive or a foreign event)
            }
            const ev: LifecycleEvent | undefined = asLifecycleEvent(data);
            // §4: discard anything that is not ours or not newer than the last event.
            if (!ev || ev.task_id !== ctx.taskId || ev.sequence <= last) continue;
            last = ev.sequence;
            finished = ev.is_final;
            if (ev.event === 'accepted') continue;
            if (ev.event === 'partial' || ev.event === 'completed') {
              if (ev.event === 'partial' || ev.result !== undefined) {
                yield {
                  task_id: ev.task_id,
                  sequence: ev.sequence,
                  event: ev.event,
                  is_final: ev.is_final,
                  result: ev.result as R | undefined,
                  text: textOfChunk(ev.result),
                  ...(tokensOf(ev) !== undefined ? { tokens_used: tokensOf(ev) } : {}),
                  ...(typeof ev.model_used === 'string' ? { model_used: ev.model_used } : {}),
                  node_id: s.nodeId,
                };
              }
              if (ev.event === 'completed') return;
              continue;
            }
            // failed, cancelled, timed_out, rejected: terminal, output so far is incomplete.
            const code =
              ev.error?.code ??
              (ev.event === 'timed_out'
                ? 'task_timeout'
                : ev.event === 'rejected'
                  ? 'capacity_exceeded'
                  : 'backend_error');
            throw new IicpProtocolError(
              code,
              redactSecrets(ev.error?.message ?? `the task ended with ${ev.event}`, ctx.secrets),
              { details: { task_id: ctx.taskId, lifecycle_event: ev.event } },
            );
          }
        }
      } finally {
        // Stops the body (and with it the connection) when the caller leaves early.
        await reader.cancel().catch(() => undefined);
      }
    } catch (err) {
      if (err instanceof IicpProtocolError) throw err;
      if (ctx.signal?.aborted) throw abortedError(ctx.signal.reason);
      if (s.attemptSignal.aborted) {
        throw new IicpProtocolError('task_timeout', 'the stream did not finish within timeout_ms', {
          details: { task_id: ctx.taskId },
        });
      }
      throw new IicpProtocolError('backend_error', 'the stream broke before its terminal event', {
        details: { task_id: ctx.taskId },
      });
    } finally {
      s.close(finished);
    }
    if (ctx.signal?.aborted) throw abortedError(ctx.signal.reason);
    // "a missing sequence, disconnect, or ambiguous terminal state is a terminal failed outcome".
    throw new IicpProtocolError('backend_error', 'the stream ended before its terminal event', {
      details: { task_id: ctx.taskId },
    });
  }

  function split(opts: HelperOptions | undefined): [CallConstraints, CallOptions] {
    const { signal, traceId, traceparent, model, onAttempt, ...constraints } = opts ?? {};
    return [
      constraints,
      {
        ...(signal ? { signal } : {}),
        ...(traceId !== undefined ? { traceId } : {}),
        ...(traceparent !== undefined ? { traceparent } : {}),
        ...(model !== undefined ? { model } : {}),
        ...(onAttempt ? { onAttempt } : {}),
      },
    ];
  }

  function chatPayload(
    input: LlmChatInput | readonly ChatMessage[],
    model: string | undefined,
  ): Record<string, unknown> {
    const base: Record<string, unknown> = Array.isArray(input)
      ? { messages: input }
      : { ...(input as LlmChatInput) };
    if (model !== undefined && base.model === undefined) base.model = model;
    return base;
  }

  return {
    async discover(intent, opts = {}) {
      const urn = checkIntent(intent, o);
      return directory.discover(urn, opts);
    },
    call,
    stream,
    async chat(input, opts) {
      const [c, co] = split(opts);
      const r = await call<LlmChatOutput>(LLM_CHAT_INTENT, chatPayload(input, co.model), c, co);
      return {
        ...r.result,
        id: r.task_id,
        object: 'chat.completion',
        created: nowSeconds(o),
        model: r.model_used ?? co.model ?? '',
      };
    },
    chatStream(input, opts) {
      const [c, co] = split(opts);
      return stream(LLM_CHAT_INTENT, chatPayload(input, co.model), c, co);
    },
    async complete(input, opts) {
      const [c, co] = split(opts);
      const payload: Record<string, unknown> =
        typeof input === 'string' ? { prompt: input } : { ...input };
      if (co.model !== undefined && payload.model === undefined) payload.model = co.model;
      const r = await call<LlmCompletionOutput>(LLM_COMPLETION_INTENT, payload, c, co);
      return {
        ...r.result,
        id: r.task_id,
        object: 'text_completion',
        created: nowSeconds(o),
        model: r.model_used ?? co.model ?? '',
      };
    },
    async embed(input, opts) {
      const [c, co] = split(opts);
      const payload: Record<string, unknown> =
        typeof input === 'string' || Array.isArray(input)
          ? { input }
          : { ...(input as LlmEmbeddingInput) };
      if (co.model !== undefined && payload.model === undefined) payload.model = co.model;
      const r = await call<LlmEmbeddingOutput>(LLM_EMBEDDING_INTENT, payload, c, co);
      return {
        object: 'list',
        data: r.result.data.map((d, i) => ({
          object: 'embedding' as const,
          embedding: d.embedding,
          index: d.index ?? i,
        })),
        model: r.model_used ?? co.model ?? '',
        ...(r.result.usage ? { usage: r.result.usage } : {}),
      };
    },
    breakerState: (nodeId) => router.breakerState(nodeId),
    breakerStates: () => router.breakerStates(),
    stats: () => ({
      discoverRequests: directory.discoverRequests,
      consumerTokenRequests: directory.consumerTokenRequests,
    }),
  };
}
