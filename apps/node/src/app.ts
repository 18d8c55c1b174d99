import { createIicpServer, type IicpFastifyInstance, type IicpLoggerOptions } from '@iicp/http';
import {
  IicpProtocolError,
  isUuidV4,
  parseWire,
  TaskRequestSchema,
  validateIntentPayload,
  type Qos,
  type TaskRequest,
} from '@iicp/wire';
import type { FastifyReply, FastifyRequest } from '@iicp/http';
import { Admission, DEFAULT_QOS, type Slot } from './admission.ts';
import { authorizeTask, type AuthMode, type Principal } from './auth.ts';
import {
  BackendError,
  isStreamOperation,
  operationForIntent,
  OPERATION_INTENTS,
  OPT_IN_OPERATIONS,
  type Backend,
  type BackendOperation,
  type BackendResult,
} from './backends/types.ts';
import { chatPayloadSurelyValid, fastTaskRequest } from './fast-task.ts';
import { TaskIdWindow } from './idempotency.ts';
import {
  missingRequiredProfiles,
  sseFrame,
  wantsLifecycleStream,
  type LifecycleEvent,
  type LifecycleEventName,
} from './lifecycle.ts';
import { createNodeMetrics, OTHER_INTENT_LABEL, type NodeMetrics } from './metrics.ts';
import { MCP_TOOLS_CALL_INTENT, type McpGateway, type McpToolInfo } from './mcp/gateway.ts';
import { KeyedRateLimiter } from './rate-limit.ts';
import { NodeRuntimeState } from './state.ts';
import {
  createCxMetrics,
  openCxTask,
  sealCxResult,
  type CxSession,
  type NodeCxOptions,
} from './cx/task.ts';

/** The content type fastify gives a JSON reply (see sendAnswer). */
const JSON_TYPE = 'application/json; charset=utf-8';

/** Default `max_concurrent` (REGISTER `limits.max_concurrent`, 1–256). */
export const DEFAULT_MAX_CONCURRENT = 4;
/** Open-mesh defaults: requests per minute per client IP and per Origin. */
export const DEFAULT_OPEN_MESH_PER_IP_PER_MINUTE = 60;
export const DEFAULT_OPEN_MESH_PER_ORIGIN_PER_MINUTE = 600;

export interface OpenMeshOptions {
  perIpPerMinute?: number;
  perOriginPerMinute?: number;
  /** Browser origins allowed by CORS; default any. */
  allowedOrigins?: string[];
}

export interface NodeAppOptions {
  /** Model backend for the llm intents. */
  backend?: Backend;
  /** MCP server for `urn:iicp:intent:mcp:tools/call:v1` (connected by the caller). */
  mcp?: McpGateway;
  /** Shared with the directory client; a fresh one when omitted. */
  state?: NodeRuntimeState;
  /** Intents served; default every llm intent the backend can serve. */
  intents?: string[];
  /** Model used when the payload names none the node serves. */
  model?: string;
  maxConcurrent?: number;
  auth?: AuthMode;
  openMesh?: OpenMeshOptions;
  logger?: boolean | IicpLoggerOptions;
  taskIdWindowMs?: number;
  taskIdMaxEntries?: number;
  trustProxy?: boolean | string | string[];
  /** IICP-CX: decrypt `iicp_conf` tasks with these keys (iicp-confidentiality.md). */
  cx?: NodeCxOptions;
}

/** What buildApp exposes besides the routes (directory client, CLI, tests). */
export interface NodeRuntime {
  readonly state: NodeRuntimeState;
  readonly admission: Admission;
  readonly intents: readonly string[];
  readonly metrics: NodeMetrics | undefined;
  /** Resolves once no task is executing. */
  idle(): Promise<void>;
}

const runtimes = new WeakMap<object, NodeRuntime>();

