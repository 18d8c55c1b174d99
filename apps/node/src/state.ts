/**
 * What the serving side and the directory client share at run time: the identity the
 * directory issued (node_id, node_token), the directory key cached at registration
 * (for consumer tokens, iicp-dir.md §3.12), the served models and backend health.
 */
export class NodeRuntimeState {
  nodeId: string | null = null;
  nodeToken: string | null = null;
  /** Raw 32-byte Ed25519 key of the directory; null until fetched. */
  directoryPublicKey: Uint8Array | null = null;
  /** Directory identity (origin URL) for the consumer-token `iss` check. */
  directoryIssuer: string | null = null;
  models: string[] = [];
  backendHealthy = true;
  lastHeartbeatAt: number | null = null;
  lastRegisteredAt: number | null = null;
  observedSourceIp: string | null = null;
  /** Set while draining for shutdown: new tasks are refused. */
  draining = false;

  constructor(init: Partial<Omit<NodeRuntimeState, 'draining'>> = {}) {
    Object.assign(this, init);
  }
}
