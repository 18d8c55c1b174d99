import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  ed25519KeyPairFromSeed,
  ed25519Sign,
  issueConsumerToken,
  verifyOperatorDelegation,
} from '@iicp/crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeLifecycle } from '../src/directory/lifecycle.ts';
import { NodeStateStore } from '../src/directory/store.ts';
import { NodeRuntimeState } from '../src/state.ts';
import { startScriptedDirectory, type ScriptedDirectory } from './support/scripted-directory.ts';
import { authorizeTask } from '../src/auth.ts';

let dir: ScriptedDirectory;
let home: string;
let lifecycles: NodeLifecycle[] = [];

beforeEach(async () => {
  dir = await startScriptedDirectory();
  home = await mkdtemp(join(tmpdir(), 'iicp-node-'));
});
afterEach(async () => {
  for (const l of lifecycles) await l.stop({ deregister: false });
  lifecycles = [];
  await dir.close();
  await rm(home, { recursive: true, force: true });
});

function lifecycle(
  opts: {
    models?: string[];
    state?: NodeRuntimeState;
    preferredNodeId?: string;
    operatorSeed?: Uint8Array;
  } = {},
) {
  const state = opts.state ?? new NodeRuntimeState();
  const models = { list: opts.models ?? ['m1'] };
  const operator = opts.operatorSeed ? ed25519KeyPairFromSeed(opts.operatorSeed) : undefined;
  const l = new NodeLifecycle({
    directoryUrl: dir.url,
    state,
    store: new NodeStateStore(home),
    profile: {
      endpoint: 'https://node.example.com',
      region: 'eu-west',
      maxConcurrent: 4,
      capabilities: [{ intent: 'urn:iicp:intent:llm:chat:v1', supports_streaming: true }],
      backend: 'ollama',
      ...(opts.preferredNodeId ? { preferredNodeId: opts.preferredNodeId } : {}),
      ...(operator
        ? {
            operator: {
              publicKey: operator.publicKey,
              sign: (m: Uint8Array) => ed25519Sign(m, operator.secretKey),
            },
          }
        : {}),
    },
    load: () => ({ load: 0.25, activeJobs: 1 }),
    backend: { listModels: async () => models.list },
  });
  lifecycles.push(l);
  return { l, state, models };
}

describe('directory lifecycle', () => {
  it('registers, persists node_id and token at once (0600), caches the directory key and heartbeats', async () => {
    dir.nextHeartbeatMs = 30_000;
    const { l, state } = lifecycle();
    const beat = dir.waitFor('/v1/heartbeat');
    const ack = await l.start();
    const saved = await new NodeStateStore(home).load();
    expect(saved).toMatchObject({
      node_id: ack.node_id,
      node_token: ack.node_token,
      directory_url: dir.url,
      directory_public_key: dir.key.publicKeyHex,
    });
    expect((await stat(join(home, 'node-state.json'))).mode & 0o777).toBe(0o600);
    expect(state).toMatchObject({ nodeId: ack.node_id, nodeToken: ack.node_token, models: ['m1'] });
    expect(state.directoryPublicKey).toEqual(dir.key.publicKey);
    const reg = dir.calls.find((c) => c.path === '/v1/register')!.body!;
    expect(reg).toMatchObject({
      endpoint: 'https://node.example.com',
      region: 'eu-west',
      limits: { max_concurrent: 4 },
      capabilities: [{ intent: 'urn:iicp:intent:llm:chat:v1', models: ['m1'] }],
    });
    await beat;
    const hb = dir.calls.find((c) => c.path === '/v1/heartbeat')!;
    expect(hb.body).toMatchObject({
      node_id: ack.node_id,
      load: 0.25,
      active_jobs: 1,
      available: true,
    });
    expect(hb.authorization).toBe(`Bearer ${ack.node_token}`);
    // A consumer token signed by this directory now verifies offline at the node.
    const ct = issueConsumerToken({
      signer: dir.key,
      issuer: dir.url,
      callerNodeId: 'c',
      targetNodeId: ack.node_id,
      intent: '*',
    });
    expect(
      authorizeTask(
        { intent: 'urn:iicp:intent:llm:chat:v1' },
        { 'x-iicp-consumer-token': ct.token },
        state,
        'token',
      ),
    ).toEqual({ kind: 'consumer', sub: 'c' });
  });

  it('heartbeats again after next_heartbeat_ms, answering the challenge', async () => {
    dir.nextHeartbeatMs = 20;
    const { l } = lifecycle();
    const two = dir.waitFor('/v1/heartbeat', 2);
    await l.start();
    await two;
    const beats = dir.calls.filter((c) => c.path === '/v1/heartbeat');
    expect(beats[1]!.body!.challenge_response).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refreshes a persisted registration with current_node_token and persists the rotated token', async () => {
    const first = lifecycle();
    const ack1 = await first.l.start();
    await first.l.stop({ deregister: false });
    const second = lifecycle();
    const ack2 = await second.l.start();
    expect(ack2.node_id).toBe(ack1.node_id);
    expect(ack2.node_token).not.toBe(ack1.node_token);
    const regs = dir.calls.filter((c) => c.path === '/v1/register');
    expect(regs[1]!.body).toMatchObject({
      node_id: ack1.node_id,
      current_node_token: ack1.node_token,
    });
    expect((await new NodeStateStore(home).load())!.node_token).toBe(ack2.node_token);
  });

  it('re-registers when a heartbeat gets 404 or 401', async () => {
    const { l, state } = lifecycle();
    const ack = await l.start();
    dir.forget(ack.node_id);
    await l.heartbeatOnce();
    expect(dir.nodes.has(state.nodeId!)).toBe(true);
    // Bad token → 401 → register with the persisted token... which the directory now rejects,
    // so the node registers afresh.
    state.nodeToken = 'ff'.repeat(32);
    await l.heartbeatOnce();
    expect(dir.nodes.get(state.nodeId!)!.token).toBe(state.nodeToken);
    expect((await new NodeStateStore(home).load())!.node_token).toBe(state.nodeToken);
  });

  it('re-registers when the backend model list changes', async () => {
    const { l, models } = lifecycle();
    await l.start();
    models.list = ['m1', 'm2'];
    await l.heartbeatOnce();
    const regs = dir.calls.filter((c) => c.path === '/v1/register');
    expect(regs).toHaveLength(2);
    expect(regs[1]!.body).toMatchObject({ capabilities: [{ models: ['m1', 'm2'] }] });
    await l.heartbeatOnce();
    expect(dir.calls.filter((c) => c.path === '/v1/register')).toHaveLength(2);
  });

  it('signs an operator delegation for the claimed node id', async () => {
    const nodeId = randomUUID();
    const seed = new Uint8Array(32).fill(7);
    const { l } = lifecycle({ preferredNodeId: nodeId, operatorSeed: seed });
    const ack = await l.start();
    expect(ack.node_id).toBe(nodeId);
    const reg = dir.calls.find((c) => c.path === '/v1/register')!.body!;
    const v = verifyOperatorDelegation(reg.operator_delegation as never, { nodeId });
    expect(v.ok).toBe(true);
  });

  it('deregisters on stop', async () => {
    const { l, state } = lifecycle();
    await l.start();
    const id = state.nodeId!;
    await l.stop();
    lifecycles = lifecycles.filter((x) => x !== l);
    expect(dir.nodes.has(id)).toBe(false);
    expect(dir.calls.at(-1)).toMatchObject({
      method: 'DELETE',
      path: '/v1/register',
      body: { node_id: id },
    });
  });
});