/** The runtime of an app built by {@link buildApp}. */
export function nodeRuntime(app: IicpFastifyInstance): NodeRuntime {
  const r = runtimes.get(app);
  if (!r) throw new Error('not an iicp-node app');
  return r;
}

/** OpenAI's default model names for the opt-in operations (API reference). */
const AUX_DEFAULT_MODELS: Partial<Record<BackendOperation, string>> = {
  transcribe: 'whisper-1',
  speech: 'tts-1',
  moderate: 'omni-moderation-latest',
};

/** How an intent is executed. */
type Handler = { kind: 'llm'; op: BackendOperation } | { kind: 'mcp' };

interface InFlight {
  abort: AbortController;
  intent: string;
  principal: Principal;
  ip: string;
  cancelled: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The D-014 task error body: RESPONSE envelope and error envelope in one. */
function taskErrorBody(
  taskId: string | undefined,
  err: IicpProtocolError,
): Record<string, unknown> {
  const wire = err.toWire();
  if (taskId === undefined) return wire;
  return {
    task_id: taskId,
    status: err.code === 'task_timeout' ? 'timeout' : 'error',
    result: null,
    ...wire,
  };
}

function hasCredential(body: Record<string, unknown>, headers: FastifyRequest['headers']): boolean {
  const auth = body.auth;
  const bodyToken = isRecord(auth) && typeof auth.node_token === 'string' && auth.node_token !== '';
  const consumer = headers['x-iicp-consumer-token'];
  const authz = headers.authorization;
  return (
    bodyToken ||
    (typeof consumer === 'string' && consumer.trim() !== '') ||
    (typeof authz === 'string' && /^Bearer\s+\S/i.test(authz.trim()))
  );
}

/**
 * The provider node's HTTP surface as an unstarted Fastify instance: `GET
 * /iicp/health`, `POST /v1/task` (buffered RESPONSE, or lifecycle events over SSE),
 * `POST /v1/control` (cancel), `/metrics`.
 */
export async function buildApp(opts: NodeAppOptions): Promise<IicpFastifyInstance> {
  const backend = opts.backend;
  const state = opts.state ?? new NodeRuntimeState();
  const mode: AuthMode = opts.auth ?? 'token';
  const admission = new Admission(opts.maxConcurrent ?? DEFAULT_MAX_CONCURRENT);
  const seen = new TaskIdWindow({
    ...(opts.taskIdWindowMs !== undefined ? { windowMs: opts.taskIdWindowMs } : {}),
    ...(opts.taskIdMaxEntries !== undefined ? { maxEntries: opts.taskIdMaxEntries } : {}),
  });
  const mcp = opts.mcp;
  if (!backend && !mcp) throw new Error('buildApp needs a backend, an MCP gateway, or both');
  const served = new Map<string, Handler>();
  const defaultIntents = [
    ...(backend ? backend.operations.map((op) => OPERATION_INTENTS[op]) : []),
    ...(mcp ? [MCP_TOOLS_CALL_INTENT] : []),
  ];
  for (const intent of opts.intents ?? defaultIntents) {
    if (intent === MCP_TOOLS_CALL_INTENT && mcp) {
      served.set(intent, { kind: 'mcp' });
      continue;
    }
    const op = operationForIntent(intent);
    // Audio and moderation are served only when named (`--intent`), never by default.
    if (
      !op ||
      !backend ||
      !(backend.operations.includes(op) || backend.optInOperations?.includes(op))
    ) {
      throw new Error(
        `${backend ? `backend ${backend.type}` : 'this node'} cannot serve ${intent}`,
      );
    }
    served.set(intent, { kind: 'llm', op });
  }
  const inFlight = new Map<string, InFlight>();
  let idleWaiters: (() => void)[] = [];
  const perIp =
    mode === 'open'
      ? new KeyedRateLimiter({
          perMinute: opts.openMesh?.perIpPerMinute ?? DEFAULT_OPEN_MESH_PER_IP_PER_MINUTE,
        })
      : undefined;
  const perOrigin =
    mode === 'open'
      ? new KeyedRateLimiter({
          perMinute: opts.openMesh?.perOriginPerMinute ?? DEFAULT_OPEN_MESH_PER_ORIGIN_PER_MINUTE,
        })
      : undefined;
  const allowedOrigins = opts.openMesh?.allowedOrigins;

  const app = await createIicpServer({
    logger: opts.logger ?? false,
    openapi: { title: 'IICP node', version: '1.9.0' },
    metrics: { prefix: '' },
    ...(opts.trustProxy !== undefined ? { trustProxy: opts.trustProxy } : {}),
  });
  const registry = app.iicp.metrics?.registry;
  const metrics = registry
    ? createNodeMetrics(registry, { activeTasks: () => admission.active })
    : undefined;
  const cxMetrics = registry ? createCxMetrics(registry) : undefined;

  const runtime: NodeRuntime = {
    state,
    admission,
    intents: [...served.keys()],
    metrics,
    idle: () =>
      admission.active === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => idleWaiters.push(resolve)),
  };
  runtimes.set(app, runtime);

