import { randomUUID } from 'node:crypto';
import { DirectoryKey } from '@iicp/crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptedWorker, postJson, startRelay, type Harness } from './support/harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const errorOf = (r: { json: unknown }) => (r.json as { error: Record<string, unknown> }).error;

describe('relay: bind tickets (iicp-dir.md §7.4)', () => {
  it('requires a ticket by default', async () => {
    h = await startRelay();
    const r = await new ScriptedWorker(h.url, randomUUID()).bind();
    expect(r.status).toBe(401);
    expect(errorOf(r)).toMatchObject({ code: 'unauthorized', reason: 'ticket_required' });
  });

  it('refuses a forged ticket (signed by another key)', async () => {
    h = await startRelay();
    const id = randomUUID();
    const r = await new ScriptedWorker(h.url, id).bind(
      h.ticket(id, { key: DirectoryKey.generate() }),
    );
    expect(r.status).toBe(401);
    expect(errorOf(r)).toMatchObject({ code: 'unauthorized', reason: 'ticket_bad_signature' });
  });

  it('refuses an expired ticket', async () => {
    h = await startRelay();
    const id = randomUUID();
    const past = () => Date.now() / 1000 - 600;
    const r = await new ScriptedWorker(h.url, id).bind(h.ticket(id, { clock: past }));
    expect(r.status).toBe(401);
    expect(errorOf(r)).toMatchObject({ reason: 'ticket_expired' });
  });

  it("refuses a ticket for another worker's node_id", async () => {
    h = await startRelay();
    const r = await new ScriptedWorker(h.url, randomUUID()).bind(h.ticket(randomUUID()));
    expect(r.status).toBe(401);
    expect(errorOf(r)).toMatchObject({ reason: 'ticket_wrong_node' });
  });

  it('refuses a replayed ticket, even after the first session ended', async () => {
    h = await startRelay();
    const id = randomUUID();
    const t = h.ticket(id);
    const w = new ScriptedWorker(h.url, id);
    expect((await w.bind(t)).status).toBe(201);
    await w.unbind();
    const again = await new ScriptedWorker(h.url, id).bind(t);
    expect(again.status).toBe(401);
    expect(errorOf(again)).toMatchObject({ reason: 'ticket_replayed' });
  });

  it('consumes the jti only on a successful bind', async () => {
    h = await startRelay();
    const id = randomUUID();
    const first = new ScriptedWorker(h.url, id);
    await first.bind(h.ticket(id));
    const t2 = h.ticket(id);
    expect((await new ScriptedWorker(h.url, id).bind(t2)).status).toBe(409);
    await first.unbind();
    expect((await new ScriptedWorker(h.url, id).bind(t2)).status).toBe(201);
  });

  it('accepts ticketless binds only when told to (development)', async () => {
    h = await startRelay({ requireTicket: false });
    expect((await new ScriptedWorker(h.url, randomUUID()).bind()).status).toBe(201);
    // A ticket, when given, is still verified.
    const id = randomUUID();
    const r = await new ScriptedWorker(h.url, id).bind(
      h.ticket(id, { key: DirectoryKey.generate() }),
    );
    expect(r.status).toBe(401);
  });

  it('checks the issuer when configured', async () => {
    h = await startRelay({ ticketIssuer: 'another-directory' });
    const id = randomUUID();
    const r = await new ScriptedWorker(h.url, id).bind(h.ticket(id));
    expect(errorOf(r)).toMatchObject({ reason: 'ticket_wrong_issuer' });
  });

  it('answers 422 for a malformed bind body', async () => {
    h = await startRelay();
    const r = await postJson(`${h.url}/v1/relay/bind`, { worker_id: '../etc/passwd' });
    expect(r.status).toBe(422);
    expect(errorOf(r)).toMatchObject({ code: 'validation_error', field: 'worker_id' });
  });
});

