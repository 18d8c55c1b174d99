/**
 * Credits extension: 401 before any validation, the evaluation grant (once, per IP),
 * awards from CIP receipts (HMAC, ceiling, hourly cap, replay; refusals do not burn the
 * nonce), the querying node's debit, ledger views and quotes; and one receipt awarded
 * concurrently through two directory instances on one PostgreSQL credits exactly once.
 */
import { randomUUID } from 'node:crypto';
import { computeResponseHash, generateReceiptNonce, signReceipt } from '@iicp/crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerNode, type Ack } from './support/accounting.ts';
import {
  bearer,
  CHAT,
  makeApp,
  startHealthStub,
  type HealthStub,
  type TestApp,
} from './support/harness.ts';
import { BACKENDS, freshStorage, type BackendName } from './support/stores.ts';

function receipt(
  worker: Ack,
  over: Record<string, unknown> = {},
  now = Date.now(),
): Record<string, unknown> {
  const fields = {
    task_id: randomUUID(),
    tokens_used: 2500,
    cip_parent_task_id: randomUUID(),
    cip_session_key: 'sess-1',
    nonce: generateReceiptNonce(),
    response_hash: computeResponseHash({ answer: 'ok' }),
    ...over,
  } as {
    task_id: string;
    tokens_used: number;
    cip_parent_task_id: string;
    cip_session_key: string;
    nonce: string;
    response_hash: string;
    querying_node_id?: string;
  };
  return {
    node_id: worker.node_id,
    amount: 3,
    expires_at: new Date(now + 300_000).toISOString(),
    ...fields,
    signature: signReceipt(fields, worker.node_hmac_key),
  };
}