  function releaseSlot(slot: Slot): void {
    slot.release();
    if (admission.active === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  }

  function pickModel(payload: Record<string, unknown>): string {
    const want = payload.model;
    if (typeof want === 'string' && state.models.includes(want)) return want;
    return opts.model ?? state.models[0] ?? 'default';
  }

  /**
   * Model for an audio or moderation task: the caller's when the backend lists it,
   * else OpenAI's documented default for the operation (the node's `--model` is a
   * chat model and would be refused by `/v1/audio/*`).
   */
  function pickAuxModel(op: BackendOperation, payload: Record<string, unknown>): string {
    const want = payload.model;
    if (typeof want === 'string' && state.models.includes(want)) return want;
    return AUX_DEFAULT_MODELS[op] ?? opts.model ?? 'default';
  }

  // --- CORS for the open mesh ------------------------------------------------------
  function corsOrigin(request: FastifyRequest): string | undefined {
    if (mode !== 'open') return undefined;
    const origin = request.headers.origin;
    if (typeof origin !== 'string') return undefined;
    if (allowedOrigins && !allowedOrigins.includes(origin)) return undefined;
    return origin;
  }
  if (mode === 'open') {
    // A callback hook, not an async one: no promise and microtask turn per request.
    app.addHook('onRequest', (request, reply, done) => {
      const origin = corsOrigin(request);
      if (origin) reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
      done();
    });
    for (const path of ['/v1/task', '/v1/control', '/iicp/health']) {
      app.options(path, { schema: { hide: true } }, async (_request, reply) => {
        return reply
          .code(204)
          .header('access-control-allow-methods', 'GET, POST, OPTIONS')
          .header(
            'access-control-allow-headers',
            'content-type, accept, authorization, x-iicp-consumer-token, x-request-id, x-iicp-trace-id',
          )
          .header('access-control-max-age', '600')
          .send();
      });
    }
  }

  function openMeshLimit(request: FastifyRequest): void {
    if (!perIp || !perOrigin) return;
    const origin = request.headers.origin;
    const wait = Math.max(
      perIp.take(request.ip),
      typeof origin === 'string' ? perOrigin.take(origin) : 0,
    );
    if (wait > 0) {
      throw new IicpProtocolError('rate_limited', 'too many requests from this source', {
        details: { retry_after_ms: wait },
      });
    }
  }

  // --- health ----------------------------------------------------------------------
  app.get('/iicp/health', async () => ({
    status: state.backendHealthy && !state.draining ? 'ok' : 'degraded',
    load: Math.min(1, admission.active / admission.max),
    active_jobs: admission.active,
    node_id: state.nodeId,
    models: state.models,
  }));

  // --- task --------------------------------------------------------------------------
  function sendError(
    reply: FastifyReply,
    taskId: string | undefined,
    err: IicpProtocolError,
  ): FastifyReply {
    const retryMs = err.details.retry_after_ms;
    if (typeof retryMs === 'number')
      reply.header('retry-after', String(Math.max(1, Math.ceil(retryMs / 1000))));
    return reply.code(err.status).send(taskErrorBody(taskId, err));
  }

  /**
   * A 200 answer: as JSON text serialised here when the reply is negotiated as JSON
   * (the bytes and content type fastify gives a returned object, without its generic
   * serialisation hooks), else the object for the negotiated codec (CBOR).
   */
  function sendAnswer(
    request: FastifyRequest,
    reply: FastifyReply,
    answer: Record<string, unknown>,
  ): void {
    reply.code(200);
    if (app.iicp.repliesWithJson(request)) reply.type(JSON_TYPE).send(JSON.stringify(answer));
    else reply.send(answer);
  }

  function record(intent: string, status: string, latencyMs: number, tokens?: number): void {
    if (!metrics) return;
    const label = served.has(intent) ? intent : OTHER_INTENT_LABEL;
    metrics.tasks.inc({ intent: label, status });
    metrics.latency.observe({ intent: label }, latencyMs / 1000);
    if (tokens !== undefined) metrics.tokens.inc({ intent: label }, tokens);
  }

  /** Map an execution failure to the wire: deadline → 504, anything else → 502 without details. */
  function executionError(err: unknown, timedOut: boolean): IicpProtocolError {
    if (timedOut || (err instanceof BackendError && err.code === 'backend_timeout')) {
      return new IicpProtocolError('task_timeout', 'task exceeded constraints.timeout_ms');
    }
    if (err instanceof IicpProtocolError) return err;
    return new IicpProtocolError('backend_error', 'backend failed');
  }

  app.post('/v1/task', async (request, reply) => {
    const receivedAt = performance.now();
    let body = request.body;
    const rawId = isRecord(body) ? body.task_id : undefined;
    const taskId = typeof rawId === 'string' && isUuidV4(rawId) ? rawId : undefined;
    let intentLabel = OTHER_INTENT_LABEL;
    let task: TaskRequest;
    let principal: Principal;
    let slot: Slot;
    let mcpCall: { tool: McpToolInfo; args: Record<string, unknown> } | undefined;
    let cxSession: CxSession | undefined;
    try {
      if (state.draining) throw new IicpProtocolError('service_unavailable', 'node is draining');
      openMeshLimit(request);
      if (!isRecord(body)) {
        throw new IicpProtocolError('validation_error', 'body must be a JSON object', {
          details: { field: '(body)' },
        });
      }
      // SEC-RN-01/02: no credential at all is 401 before anything else is said.
      if (mode === 'token' && !hasCredential(body, request.headers)) {
        throw new IicpProtocolError(
          'unauthorized',
          'task requires auth.node_token or an X-IICP-Consumer-Token header',
        );
      }
      // IICP-CX: the encrypted payload becomes a plaintext one before the CALL schema.
      // Synchronous in Node (native crypto); a promise only where that is missing.
      let opened = openCxTask(body, request.headers, opts.cx, cxMetrics);
      if (opened instanceof Promise) opened = await opened;
      ({ body, session: cxSession } = opened);
      // The common CALL shape without the schema walk (same value, pinned by a test).
      task = fastTaskRequest(body) ?? parseWire(TaskRequestSchema, body);
      principal = authorizeTask(task, request.headers, state, mode);
      const handler = served.get(task.intent);
      if (!handler)
        throw new IicpProtocolError(
          'unknown_intent',
          'this node does not serve the requested intent',
          { details: { field: 'intent' } },
        );
      intentLabel = task.intent;
      if (!chatPayloadSurelyValid(task.intent, task.payload)) {
        const check = validateIntentPayload(task.intent, task.payload);
        if (!check.ok) throw check.error;
      }
      const missing = missingRequiredProfiles(task.constraints);
      if (missing.length > 0) {
        // iicp-service-lifecycle-profile.md §2 names `unsupported_profile`; it is not in
        // the project's error table, so it travels as the reason of a validation_error.
        throw new IicpProtocolError('validation_error', 'a required profile is not supported', {
          details: { field: 'constraints.required_profiles', reason: 'unsupported_profile' },
        });
      }
      if (handler.kind === 'mcp')
        mcpCall = mcp!.admit(task.payload, principal.kind === 'anonymous');
      if (seen.has(task.task_id)) throw new IicpProtocolError('conflict', 'task_id already used');
      const qos: Qos = task.constraints.qos ?? DEFAULT_QOS;
      try {
        slot = admission.acquire(qos, task.constraints.priority);
      } catch (err) {
        metrics?.rejected.inc({ reason: 'capacity_exceeded', qos });
        throw err;
      }
      seen.add(task.task_id);
    } catch (err) {
      cxSession?.sharedSecret.fill(0);
      if (!(err instanceof IicpProtocolError)) throw err;
      record(intentLabel, err.code, performance.now() - receivedAt);
      request.log.info({ task_id: taskId, code: err.code }, 'task refused');
      return sendError(reply, taskId, err);
    }

    const handler = served.get(task.intent)!;
    const model =
      handler.kind === 'mcp'
        ? `mcp:${mcp!.serverName}`
        : OPT_IN_OPERATIONS.includes(handler.op)
          ? pickAuxModel(handler.op, task.payload)
          : pickModel(task.payload);
    const abort = new AbortController();
    const entry: InFlight = {
      abort,
      intent: task.intent,
      principal,
      ip: request.ip,
      cancelled: false,
    };
    inFlight.set(task.task_id, entry);
    let timedOut = false;
    const budget = Math.max(1, task.constraints.timeout_ms - (performance.now() - receivedAt));
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, budget);
    // The caller went away: stop the backend work at once.
    const onClose = (): void => {
      if (!reply.raw.writableFinished) {
        entry.cancelled = true;
        abort.abort();
      }
    };
    reply.raw.once('close', onClose);
    const callOpts = { model, signal: abort.signal, timeoutMs: Math.ceil(budget) + 1_000 };
    /**
     * One buffered execution of whatever serves the intent. The backend's own promise
     * is handed on as it is: returning it from an async function would cost two more
     * microtask turns between the backend's answer and the reply.
     */
    const invoke = (): Promise<BackendResult> => {
      if (handler.kind !== 'llm') return invokeMcp();
      try {
        return backend!.invoke(handler.op, task.payload, callOpts);
      } catch (err) {
        return Promise.reject(err as Error);
      }
    };
    const invokeMcp = async (): Promise<BackendResult> => {
      const { tool, args } = mcpCall!;
      // Audit without arguments (redacted_audit).
      request.log.info(
        { task_id: task.task_id, tool: tool.name, risk_class: tool.riskClass },
        'mcp tool call',
      );
      const result = await mcp!.call(tool, args, {
        signal: abort.signal,
        timeoutMs: callOpts.timeoutMs,
        anonymous: principal.kind === 'anonymous',
      });
      return { result, model };
    };
    /** The task's bookkeeping; `latency` (ms) defaults to now. Returns it. */
    const finish = (status: string, tokens?: number, at?: number): number => {
      clearTimeout(timer);
      inFlight.delete(task.task_id);
      reply.raw.off('close', onClose);
      const latency = at ?? performance.now() - receivedAt;
      admission.observe(latency);
      releaseSlot(slot);
      record(task.intent, status, latency, tokens);
      request.log.info(
        { task_id: task.task_id, intent: task.intent, status, latency_ms: Math.round(latency) },
        'task finished',
      );
      return latency;
    };

    // A caller that asked for an encrypted response gets one buffered RESPONSE (D-070).
    if (
      !cxSession?.encryptResponse &&
      wantsLifecycleStream(task.constraints, request.headers.accept)
    ) {
      cxSession?.sharedSecret.fill(0);
      return streamTask(
        request,
        reply,
        task,
        handler,
        invoke,
        callOpts,
        entry,
        () => timedOut,
        finish,
        receivedAt,
      );
    }

    try {
      const r = await invoke();
      const latency = performance.now() - receivedAt;
      const meta = {
        metrics: {
          latency_ms: Math.round(latency * 1000) / 1000,
          ...(r.tokensUsed !== undefined ? { tokens_used: r.tokensUsed } : {}),
        },
        model_used: r.model,
        generated_by_ai: true,
        ...(task.trace?.trace_id ? { trace: { trace_id: task.trace.trace_id } } : {}),
      };
      let answer: Record<string, unknown>;
      if (cxSession?.encryptResponse) {
        const sealed = sealCxResult(cxSession, task.task_id, r.result, meta);
        answer = sealed instanceof Promise ? await sealed : sealed;
      } else {
        cxSession?.sharedSecret.fill(0);
        answer = {
          task_id: task.task_id,
          status: 'success',
          result: r.result,
          ...meta,
          error: null,
        };
      }
      // The answer goes out first; the bookkeeping (timer, metrics, admission, log)
      // follows in the same turn, before anything else can observe it, but after the
      // write that wakes the caller.
      sendAnswer(request, reply, answer);
      finish('success', r.tokensUsed, latency);
      return reply;
    } catch (err) {
      cxSession?.sharedSecret.fill(0);
      const e = executionError(err, timedOut);
      finish(entry.cancelled && !timedOut ? 'cancelled' : e.code);
      if (entry.cancelled && !timedOut)
        request.log.info({ task_id: task.task_id }, 'task cancelled');
      return sendError(
        reply,
        task.task_id,
        entry.cancelled && !timedOut ? new IicpProtocolError('backend_error', 'task cancelled') : e,
      );
    }
  });

