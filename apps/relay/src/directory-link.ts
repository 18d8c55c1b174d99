/**
 * The relay's side of the directory: fetch the directory key that bind tickets are
 * verified against (iicp-dir.md §7.4, key at `GET /api/v1/directory-key`, §3.12),
 * register as a `relay_capable` node (§3.1, §3.4) and heartbeat like any node (§3.2).
 */
import { fromHexStrict } from '@iicp/crypto';
import { createHttpClient, type HttpClient } from '@iicp/http';
import {
  DirectoryKeyResponseSchema,
  HEARTBEAT_INTERVAL_MS,
  HeartbeatResponseSchema,
  IicpLocalError,
  RegisterAckSchema,
  safeParseWire,
  type HeartbeatRequest,
  type RegisterRequest,
} from '@iicp/wire';
import { RELAY_INTENT } from './constants.ts';

export interface DirectoryLinkLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DirectoryLinkOptions {
  directoryUrl: string;
  /** Region announced at REGISTER. */
  region: string;
  /** Max concurrent sessions, announced as `limits.max_concurrent` (1–256). */
  maxSessions: number;
  /** Load in [0,1] and active jobs for heartbeats. */
  load(): { load: number; activeJobs: number };
  log: DirectoryLinkLog;
  /** Retry delay after a failed key fetch or registration. */
  retryMs?: number;
  /** Overrides the directory's `next_heartbeat_ms` (tests). */
  heartbeatIntervalMs?: number;
  timeoutMs?: number;
}

export interface Registration {
  nodeId: string;
  nodeToken: string;
}

/** Key, registration and heartbeats against one directory. */
export class DirectoryLink {
  readonly #http: HttpClient;
  readonly #base: string;
  #key: Uint8Array | undefined;
  #registration: Registration | undefined;
  #endpoint: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #keyTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  heartbeats = 0;

  constructor(readonly opts: DirectoryLinkOptions) {
    this.#base = opts.directoryUrl.replace(/\/+$/, '');
    // The directory URL is the operator's own setting, so no SSRF guard (D-033 applies
    // to URLs a peer supplies).
    this.#http = createHttpClient({
      timeoutMs: opts.timeoutMs ?? 5_000,
      maxResponseBytes: 1 << 20,
    });
  }

  get directoryKey(): Uint8Array | undefined {
    return this.#key;
  }
  get registration(): Registration | undefined {
    return this.#registration;
  }

  /** `GET /api/v1/directory-key` → the 32-byte Ed25519 key. */
  async fetchKey(): Promise<Uint8Array> {
    const res = await this.#http.request({
      url: `${this.#base}/api/v1/directory-key`,
      throwOnHttpError: true,
    });
    const parsed = safeParseWire(DirectoryKeyResponseSchema, res.body);
    if (!parsed.ok)
      throw new IicpLocalError('bad_directory_key', 'directory key reply is malformed');
    const key = fromHexStrict(parsed.value.public_key.toLowerCase(), 32);
    if (!key) throw new IicpLocalError('bad_directory_key', 'directory key is not 32 bytes');
    this.#key = key;
    return key;
  }

  /** Fetch the key, retrying in the background until it succeeds or the link stops. */
  async fetchKeyWithRetry(): Promise<void> {
    try {
      await this.fetchKey();
      this.opts.log.info({}, 'directory key loaded');
    } catch (err) {
      this.opts.log.warn({ err: describe(err) }, 'directory key not available yet; retrying');
      if (this.#stopped) return;
      clearTimeout(this.#keyTimer);
      this.#keyTimer = setTimeout(() => void this.fetchKeyWithRetry(), this.opts.retryMs ?? 5_000);
      this.#keyTimer.unref();
    }
  }

  /** REGISTER as a relay-capable node at `endpoint`, then heartbeat until stopped. */
  start(endpoint: string): void {
    this.#endpoint = endpoint;
    void this.#register();
  }

  registerBody(endpoint: string): RegisterRequest {
    return {
      endpoint,
      region: this.opts.region,
      capabilities: [{ intent: RELAY_INTENT }],
      limits: { max_concurrent: Math.max(1, Math.min(256, this.opts.maxSessions)) },
      relay_capable: true,
      transport_method: 'direct',
      implementation_name: 'iicp-ts-relay',
      ...(this.#registration
        ? { node_id: this.#registration.nodeId, current_node_token: this.#registration.nodeToken }
        : {}),
    };
  }

  async #register(): Promise<void> {
    if (this.#stopped || !this.#endpoint) return;
    try {
      const res = await this.#http.request({
        url: `${this.#base}/v1/register`,
        method: 'POST',
        body: this.registerBody(this.#endpoint),
        throwOnHttpError: true,
      });
      const ack = safeParseWire(RegisterAckSchema, res.body);
      if (!ack.ok) throw new IicpLocalError('bad_register_ack', 'REGISTER ack is malformed');
      this.#registration = { nodeId: ack.value.node_id, nodeToken: ack.value.node_token };
      this.opts.log.info({ node_id: ack.value.node_id }, 'registered with the directory as relay');
      this.#schedule(
        () => this.#heartbeat(),
        this.opts.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS,
      );
    } catch (err) {
      this.opts.log.warn({ err: describe(err) }, 'relay registration failed; retrying');
      this.#schedule(() => this.#register(), this.opts.retryMs ?? 5_000);
    }
  }

  async #heartbeat(): Promise<void> {
    const reg = this.#registration;
    if (this.#stopped || !reg) return;
    const { load, activeJobs } = this.opts.load();
    const body: HeartbeatRequest = {
      node_id: reg.nodeId,
      load: Math.min(1, Math.max(0, load)),
      active_jobs: activeJobs,
      available: true,
    };
    let next = this.opts.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
    try {
      const res = await this.#http.request({
        url: `${this.#base}/v1/heartbeat`,
        method: 'POST',
        body,
        headers: { authorization: `Bearer ${reg.nodeToken}` },
        throwOnHttpError: false,
      });
      if (res.status === 401 || res.status === 404) {
        // Forgotten or token rotated elsewhere: register afresh.
        this.opts.log.warn(
          { status: res.status },
          'directory refused the heartbeat; re-registering',
        );
        this.#registration = undefined;
        void this.#register();
        return;
      }
      const pong = safeParseWire(HeartbeatResponseSchema, res.body);
      if (pong.ok) {
        this.heartbeats += 1;
        if (this.opts.heartbeatIntervalMs === undefined) next = pong.value.next_heartbeat_ms;
      } else {
        this.opts.log.warn({ status: res.status }, 'heartbeat not accepted');
      }
    } catch (err) {
      this.opts.log.warn({ err: describe(err) }, 'heartbeat failed');
    }
    this.#schedule(() => this.#heartbeat(), next);
  }

  #schedule(fn: () => Promise<void>, ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void fn(), ms);
    this.#timer.unref();
  }

  /** Stop heartbeating and deregister (best effort), then close the client. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#keyTimer);
    const reg = this.#registration;
    if (reg) {
      try {
        await this.#http.request({
          url: `${this.#base}/v1/register`,
          method: 'DELETE',
          body: { node_id: reg.nodeId },
          headers: { authorization: `Bearer ${reg.nodeToken}` },
          throwOnHttpError: false,
          timeoutMs: 2_000,
        });
      } catch {
        // Best effort: the directory forgets a silent node after its liveness window.
      }
    }
    await this.#http.close();
  }
}

/** Error summary for logs: the class and code, never a body. */
function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${err.name}${typeof code === 'string' ? ` ${code}` : ''}: ${err.message}`;
  }
  return String(err);
}
