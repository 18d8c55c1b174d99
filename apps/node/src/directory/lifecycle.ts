import { EventEmitter } from 'node:events';
import {
  challengeResponse,
  fromHexStrict,
  signOperatorDelegation,
  type Ed25519Signer,
} from '@iicp/crypto';
import {
  HEARTBEAT_INTERVAL_MS,
  IicpProtocolError,
  type Capability,
  type CxPublicKey,
  type HeartbeatRequest,
  type RegisterAck,
  type RegisterRequest,
} from '@iicp/wire';
import type { Backend } from '../backends/types.ts';
import type { NodeRuntimeState } from '../state.ts';
import { DirectoryClient } from './client.ts';
import type { NodeStateStore, PersistedNodeState } from './store.ts';

/** Lifetime of the operator delegation sent with each REGISTER (short: expiry is revocation). */
export const DELEGATION_LIFETIME_S = 7 * 24 * 3600;

export interface RegistrationProfile {
  /** Public URL peers call (`endpoint`, iicp-core.md §2.1). */
  endpoint: string;
  region: string;
  maxConcurrent: number;
  /** Capabilities without `models`; the served models are added at each registration. */
  capabilities: Capability[];
  backend?: string;
  /** Node id to claim on first registration (init creates one so it can be delegated). */
  preferredNodeId?: string;
  operator?: Ed25519Signer;
  implementationVersion?: string;
  /** IICP-CX key advertised as `cx_public_key` (iicp-confidentiality.md §3.1). */
  cxPublicKey?: () => CxPublicKey;
}

export interface NodeLifecycleOptions {
  directoryUrl: string;
  state: NodeRuntimeState;
  store: NodeStateStore;
  profile: RegistrationProfile;
  /** Current load and active jobs, sampled for each heartbeat. */
  load: () => { load: number; activeJobs: number };
  /** Refreshed each heartbeat; a changed list re-registers. */
  backend?: Pick<Backend, 'listModels'>;
  client?: DirectoryClient;
}

export type LifecycleEvents = {
  registered: [RegisterAck];
  heartbeat: [number];
  /** A non-fatal failure (heartbeat, model refresh, key fetch); EventEmitter's `error` would throw. */
  warn: [Error];
};

function sameModels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().every((m, i) => m === [...b].sort()[i]);
}

/**
 * The node's directory lifecycle (iicp-dir.md §3.1–§3.2): register or refresh with
 * `current_node_token` (persisting the rotated token at once), cache the directory key
 * for consumer tokens, heartbeat every `next_heartbeat_ms` with load and active jobs,
 * re-register on 401/404, refresh the model list each heartbeat (re-registering when
 * it changed) and deregister on stop.
 */