  /** Lifecycle events over SSE (iicp-service-lifecycle-profile.md §3–§4). */
  async function streamTask(
    request: FastifyRequest,
    reply: FastifyReply,
    task: TaskRequest,
    handler: Handler,
    invoke: () => Promise<BackendResult>,
    callOpts: { model: string; signal: AbortSignal; timeoutMs: number },
    entry: InFlight,
    timedOut: () => boolean,
    finish: (status: string, tokens?: number, at?: number) => number,
    receivedAt: number,
  ): Promise<FastifyReply> {
    const raw = reply.raw;
    reply.hijack();
    const headers: Record<string, string> = {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': String(request.id),
      'x-accel-buffering': 'no',
    };
    const origin = corsOrigin(request);
    if (origin) headers['access-control-allow-origin'] = origin;
    raw.writeHead(200, headers);
    let sequence = 0;
    const emit = (event: LifecycleEventName, extra: Partial<LifecycleEvent> = {}): void => {
      if (raw.destroyed) return;
      const isFinal = event !== 'accepted' && event !== 'partial';
      raw.write(
        sseFrame({
          task_id: task.task_id,
          sequence: sequence++,
          event,
          is_final: isFinal,
          ...extra,
        }),
      );
    };
    // `accepted` is written once the backend request is on its way, not before: the
    // write wakes the caller, which on a busy machine can take the CPU first
    // (first-token latency). undici writes a request on a reused keep-alive socket in a
    // `setImmediate` (its idle-socket check), so `accepted` follows in the next one,
    // queued after it. It is still event 0: every other event goes through
    // `accepted()` first.
    let acceptedSent = false;
    const accepted = (): void => {
      if (acceptedSent) return;
      acceptedSent = true;
      emit('accepted');
    };
    type Summary = { tokensUsed?: number; model: string; finishReason: string | null };
    let succeeded: { latency: number; tokens?: number } | undefined;
    try {
      let pending: Promise<Summary>;
      if (handler.kind !== 'llm' || !isStreamOperation(handler.op)) {
        // Nothing to stream incrementally: one partial with the whole result.
        pending = invoke().then((r) => {
          accepted();
          emit('partial', { result: r.result });
          return {
            model: r.model,
            finishReason: null,
            ...(r.tokensUsed !== undefined ? { tokensUsed: r.tokensUsed } : {}),
          };
        });
      } else {
        pending = backend!.stream(handler.op, task.payload, callOpts, (chunk) => {
          accepted();
          emit('partial', { result: chunk });
        });
      }
      setImmediate(accepted);
      const summary = await pending;
      accepted();
      const latency = performance.now() - receivedAt;
      emit('completed', {
        status: 'success',
        // The final (empty) chunk in the same shape as the partial ones (§4).
        ...(handler.kind === 'llm' && isStreamOperation(handler.op)
          ? {
              result: {
                choices: [
                  {
                    index: 0,
                    ...(handler.op === 'completion' ? { text: '' } : { delta: {} }),
                    finish_reason: summary.finishReason,
                  },
                ],
              },
            }
          : {}),
        ...(summary.tokensUsed !== undefined ? { tokens_used: summary.tokensUsed } : {}),
        metrics: {
          latency_ms: Math.round(latency * 1000) / 1000,
          ...(summary.tokensUsed !== undefined ? { tokens_used: summary.tokensUsed } : {}),
        },
        model_used: summary.model,
        generated_by_ai: true,
        error: null,
      });
      succeeded = {
        latency,
        ...(summary.tokensUsed !== undefined ? { tokens: summary.tokensUsed } : {}),
      };
    } catch (err) {
      accepted();
      if (entry.cancelled && !timedOut()) {
        finish('cancelled');
        // Cancellation is not a failure: the terminal event carries no error (§4).
        emit('cancelled');
      } else {
        const e = executionError(err, timedOut());
        finish(e.code);
        const latency = performance.now() - receivedAt;
        emit(e.code === 'task_timeout' ? 'timed_out' : 'failed', {
          status: e.code === 'task_timeout' ? 'timeout' : 'error',
          error: e.toWire().error,
          metrics: { latency_ms: Math.round(latency * 1000) / 1000 },
        });
      }
    }
    if (!raw.destroyed) raw.end();
    // A success's bookkeeping follows the end of the stream (as for a buffered answer).
    if (succeeded) finish('success', succeeded.tokens, succeeded.latency);
    return reply;
  }

