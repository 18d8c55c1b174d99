/**
 * A small scripted directory for relay tests: serves the directory key, accepts
 * REGISTER (validated with the wire schema, liveness-probing `{endpoint}/iicp/health`),
 * heartbeats and deregistration, and issues relay bind tickets. Records what it saw.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { DirectoryKey, issueRelayBindTicket } from '@iicp/crypto';
import { createIicpServer, type IicpFastifyInstance } from '@iicp/http';
import {
  HeartbeatRequestSchema,
  IicpProtocolError,
  RegisterRequestSchema,
  type HeartbeatRequest,
  type RegisterRequest,
} from '@iicp/wire';

export interface ScriptedDirectory {
  app: IicpFastifyInstance;
  url: string;
  key: DirectoryKey;
  registrations: RegisterRequest[];
  heartbeats: HeartbeatRequest[];
  deregistered: string[];
  probes: number;
  /** Refuse the key route (503) until set to true. */
  keyReady: boolean;
  ticket(nodeId: string): string;
  close(): Promise<void>;
}

export async function startDirectory(): Promise<ScriptedDirectory> {
  const app = await createIicpServer({ metrics: false, openapi: false });
  const key = DirectoryKey.generate();
  const tokens = new Map<string, string>();
  const d: ScriptedDirectory = {
    app,
    url: '',
    key,
    registrations: [],
    heartbeats: [],
    deregistered: [],
    probes: 0,
    keyReady: true,
    ticket: (nodeId) => issueRelayBindTicket({ signer: key, issuer: d.url, nodeId }).ticket,
    close: () => app.close(),
  };
  app.get('/api/v1/directory-key', async () => {
    if (!d.keyReady) throw new IicpProtocolError('service_unavailable', 'no key yet');
    return { public_key: key.publicKeyHex, algorithm: 'ed25519' };
  });
  app.post('/v1/register', { schema: { body: RegisterRequestSchema } }, async (req, reply) => {
    const probe = await fetch(`${req.body.endpoint}/iicp/health`).catch(() => undefined);
    d.probes += 1;
    if (!probe || probe.status !== 200) {
      throw new IicpProtocolError('liveness_failed', 'endpoint did not answer its health probe');
    }
    d.registrations.push(req.body);
    const nodeId = req.body.node_id ?? randomUUID();
    const token = randomBytes(32).toString('hex');
    tokens.set(nodeId, token);
    reply.code(201);
    return { node_id: nodeId, node_token: token, expires_at: null, directory: d.url };
  });
  const auth = (nodeId: string, header: string | undefined) => {
    if (header !== `Bearer ${tokens.get(nodeId)}`) {
      throw new IicpProtocolError('unauthorized', 'bad node token');
    }
  };
  app.post('/v1/heartbeat', { schema: { body: HeartbeatRequestSchema } }, async (req) => {
    auth(req.body.node_id, req.headers.authorization);
    d.heartbeats.push(req.body);
    return { ok: true, next_heartbeat_ms: 30_000 };
  });
  app.delete('/v1/register', async (req) => {
    const nodeId = (req.body as { node_id: string }).node_id;
    auth(nodeId, req.headers.authorization);
    d.deregistered.push(nodeId);
    tokens.delete(nodeId);
    return { deregistered: true };
  });
  d.url = await app.listen({ host: '127.0.0.1', port: 0 });
  return d;
}