export class NodeLifecycle extends EventEmitter<LifecycleEvents> {
  readonly client: DirectoryClient;
  readonly #o: NodeLifecycleOptions;
  #persisted: PersistedNodeState | undefined;
  #timer: NodeJS.Timeout | undefined;
  #nextMs = HEARTBEAT_INTERVAL_MS;
  #challenge: string | undefined;
  #stopped = false;
  #beat: Promise<void> | undefined;
  #serial: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(o: NodeLifecycleOptions) {
    super();
    this.#o = o;
    this.client = o.client ?? new DirectoryClient(o.directoryUrl);
  }

  get nextHeartbeatMs(): number {
    return this.#nextMs;
  }

  /** Register (or refresh a persisted registration) and start heartbeating. */
  async start(): Promise<RegisterAck> {
    this.#stopped = false;
    const saved = await this.#o.store.load();
    // A registration made with another directory is not ours to refresh.
    this.#persisted = saved && saved.directory_url === this.#o.directoryUrl ? saved : undefined;
    await this.#refreshModels();
    const ack = await this.register();
    this.#schedule(0);
    return ack;
  }

  /** REGISTER; with a persisted identity, as a refresh that rotates the token. */
  async register(): Promise<RegisterAck> {
    const p = this.#persisted;
    let ack: RegisterAck;
    try {
      ack = await this.client.register(this.#request(p));
    } catch (err) {
      // The old token no longer proves ownership (expired, revoked, directory reset):
      // register afresh rather than stay out of the mesh.
      if (!(p && err instanceof IicpProtocolError && [401, 403, 404, 409].includes(err.status)))
        throw err;
      ack = await this.client.register(this.#request(undefined));
    }
    await this.#accept(ack);
    return ack;
  }

  #request(p: PersistedNodeState | undefined): RegisterRequest {
    const pr = this.#o.profile;
    const models = this.#o.state.models;
    const nodeId = p?.node_id ?? pr.preferredNodeId;
    const req: RegisterRequest = {
      endpoint: pr.endpoint,
      region: pr.region,
      capabilities: pr.capabilities.map((c) =>
        models.length > 0 ? { ...c, models: [...models] } : c,
      ),
      limits: { max_concurrent: pr.maxConcurrent },
      implementation_name: 'iicp-ts-node',
      ...(pr.implementationVersion ? { implementation_version: pr.implementationVersion } : {}),
      ...(pr.backend ? { backend: pr.backend } : {}),
      ...(nodeId ? { node_id: nodeId } : {}),
      ...(p ? { current_node_token: p.node_token } : {}),
      ...(pr.cxPublicKey ? { cx_public_key: pr.cxPublicKey() } : {}),
    };
    if (pr.operator && nodeId) {
      const notAfter = Math.floor(Date.now() / 1000) + DELEGATION_LIFETIME_S;
      req.operator_delegation = { ...signOperatorDelegation(nodeId, notAfter, pr.operator) };
    }
    return req;
  }

  async #accept(ack: RegisterAck): Promise<void> {
    const s = this.#o.state;
    let directoryKeyHex = this.#persisted?.directory_public_key;
    const next: PersistedNodeState = {
      directory_url: this.#o.directoryUrl,
      node_id: ack.node_id,
      node_token: ack.node_token,
      ...(ack.node_hmac_key ? { node_hmac_key: ack.node_hmac_key } : {}),
      ...(ack.observed_source_ip ? { observed_source_ip: ack.observed_source_ip } : {}),
      registered_at: new Date().toISOString(),
      models: [...s.models],
    };
    // Persist before anything else can fail: the previous token is already dead.
    this.#persisted = {
      ...next,
      ...(directoryKeyHex ? { directory_public_key: directoryKeyHex } : {}),
    };
    await this.#o.store.save(this.#persisted);
    s.nodeId = ack.node_id;
    s.nodeToken = ack.node_token;
    s.lastRegisteredAt = Date.now();
    s.observedSourceIp = ack.observed_source_ip ?? null;
    s.directoryIssuer = this.#o.directoryUrl;
    try {
      directoryKeyHex = (await this.client.directoryKey()).public_key.toLowerCase();
      this.#persisted = { ...this.#persisted, directory_public_key: directoryKeyHex };
      await this.#o.store.save(this.#persisted);
    } catch (err) {
      // Without the key consumer tokens are refused; node tokens still work.
      this.emit('warn', err as Error);
    }
    s.directoryPublicKey = directoryKeyHex ? (fromHexStrict(directoryKeyHex, 32) ?? null) : null;
    this.emit('registered', ack);
  }

  async #refreshModels(): Promise<boolean> {
    const b = this.#o.backend;
    if (!b) return false;
    try {
      const models = await b.listModels({ timeoutMs: 5_000 });
      this.#o.state.backendHealthy = true;
      if (sameModels(models, this.#o.state.models)) return false;
      this.#o.state.models = models;
      return true;
    } catch (err) {
      this.#o.state.backendHealthy = false;
      this.emit('warn', err as Error);
      return false;
    }
  }

  /**
   * One heartbeat (and model refresh); re-registers on 401/404 or changed models.
   * Calls are serialised, so a scheduled beat and a direct call never interleave.
   */
  heartbeatOnce(): Promise<void> {
    const run = this.#serial.then(() => this.#heartbeat());
    this.#serial = run.catch(() => undefined);
    return run;
  }

  async #heartbeat(): Promise<void> {
    const s = this.#o.state;
    if (!s.nodeId || !s.nodeToken) {
      await this.register();
      return;
    }
    if (await this.#refreshModels()) {
      await this.register();
    }
    const { load, activeJobs } = this.#o.load();
    const req: HeartbeatRequest = {
      node_id: s.nodeId!,
      load: Math.min(1, Math.max(0, load)),
      active_jobs: activeJobs,
      available: s.backendHealthy && !s.draining,
    };
    const key = this.#persisted?.node_hmac_key;
    if (key && this.#challenge) req.challenge_response = challengeResponse(key, this.#challenge);
    try {
      const pong = await this.client.heartbeat(req, s.nodeToken!);
      this.#nextMs = pong.next_heartbeat_ms;
      this.#challenge = pong.challenge;
      s.lastHeartbeatAt = Date.now();
      if (this.#persisted) {
        this.#persisted = {
          ...this.#persisted,
          last_heartbeat_at: new Date(s.lastHeartbeatAt).toISOString(),
        };
        await this.#o.store.save(this.#persisted);
      }
      this.emit('heartbeat', this.#nextMs);
    } catch (err) {
      if (err instanceof IicpProtocolError && (err.status === 401 || err.status === 404)) {
        this.#challenge = undefined;
        await this.register();
        return;
      }
      throw err;
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#beat = this.heartbeatOnce()
        .catch((err: unknown) => {
          this.emit('warn', err as Error);
        })
        .finally(() => {
          this.#beat = undefined;
          this.#schedule(this.#nextMs);
        });
    }, delayMs);
    this.#timer.unref();
  }

  /** Stop heartbeating and deregister (call after in-flight tasks have drained). */
  async stop(opts: { deregister?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#beat;
    const s = this.#o.state;
    if (opts.deregister !== false && s.nodeId && s.nodeToken) {
      try {
        await this.client.deregister(s.nodeId, s.nodeToken);
      } catch (err) {
        this.emit('warn', err as Error);
      }
    }
    if (!this.#closed) {
      this.#closed = true;
      await this.client.close();
    }
  }
}
