/** Helpers shared by the trust routes (identity, events, tokens, tickets, probe). */
import { IicpProtocolError } from '@iicp/wire';
import type { FastifyReply } from '@iicp/http';
import type { DirectoryContext } from '../context.ts';

/**
 * Count one hit in the database's atomic limiter (shared by every instance on one
 * PostgreSQL) and answer 429 `rate_limited` with `retry_after` when over.
 */
export async function enforceLimit(
  ctx: DirectoryContext,
  reply: FastifyReply,
  bucket: string,
  limit: number,
  windowMs: number,
  what: string,
): Promise<void> {
  const r = await ctx.store.hitRateLimit(bucket, limit, windowMs, ctx.now());
  if (!r.allowed) {
    void reply.header('retry-after', String(r.retryAfterS));
    throw new IicpProtocolError('rate_limited', `too many ${what}`, {
      status: 429,
      details: { retry_after: r.retryAfterS },
    });
  }
}

/** Whole seconds of the directory clock (token and ticket `iat`). */
export function unixNow(ctx: DirectoryContext): number {
  return Math.floor(ctx.now() / 1000);
}
