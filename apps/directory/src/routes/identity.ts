/**
 * Directory identity routes: `GET /directory-key` (iicp-dir.md §3.12), and outside the
 * prefixes `/.well-known/did.json` (iicp-federated-directory.md §4) with the trusted
 * replicas registry it names (§6.4; empty until replicas exist).
 */
import type { DirectoryKeyResponse } from '@iicp/wire';
import type { FastifyInstance, FastifyReply, FastifyRequest } from '@iicp/http';
import { clientIp, type DirectoryContext } from '../context.ts';
import { didDocument } from '../identity.ts';
import { enforceLimit } from './trust-common.ts';

/** "public; 30/min" (iicp-dir.md §3.12). */
export const DIRECTORY_KEY_RATE_LIMIT = 30;

async function directoryKey(
  ctx: DirectoryContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<DirectoryKeyResponse> {
  await enforceLimit(
    ctx,
    reply,
    `directory-key:${clientIp(ctx, req)}`,
    DIRECTORY_KEY_RATE_LIMIT,
    60_000,
    'directory key requests',
  );
  void reply.header('cache-control', 'public, max-age=300');
  return { public_key: ctx.key.publicKeyHex, algorithm: 'ed25519' };
}

export function identityRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  app.get('/directory-key', (req, reply) => directoryKey(ctx, req, reply));
}

/** Routes at the origin root, outside `/v1` and `/api/v1`. */
export function wellKnownRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  const doc = didDocument(ctx.config.publicUrl, ctx.key);
  app.get('/.well-known/did.json', (_req, reply) => {
    void reply.header('cache-control', 'public, max-age=300');
    return doc;
  });
  app.get('/.well-known/iicp-replicas.json', () => ({
    schema_version: '2',
    genesis_seed: ctx.did,
    updated_at: new Date(ctx.now()).toISOString(),
    replicas: [],
  }));
}