describe('relay: liveness and non-displacement (§7.2)', () => {
  it('refuses a second bind for a live session with 409 and displaces a dead one', async () => {
    let now = 5_000_000;
    h = await startRelay({ now: () => now, timers: false });
    const id = randomUUID();
    const first = new ScriptedWorker(h.url, id);
    const clock = () => now / 1000;
    expect((await first.bind(h.ticket(id, { clock }))).status).toBe(201);
    now += 60_000;
    // A pull refreshes liveness: 60 s + 60 s is past 90 s from bind, not from the pull.
    expect((await first.pullStatus(0)).status).toBe(204);
    now += 60_000;
    const second = new ScriptedWorker(h.url, id);
    const refused = await second.bind(h.ticket(id, { clock }));
    expect(refused.status).toBe(409);
    expect(errorOf(refused)).toMatchObject({ code: 'conflict' });
    now += 30_001;
    expect((await second.bind(h.ticket(id, { clock }))).status).toBe(201);
    // The displaced session's credential is dead.
    expect((await first.pullStatus(0)).status).toBe(404);
    expect((await second.pullStatus(0)).status).toBe(204);
  });

  it('a parked pull keeps the session alive', async () => {
    let now = 5_000_000;
    h = await startRelay({ now: () => now, timers: false });
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id, { clock: () => now / 1000 }));
    const pulling = w.pull(300);
    while (h.app.relay.hub.waitingPulls === 0) await new Promise((r) => setTimeout(r, 5));
    now += 120_000;
    const r = await new ScriptedWorker(h.url, id).bind(h.ticket(id, { clock: () => now / 1000 }));
    expect(r.status).toBe(409);
    await pulling;
  });
});

describe('relay: caps (§7.3)', () => {
  it('refuses binds past the session cap with 503 IICP-E039; a rebind is exempt', async () => {
    let now = 9_000_000;
    h = await startRelay({ limits: { maxSessions: 2 }, now: () => now, timers: false });
    const clock = () => now / 1000;
    const a = randomUUID();
    await new ScriptedWorker(h.url, a).bind(h.ticket(a, { clock }));
    const b = randomUUID();
    await new ScriptedWorker(h.url, b).bind(h.ticket(b, { clock }));
    const c = randomUUID();
    const r = await new ScriptedWorker(h.url, c).bind(h.ticket(c, { clock }));
    expect(r.status).toBe(503);
    expect(errorOf(r)).toMatchObject({ code: 'IICP-E039', reason: 'relay_session_cap' });
    // Recovery of a dead session of a bound worker id is not blocked by the cap.
    now += 91_000;
    expect((await new ScriptedWorker(h.url, a).bind(h.ticket(a, { clock }))).status).toBe(201);
  });

  it('rate-limits binds per source with 429 IICP-E039 relay_bind_rate_limited', async () => {
    h = await startRelay({ requireTicket: false, limits: { bindRateLimit: 3 } });
    for (let i = 0; i < 3; i++) {
      expect((await new ScriptedWorker(h.url, randomUUID()).bind()).status).toBe(201);
    }
    const r = await new ScriptedWorker(h.url, randomUUID()).bind();
    expect(r.status).toBe(429);
    expect(errorOf(r)).toMatchObject({ code: 'IICP-E039', reason: 'relay_bind_rate_limited' });
    expect(typeof errorOf(r)['retry_after']).toBe('number');
  });

  it('exempts the recovery of a dead session from the bind rate limit', async () => {
    let now = 1_000_000;
    h = await startRelay({
      requireTicket: false,
      limits: { bindRateLimit: 1, bindRateWindowMs: 600_000 },
      now: () => now,
      timers: false,
    });
    const id = randomUUID();
    expect((await new ScriptedWorker(h.url, id).bind()).status).toBe(201);
    expect((await new ScriptedWorker(h.url, randomUUID()).bind()).status).toBe(429);
    now += 91_000;
    expect((await new ScriptedWorker(h.url, id).bind()).status).toBe(201);
  });
});