describe.each(BACKENDS)('credits on %s', (kind: BackendName) => {
  let t: TestApp;
  let stub: HealthStub;
  beforeAll(async () => {
    stub = await startHealthStub();
    t = await makeApp(kind, { creditHourlyCap: 20 });
  });
  afterAll(async () => {
    await t.close();
    await stub.close();
  });

  const award = (caller: Ack, body: unknown) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/credits/award',
      headers: bearer(caller.node_token),
      payload: body as Record<string, unknown>,
    });

  it('every credits route is 401 without a node_token, whatever the body', async () => {
    const ack = await registerNode(t.app, stub.url);
    for (const prefix of ['/v1', '/api/v1']) {
      for (const [method, path] of [
        ['GET', 'balance'],
        ['GET', 'transactions'],
        ['GET', 'summary'],
        ['GET', 'quote'],
        ['POST', 'award'],
      ] as const) {
        for (const headers of [{}, bearer(ack.proxy_token), bearer('0'.repeat(64))]) {
          const res = await t.app.inject({
            method,
            url: `${prefix}/credits/${path}`,
            headers: { ...headers, 'content-type': 'application/json' },
            ...(method === 'POST' ? { payload: '{"broken": ' } : {}),
          });
          expect(res.statusCode, `${method} ${path}`).toBe(401);
          expect(res.json().error.code).toBe('unauthorized');
        }
      }
    }
  });

  it('grants 5 free credits once (at registration), never again while the balance is positive, and not to a second node from the same IP', async () => {
    const a = await registerNode(t.app, stub.url);
    const b = await registerNode(t.app, stub.url);
    const bal = async (n: Ack) =>
      (
        await t.app.inject({
          method: 'GET',
          url: '/v1/credits/balance',
          headers: bearer(n.node_token),
        })
      ).json();
    // One of the two got the grant for this IP (whichever registered first in this suite run).
    const balances = [(await bal(a)).balance, (await bal(b)).balance];
    expect(balances.filter((x) => x === 5).length).toBeLessThanOrEqual(1);
    expect(balances.every((x) => x === 0 || x === 5)).toBe(true);
    t.clock.now += 7 * 3600_000;
    // Six hours later: the 5-credit holder gets nothing more; the zero one gets one grant.
    const after = [(await bal(a)).balance, (await bal(b)).balance];
    expect(after.filter((x) => x === 5).length).toBeGreaterThanOrEqual(1);
    expect(after.every((x) => x === 0 || x === 5)).toBe(true);
    const tx = await t.app.inject({
      method: 'GET',
      url: '/v1/credits/transactions',
      headers: bearer(a.node_token),
    });
    for (const row of tx.json().transactions) expect(row.tx_type).toBe('bootstrap');
  });

  it('awards a verified receipt once; replays, forgeries, inflations and self-awards are IICP-E027', async () => {
    const worker = await registerNode(t.app, stub.url);
    const coord = await registerNode(t.app, stub.url);
    const now = t.clock.now;
    const r = receipt(worker, {}, now);
    // A forged signature is refused and does not burn the nonce.
    const forged = await award(coord, { ...r, signature: 'a'.repeat(64) });
    expect(forged.statusCode).toBe(422);
    expect(forged.json().error.code).toBe('IICP-E027');
    // Over the ceiling ceil(2500/1000)×1×1.1 = 3.3: refused, nonce kept.
    const inflated = await award(coord, { ...r, amount: 3.31 });
    expect(inflated.json().error.code).toBe('IICP-E027');
    expect(inflated.json().error.message).toContain('ceiling');
    // The worker cannot submit its own award.
    expect((await award(worker, r)).json().error.code).toBe('IICP-E027');
    const ok = await award(coord, r);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ awarded: true, node_id: worker.node_id, amount: 3 });
    const replay = await award(coord, r);
    expect(replay.json().error).toMatchObject({ code: 'IICP-E027' });
    expect(replay.json().error.message).toContain('nonce');
    // Missing response_hash and missing parent task are refused.
    const { response_hash: _h, ...noHash } = receipt(worker, {}, now);
    expect((await award(coord, noHash)).json().error.message).toContain('response_hash');
    expect((await award(coord, receipt(worker, { cip_parent_task_id: '' }, now))).statusCode).toBe(
      422,
    );
    // Expired receipts are refused.
    const old = receipt(worker, {}, now - 600_000);
    expect((await award(coord, old)).json().error.message).toContain('expired');
    const events = await t.app.directory.events.page('events', 0, 10_000, ['CREDIT_AWARD']);
    const last = events.events.at(-1)!;
    expect(last.payload).toMatchObject({ node_id: worker.node_id, amount: 3, tokens_used: 2500 });
    expect(JSON.stringify(last.payload)).not.toContain('sess-1');
  });

  it('the hourly cap refuses without burning the nonce; the same receipt succeeds next hour', async () => {
    const worker = await registerNode(t.app, stub.url);
    const coord = await registerNode(t.app, stub.url);
    const now = t.clock.now;
    for (let i = 0; i < 6; i++) {
      const res = await award(coord, receipt(worker, {}, now)); // 6 × 3 = 18 ≤ 20
      expect(res.statusCode, res.body).toBe(200);
    }
    const r = receipt(worker, {}, now);
    const capped = await award(coord, r);
    expect(capped.json().error.code).toBe('IICP-E027');
    expect(capped.json().error.message).toContain('rate limit');
    t.clock.now += 3600_000;
    const retry = await award(coord, {
      ...r,
      expires_at: new Date(t.clock.now + 60_000).toISOString(),
    });
    // expires_at is outside the signed fields, so the receipt still verifies.
    expect(retry.statusCode, retry.body).toBe(200);
  });

  it('debits the querying node best-effort and keeps the ledger reconciled', async () => {
    const worker = await registerNode(t.app, stub.url);
    const coord = await registerNode(t.app, stub.url);
    const consumer = await registerNode(t.app, stub.url);
    const now = t.clock.now;
    const res = await award(
      coord,
      receipt(worker, { querying_node_id: consumer.node_id, tokens_used: 1000, amount: 1 }, now),
    );
    const body = res.json();
    expect(res.statusCode, res.body).toBe(200);
    // The consumer's balance is 0 (its IP already had this window's grant): not debited.
    expect(body.spent).toBe(0);
    expect(body.spend_reason).toBe('insufficient_balance');
    const summary = await t.app.inject({
      method: 'GET',
      url: '/v1/credits/summary',
      headers: bearer(worker.node_token),
    });
    expect(summary.json()).toMatchObject({ reconciles: true, operator_wallet: null });
    expect(summary.json().total_earned).toBeGreaterThanOrEqual(1);
    // Give the consumer credits by letting it work, then it pays.
    for (let i = 0; i < 2; i++) {
      expect((await award(coord, { ...receipt(consumer, {}, now), amount: 3 })).statusCode).toBe(
        200,
      );
    }
    const paid = await award(
      coord,
      receipt(worker, { querying_node_id: consumer.node_id, tokens_used: 1000, amount: 1 }, now),
    );
    expect(paid.json()).toMatchObject({ spent: 1 });
    const ctx = await t.app.inject({
      method: 'GET',
      url: '/v1/credits/transactions?limit=10',
      headers: bearer(consumer.node_token),
    });
    expect(
      ctx.json().transactions.find((x: { tx_type: string }) => x.tx_type === 'spend'),
    ).toMatchObject({ tx_type: 'spend', type: 'debit', amount: 1 });
    const s2 = await t.app.inject({
      method: 'GET',
      url: '/v1/credits/summary',
      headers: bearer(consumer.node_token),
    });
    expect(s2.json()).toMatchObject({ reconciles: true, total_spent: 1 });
  });

  it('quotes: 422 without intent or max_tokens, else a 60 s quote with the caller balance', async () => {
    const n = await registerNode(t.app, stub.url, {
      cip_policy: { allow_remote_inference: true },
      pricing: { credit_cost_multiplier: 2 },
    });
    const caller = await registerNode(t.app, stub.url);
    const q = (qs: string) =>
      t.app.inject({
        method: 'GET',
        url: `/v1/credits/quote${qs}`,
        headers: bearer(caller.node_token),
      });
    expect((await q('')).statusCode).toBe(422);
    expect((await q(`?intent=${CHAT}`)).statusCode).toBe(422);
    const res = await q(`?intent=${CHAT}&max_tokens=1500&nodes=${n.node_id}`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      nodes_quoted: 1,
      price_per_1000_tokens: 2,
      estimated_credits: 4,
      currency: 'iicp_credits',
      balance_scope: 'node',
    });
    expect(body.quote_id).toMatch(/^q_[0-9a-f]{12}$/);
    expect(Date.parse(body.quote_expires_at) - t.clock.now).toBeLessThanOrEqual(60_000);
    expect(body.balance_sufficient).toBe(body.consumer_balance >= 4);
  });
});

