/**
 * Credits extension `/v1/credits/*` (iicp-dir.md §8 IICP-DIR-EXT-CREDITS;
 * iicp-billing-extension.md §7–§8; iicp-cooperative-inference.md §7.1, §10.3, §10.6;
 * spec/decisions.md D-052, D-057). Every route authenticates the Bearer node_token
 * before the body or query is read (401), then:
 * - `GET balance` (runs the lazy evaluation grant), `GET transactions`, `GET summary`;
 * - `GET quote?intent&max_tokens&nodes`: price estimate plus the caller's balance;
 * - `POST award`: a coordinator forwards a worker's CIP receipt. Checked in the
 *   order of §10.3 — key provisioned, `response_hash`, HMAC (constant time), ceiling
 *   `ceil(tokens/1000) × multiplier × 1.1`, hourly cap — then credited in one
 *   transaction with the nonce lock, so a refused receipt never burns its nonce.
 *   Every refusal is 422 `IICP-E027`.
 */
import { randomBytes } from 'node:crypto';
import { verifyReceipt, type ReceiptFailure } from '@iicp/crypto';
import { IicpProtocolError, IntentUrnSchema, NonNegativeIntSchema, parseWire } from '@iicp/wire';
import type { FastifyInstance, FastifyReply, FastifyRequest } from '@iicp/http';
import { z } from 'zod';
import { nodeHmacKey } from '../accounting.ts';
import { authedNode, isLive, requireNode, type DirectoryContext } from '../context.ts';
import type { StoredNode } from '../storage/node-store.ts';

/** Tokens per credit at the 7B reference tier (iicp-billing-extension.md §2, §10.2). */
export const TOKENS_PER_CREDIT = 1000;
/** Rounding tolerance of the award ceiling (iicp-cooperative-inference.md §10.3). */
export const AWARD_CEILING_TOLERANCE = 1.1;
/** Nonces are kept this long past the receipt's `expires_at` (§10.3: ≥ 24 h). */
export const NONCE_RETENTION_MS = 24 * 3600_000;
/** Quotes are valid ≤ 60 s (iicp-billing-extension.md §8.3). */
export const QUOTE_TTL_MS = 60_000;

const ShortString = z.string().min(1).max(128);

/**
 * Award request: the worker's CIPWorkerReceipt as the coordinator forwards it
 * (iicp-cooperative-inference.md §10.3; D-052). The worker id may be named `node_id`,
 * `worker_id` or `worker_node_id`.
 */
export const CreditAwardSchema = z.looseObject({
  node_id: ShortString.optional(),
  worker_id: ShortString.optional(),
  worker_node_id: ShortString.optional(),
  task_id: ShortString,
  tokens_used: NonNegativeIntSchema,
  amount: z.number().positive().max(1_000_000),
  nonce: z.string().max(256),
  expires_at: z.union([z.string().max(64), z.number()]),
  signature: z.string().max(256),
  response_hash: z.string().max(256).optional(),
  cip_parent_task_id: z.string().max(128).nullable().optional(),
  cip_session_key: z.string().max(256).nullable().optional(),
  querying_node_id: z.string().max(128).nullable().optional(),
});
export type CreditAward = z.infer<typeof CreditAwardSchema>;

/** `GET /v1/credits/quote` query (iicp-billing-extension.md §8.1). */
export const CreditQuoteQuerySchema = z.looseObject({
  intent: IntentUrnSchema,
  max_tokens: z.coerce.number().int().positive().max(10_000_000),
  nodes: z
    .string()
    .max(50 * 40)
    .optional(),
});