  // --- cancellation control ------------------------------------------------------------
  app.post('/v1/control', async (request, reply) => {
    const body = request.body;
    if (!isRecord(body) || typeof body.task_id !== 'string') {
      throw new IicpProtocolError('validation_error', 'control needs task_id', {
        details: { field: 'task_id' },
      });
    }
    const entry = inFlight.get(body.task_id);
    // Auth first, with the task's intent when it is known, so probing ids says nothing.
    const principal = authorizeTask(
      {
        intent: entry?.intent ?? '',
        ...(isRecord(body.auth) && typeof body.auth.node_token === 'string'
          ? { auth: { node_token: body.auth.node_token } }
          : {}),
      },
      request.headers,
      state,
      mode,
    );
    const owner = entry?.principal;
    const allowed =
      entry !== undefined &&
      (principal.kind === 'node_token' ||
        (principal.kind === 'consumer' &&
          owner?.kind === 'consumer' &&
          owner.sub === principal.sub) ||
        (principal.kind === 'anonymous' && owner?.kind === 'anonymous' && entry.ip === request.ip));
    if (!entry || !allowed) throw new IicpProtocolError('not_found', 'no such task in flight');
    entry.cancelled = true;
    entry.abort.abort();
    return reply.code(200).send({ task_id: body.task_id, state: 'cancelled' });
  });

  return app;
}
