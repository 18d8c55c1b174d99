/**
 * Register credentials (C3), the heartbeat challenge (D-055) and operator delegation
 * (iicp-dir.md §3.1), on SQLite and PostgreSQL.
 */
import { createHash, randomUUID } from 'node:crypto';
import { challengeResponse, DirectoryKey, signOperatorDelegation } from '@iicp/crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretVault } from '../src/secret-vault.ts';
import { heartbeat, registerNode } from './support/accounting.ts';
import {
  bearer,
  CHAT,
  makeApp,
  startHealthStub,
  type HealthStub,
  type TestApp,
} from './support/harness.ts';
import { BACKENDS, type BackendName } from './support/stores.ts';

describe('SecretVault', () => {
  it('seals, opens, and refuses a value sealed under another secret', () => {
    const a = new SecretVault(new Uint8Array(32).fill(1));
    const b = new SecretVault(new Uint8Array(32).fill(2));
    const sealed = a.seal('k3y');
    expect(sealed).not.toContain('k3y');
    expect(a.open(sealed)).toBe('k3y');
    expect(b.open(sealed)).toBeUndefined();
    expect(a.open(sealed.slice(0, -2) + 'AA')).toBeUndefined();
    const plain = new SecretVault();
    expect(plain.sealing).toBe(false);
    expect(plain.open(plain.seal('x'))).toBe('x');
    expect(plain.open(sealed)).toBeUndefined();
  });
});

describe.each(BACKENDS)('credentials, challenge and delegation on %s', (kind: BackendName) => {
  let t: TestApp;
  let stub: HealthStub;
  beforeAll(async () => {
    stub = await startHealthStub();
    t = await makeApp(kind);
  });
  afterAll(async () => {
    await t.close();
    await stub.close();
  });

  it('ACK carries proxy_token (40 bytes) and node_hmac_key; only a hash and a sealed key are stored', async () => {
    const ack = await registerNode(t.app, stub.url);
    expect(ack.proxy_token).toMatch(/^[0-9a-f]{80}$/);
    expect(ack.node_hmac_key).toMatch(/^[0-9a-f]{64}$/);
    expect(ack.proxy_token).not.toBe(ack.node_token);
    const row = await t.app.directory.accounting.store.credentials(ack.node_id);
    expect(row?.proxy_token_hash).toBe(createHash('sha256').update(ack.proxy_token).digest('hex'));
    expect(row?.hmac_key).not.toContain(ack.node_hmac_key);
    expect(row?.hmac_key.startsWith('v1:')).toBe(true);
    expect(t.app.directory.accounting.vault.open(row!.hmac_key)).toBe(ack.node_hmac_key);
  });

  it('a refresh rotates both secrets; the old proxy_token is refused', async () => {
    const ack = await registerNode(t.app, stub.url);
    const again = await registerNode(t.app, stub.url, {
      node_id: ack.node_id,
      current_node_token: ack.node_token,
    });
    expect(again.proxy_token).not.toBe(ack.proxy_token);
    expect(again.node_hmac_key).not.toBe(ack.node_hmac_key);
    const old = await t.app.inject({
      method: 'POST',
      url: '/v1/telemetry',
      headers: bearer(ack.proxy_token),
      payload: {},
    });
    expect(old.statusCode).toBe(401);
    expect(old.json().error.code).toBe('IICP-E032');
  });

  it('PONG carries a challenge; the right HMAC verifies liveness, a wrong or stale one does not', async () => {
    const store = t.app.directory.accounting.store;
    const ack = await registerNode(t.app, stub.url);
    const p1 = await heartbeat(t.app, ack);
    expect(p1['challenge']).toMatch(/^[0-9a-f]{32}$/);
    // Wrong key: no verification.
    const p2 = await heartbeat(t.app, ack, {
      challenge_response: challengeResponse('not-the-key', p1['challenge'] as string),
    });
    expect((await store.credentials(ack.node_id))?.verified_liveness_at).toBeNull();
    expect(p2['challenge']).not.toBe(p1['challenge']);
    // An answer to the superseded challenge does not count either.
    await heartbeat(t.app, ack, {
      challenge_response: challengeResponse(ack.node_hmac_key, p1['challenge'] as string),
    });
    expect((await store.credentials(ack.node_id))?.verified_liveness_at).toBeNull();
    const p4 = await heartbeat(t.app, ack);
    t.clock.now += 1000;
    await heartbeat(t.app, ack, {
      challenge_response: challengeResponse(ack.node_hmac_key, p4['challenge'] as string),
    });
    expect((await store.credentials(ack.node_id))?.verified_liveness_at).toBe(t.clock.now);
  });

  it('a valid operator delegation binds the node; only the fingerprint is ever served', async () => {
    const op = DirectoryKey.generate();
    const nodeId = randomUUID();
    const notAfter = Math.floor(t.clock.now / 1000) + 3600;
    const delegation = signOperatorDelegation(nodeId, notAfter, op);
    const ack = await registerNode(t.app, stub.url, {
      node_id: nodeId,
      operator_delegation: delegation,
      capabilities: [{ intent: 'urn:iicp:intent:x.acct:deleg:v1' }],
    });
    expect(ack.node_id).toBe(nodeId);
    const creds = await t.app.directory.accounting.store.credentials(nodeId);
    expect(creds?.operator_pubkey).toBe(delegation.operator_pub);
    const disc = await t.app.inject({
      method: 'GET',
      url: '/v1/discover?intent=urn:iicp:intent:x.acct:deleg:v1',
    });
    const node = disc.json().nodes[0];
    expect(node.operator_fingerprint).toMatch(/^[0-9a-f]{12}$/);
    const detail = await t.app.inject({ method: 'GET', url: `/v1/node/${nodeId}` });
    for (const body of [disc.body, detail.body]) {
      expect(body).not.toContain(delegation.operator_pub);
      expect(body).not.toContain(delegation.sig);
      expect(body).not.toContain('operator_pubkey');
    }
    expect(detail.json().operator_fingerprint).toBe(node.operator_fingerprint);
  });

  it('an invalid or foreign delegation is accepted as unverified, never rejected', async () => {
    const op = DirectoryKey.generate();
    const notAfter = Math.floor(t.clock.now / 1000) + 3600;
    const cases = [
      // wrong node
      (_id: string) => signOperatorDelegation(randomUUID(), notAfter, op),
      // expired
      (id: string) => signOperatorDelegation(id, Math.floor(t.clock.now / 1000) - 1, op),
      // tampered not_after
      (id: string) => ({ ...signOperatorDelegation(id, notAfter, op), not_after: notAfter + 1 }),
    ];
    for (const make of cases) {
      const id = randomUUID();
      const ack = await registerNode(t.app, stub.url, {
        node_id: id,
        operator_delegation: make(id),
      });
      expect(ack.node_id).toBe(id);
      const creds = await t.app.directory.accounting.store.credentials(id);
      expect(creds?.operator_pubkey).toBeNull();
      const detail = await t.app.inject({ method: 'GET', url: `/v1/node/${id}` });
      expect(detail.json().operator_fingerprint).toBeNull();
    }
  });

  it('discover and PONG label reputation as outcome-v2', async () => {
    const ack = await registerNode(t.app, stub.url);
    const pong = await heartbeat(t.app, ack);
    expect(pong).toMatchObject({ reputation_model: 'outcome-v2', reputation_score: 0.5 });
    const disc = await t.app.inject({ method: 'GET', url: `/v1/discover?intent=${CHAT}` });
    expect(disc.json().nodes[0]).toMatchObject({ reputation_model: 'outcome-v2' });
  });
});