export const CreditTransactionsQuerySchema = z.looseObject({
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

function e027(message: string): IicpProtocolError {
  return new IicpProtocolError('IICP-E027', message, { status: 422 });
}

const RECEIPT_MESSAGES: Record<ReceiptFailure, string> = {
  hmac_key_missing: 'Node HMAC key not provisioned',
  missing_response_hash: 'CIPWorkerReceipt missing response_hash',
  malformed: 'CIPWorkerReceipt is malformed',
  bad_signature: 'CIPWorkerReceipt signature does not verify',
  response_hash_mismatch: 'CIPWorkerReceipt response_hash does not match',
};

const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;

function multiplierOf(n: StoredNode): number {
  const p = n.record['pricing'] as { credit_cost_multiplier?: unknown } | null | undefined;
  const m = p?.credit_cost_multiplier;
  return typeof m === 'number' && Number.isFinite(m) && m > 0 ? m : 1;
}

/** `expires_at` as ISO-8601 or unix seconds → epoch ms, or undefined. */
function expiryMs(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? v * 1000 : undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

async function award(ctx: DirectoryContext, req: FastifyRequest): Promise<Record<string, unknown>> {
  const caller = authedNode(req);
  const a = parseWire(CreditAwardSchema, req.body);
  const workerId = a.node_id ?? a.worker_id ?? a.worker_node_id;
  if (workerId === undefined) {
    throw new IicpProtocolError('validation_error', 'node_id (the worker) is required', {
      details: { field: 'node_id' },
    });
  }
  // "A Worker MUST NOT self-report credit awards" (iicp-cooperative-inference.md §7).
  if (workerId === caller.nodeId) throw e027('a worker cannot submit its own credit award');
  if (!a.cip_parent_task_id) throw e027('cip_parent_task_id is required for a credit award');
  const now = ctx.now();
  const expires = expiryMs(a.expires_at);
  if (expires === undefined || expires < now) throw e027('CIPWorkerReceipt has expired');
  const acc = ctx.accounting;
  const key = await nodeHmacKey(acc, workerId);
  const v = verifyReceipt(
    {
      task_id: a.task_id,
      tokens_used: a.tokens_used,
      cip_parent_task_id: a.cip_parent_task_id,
      cip_session_key: a.cip_session_key ?? '',
      nonce: a.nonce,
      response_hash: a.response_hash as string,
      querying_node_id: a.querying_node_id ?? null,
      signature: a.signature,
    },
    { nodeHmacKey: key },
  );
  if (!v.ok) throw e027(RECEIPT_MESSAGES[v.reason]);
  const worker = await ctx.store.get(workerId);
  const multiplier = worker ? multiplierOf(worker) : 1;
  const ceiling =
    Math.ceil(a.tokens_used / TOKENS_PER_CREDIT) * multiplier * AWARD_CEILING_TOLERANCE;
  const amount = round4(a.amount);
  if (amount > ceiling + 1e-9) {
    throw e027(`amount exceeds the receipt ceiling of ${round4(ceiling)} credits`);
  }
  const querying = a.querying_node_id ? a.querying_node_id : null;
  const r = await acc.store.award({
    workerId,
    nonce: a.nonce,
    nonceKeepUntil: expires + NONCE_RETENTION_MS,
    amount,
    hourlyCap: acc.settings.creditHourlyCap,
    taskId: a.task_id,
    tokensUsed: a.tokens_used,
    parentTaskId: a.cip_parent_task_id,
    queryingNodeId: querying,
    now,
  });
  if (!r.ok) {
    throw e027(
      r.reason === 'nonce_replayed'
        ? 'receipt nonce already used'
        : `Credit award rate limit exceeded (max ${acc.settings.creditHourlyCap} credits/hour per node)`,
    );
  }
  return {
    awarded: true,
    node_id: workerId,
    amount,
    balance: r.balance,
    spent: r.spent,
    ...(r.spendReason ? { spend_reason: r.spendReason } : {}),
    transaction_id: r.transactionId,
    currency: 'iicp_credits',
  };
}

async function balance(
  ctx: DirectoryContext,
  req: FastifyRequest,
): Promise<Record<string, unknown>> {
  const node = authedNode(req);
  const now = ctx.now();
  // The evaluation grant may be given lazily on a balance query (§7.1 "Trigger").
  await ctx.accounting.store.maybeFreeGrant(node.nodeId, node.observedIp, now);
  const a = await ctx.accounting.store.account(node.nodeId);
  return {
    node_id: node.nodeId,
    balance: round4(Number(a?.balance ?? 0)),
    currency: 'iicp_credits',
    last_free_grant_at:
      a?.free_grant_at == null ? null : new Date(Number(a.free_grant_at)).toISOString(),
  };
}

async function transactions(
  ctx: DirectoryContext,
  req: FastifyRequest,
): Promise<Record<string, unknown>> {
  const node = authedNode(req);
  const q = parseWire(CreditTransactionsQuerySchema, req.query);
  const rows = await ctx.accounting.store.transactions(node.nodeId, q.limit ?? 50);
  const list = rows.map((r) => ({
    id: r.id,
    tx_type: r.tx_type,
    // The reference encoding's pair (iicp-billing-extension.md §11.1).
    type: r.tx_type === 'spend' ? 'debit' : 'credit',
    amount: round4(Number(r.amount)),
    balance_after: round4(Number(r.balance_after)),
    reason: r.reason,
    task_id: r.task_id,
    counterparty_node_id: r.counterparty_node_id,
    created_at: new Date(Number(r.created_at)).toISOString(),
  }));
  return { node_id: node.nodeId, transactions: list, count: list.length };
}

async function summary(
  ctx: DirectoryContext,
  req: FastifyRequest,
): Promise<Record<string, unknown>> {
  const node = authedNode(req);
  const a = await ctx.accounting.store.account(node.nodeId);
  const earned = round4(Number(a?.total_earned ?? 0));
  const spent = round4(Number(a?.total_spent ?? 0));
  const bal = round4(Number(a?.balance ?? 0));
  return {
    node_id: node.nodeId,
    total_earned: earned,
    total_spent: spent,
    balance: bal,
    tx_count: Number(a?.tx_count ?? 0),
    reconciles: Math.abs(bal - (earned - spent)) < 1e-4,
    operator_wallet: null,
  };
}

function hasIntent(n: StoredNode, intent: string): boolean {
  const caps = n.record['capabilities'];
  return Array.isArray(caps) && caps.some((c) => (c as { intent?: unknown }).intent === intent);
}

/** Credits per 1000 tokens a node asks: its CIP price, else multiplier × the 7B weight 1.0. */
function pricePer1000(n: StoredNode): number {
  const cip = n.record['cip_policy'] as { pricing_credits_per_1000?: unknown } | null | undefined;
  const p = cip?.pricing_credits_per_1000;
  return typeof p === 'number' && Number.isFinite(p) && p > 0 ? p : multiplierOf(n);
}

async function quote(ctx: DirectoryContext, req: FastifyRequest): Promise<Record<string, unknown>> {
  const caller = authedNode(req);
  const q = parseWire(CreditQuoteQuerySchema, req.query);
  const now = ctx.now();
  const ids = q.nodes
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .slice(0, 50);
  const pool: StoredNode[] = [];
  if (ids) {
    for (const id of ids) {
      const n = ctx.nodes.get(id);
      if (n && isLive(n, now) && hasIntent(n, q.intent)) pool.push(n);
    }
  } else {
    for (const n of ctx.nodes.values()) {
      const remote = (n.record['cip_policy'] as { allow_remote_inference?: unknown } | null)
        ?.allow_remote_inference;
      if (n.nodeId !== caller.nodeId && remote === true && isLive(n, now) && hasIntent(n, q.intent))
        pool.push(n);
    }
  }
  const price = pool.length ? pool.reduce((s, n) => s + pricePer1000(n), 0) / pool.length : 1;
  const estimated = round4(Math.ceil(q.max_tokens / TOKENS_PER_CREDIT) * price);
  const a = await ctx.accounting.store.account(caller.nodeId);
  const bal = round4(Number(a?.balance ?? 0));
  return {
    quote_id: `q_${randomBytes(6).toString('hex')}`,
    estimated_credits: estimated,
    price_per_1000_tokens: round4(price),
    nodes_quoted: pool.length,
    quote_expires_at: new Date(now + QUOTE_TTL_MS).toISOString(),
    currency: 'iicp_credits',
    consumer_balance: bal,
    effective_balance: bal,
    balance_scope: 'node',
    operator_wallet_balance: null,
    balance_sufficient: bal >= estimated,
  };
}

export function creditRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  const auth = { onRequest: requireNode(ctx) };
  const noStore = (reply: FastifyReply): void => void reply.header('cache-control', 'no-store');
  app.get('/credits/balance', auth, (req, reply) => (noStore(reply), balance(ctx, req)));
  app.get('/credits/transactions', auth, (req, reply) => (noStore(reply), transactions(ctx, req)));
  app.get('/credits/summary', auth, (req, reply) => (noStore(reply), summary(ctx, req)));
  app.get('/credits/quote', auth, (req, reply) => (noStore(reply), quote(ctx, req)));
  app.post('/credits/award', auth, (req, reply) => (noStore(reply), award(ctx, req)));
}