describe('two directory instances on one PostgreSQL', () => {
  it('credit a receipt submitted concurrently to both exactly once', async () => {
    const stub = await startHealthStub();
    const storage = await freshStorage('postgres');
    const a = await makeApp('postgres', { creditHourlyCap: 1000 }, storage);
    const b = await makeApp('postgres', { creditHourlyCap: 1000 }, storage);
    try {
      const worker = await registerNode(a.app, stub.url);
      const coord = await registerNode(b.app, stub.url);
      for (let round = 0; round < 5; round++) {
        const r = receipt(worker, {}, a.clock.now);
        const [x, y] = await Promise.all(
          [a, b].map((t) =>
            t.app.inject({
              method: 'POST',
              url: '/v1/credits/award',
              headers: bearer(coord.node_token),
              payload: r,
            }),
          ),
        );
        expect([x!.statusCode, y!.statusCode].sort()).toEqual([200, 422]);
      }
      const bal = await a.app.directory.accounting.store.account(worker.node_id);
      const grant = (
        await a.app.directory.accounting.store.transactions(worker.node_id, 100)
      ).filter((r) => r.tx_type === 'bootstrap').length;
      expect(Number(bal?.balance)).toBeCloseTo(5 * 3 + grant * 5);
    } finally {
      await a.close();
      await b.close();
      storage.cleanup();
      await stub.close();
    }
  });
});
