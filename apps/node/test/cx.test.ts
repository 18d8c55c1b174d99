import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCxKeyPair, type CxKeyPair } from '@iicp/crypto';
import {
  base64UrlToBytes,
  bytesToBase64Url,
  openCxResponse,
  readCxAdvertisement,
  sealCxRequest,
  type CxRequestEnvelope,
} from '@iicp/crypto/cx';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.ts';
import {
  CX_KEY_FILE,
  CX_PREVIOUS_KEY_GRACE_MS,
  decryptionKeys,
  ensureCxKeys,
  rotateCxKeys,
} from '../src/cx/key-store.ts';
import { startNode as startNodeProcess, type RunningNode } from '../src/main.ts';
import { startScriptedBackend, type ScriptedBackend } from './support/scripted-backend.ts';
import { startScriptedDirectory, type ScriptedDirectory } from './support/scripted-directory.ts';
import { callBody, sharedHttp, startNode, type Harness } from './support/node-app.ts';

afterAll(() => sharedHttp.close());

const CANARY = 'canary-cx-51d2 do not log';
const node = generateCxKeyPair();
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function encryptedBody(
  over: Record<string, unknown> = {},
  key: CxKeyPair = node,
  constraints: Record<string, unknown> = {},
) {
  const body = callBody(
    { payload: { messages: [{ role: 'user', content: CANARY }] }, ...over },
    constraints,
  );
  const sealed = await sealCxRequest({
    recipientPublicKey: key.publicKey,
    recipientKeyId: key.keyId,
    taskId: body.task_id as string,
    intent: body.intent as string,
    plaintext: JSON.stringify(body.payload),
  });
  const { payload: _p, ...rest } = body;
  const out: Record<string, unknown> & { iicp_conf: CxRequestEnvelope } = {
    ...rest,
    iicp_conf: sealed.envelope,
  };
  return { body: out, shared: sealed.sharedSecret };
}

const post = (body: unknown, headers: Record<string, string> = {}) =>
  h!.app.inject({ method: 'POST', url: '/v1/task', payload: body as object, headers });

async function metric(name: string): Promise<string> {
  const text = (await h!.app.inject({ method: 'GET', url: '/metrics' })).body;
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

function expectE050(res: { statusCode: number; json(): unknown }): void {
  expect(res.statusCode).toBe(422);
  expect((res.json() as { error: { code: string } }).error.code).toBe('IICP-E050');
}

describe('CX-02: the node decrypts iicp_conf tasks', () => {
  it('runs an encrypted task: the backend gets the decrypted payload, the answer is a normal RESPONSE', async () => {
    h = await startNode({ app: { cx: { keys: () => [node] } } });
    const { body } = await encryptedBody();
    expect(JSON.stringify(body)).not.toContain('canary');
    const res = await post(body);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ task_id: body.task_id, status: 'success' });
    expect(h.backend.requests.at(-1)!.body!.messages).toEqual([{ role: 'user', content: CANARY }]);
    expect(await metric('iicp_node_cx_tasks_total')).toContain(
      'iicp_node_cx_tasks_total{mode="encrypted"} 1',
    );
    expect(h.logs.text).not.toContain('canary');
  });

  it('encrypts the answer when the caller requires it (response_encryption_v1)', async () => {
    h = await startNode({ app: { cx: { keys: () => [node] } } });
    const { body, shared } = await encryptedBody({ cx_response_encryption: 'required' });
    const res = await post(body);
    expect(res.statusCode).toBe(200);
    const r = res.json();
    expect(r).toMatchObject({
      task_id: body.task_id,
      status: 'encrypted',
      model_used: 'test-model',
    });
    expect(r.result).toBeUndefined();
    expect(res.body).not.toContain('Hello!');
    const pt = await openCxResponse({
      sharedSecret: shared,
      taskId: body.task_id as string,
      envelope: r.iicp_conf_resp,
    });
    expect(JSON.parse(new TextDecoder().decode(pt))).toMatchObject({
      choices: [{ message: { content: 'Hello!' } }],
    });
    expect(await metric('iicp_node_cx_tasks_total')).toContain('mode="encrypted_both"} 1');
  });

  it('streams an encrypted request over SSE, and answers buffered and sealed when the response must be encrypted', async () => {
    h = await startNode({ app: { cx: { keys: () => [node] } } });
    const profiles = { required_profiles: ['urn:iicp:profile:service-lifecycle:v1'] };
    const sse = await encryptedBody({}, node, profiles);
    const res = await post(sse.body, { accept: 'text/event-stream' });
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.body).toContain('event: completed');
    const sealed = await encryptedBody({ cx_response_encryption: 'required' }, node, profiles);
    const res2 = await post(sealed.body, { accept: 'text/event-stream' });
    expect(res2.headers['content-type']).toMatch(/^application\/json/);
    expect(res2.json().status).toBe('encrypted');
  });

  it('decrypts with the previous key during rotation', async () => {
    const old = generateCxKeyPair();
    h = await startNode({ app: { cx: { keys: () => [node, old] } } });
    const { body } = await encryptedBody({}, old);
    expect((await post(body)).statusCode).toBe(200);
  });
});

describe('CX failures are IICP-E050 with status 422 (D-032)', () => {
  it('tampered ciphertext, wrong key id, wrong AAD, payload beside iicp_conf', async () => {
    h = await startNode({ app: { cx: { keys: () => [node] } } });
    const a = await encryptedBody();
    const env = a.body.iicp_conf;
    const ct = base64UrlToBytes(env.encrypted_body)!;
    ct[5]! ^= 1;
    expectE050(
      await post({ ...a.body, iicp_conf: { ...env, encrypted_body: bytesToBase64Url(ct) } }),
    );
    const b = await encryptedBody();
    expectE050(
      await post({ ...b.body, iicp_conf: { ...b.body.iicp_conf, recipient_key_id: 'cx-00' } }),
    );
    const c = await encryptedBody();
    // The AAD binds the intent: the same envelope under another intent does not open.
    expectE050(await post({ ...c.body, intent: 'urn:iicp:intent:llm:completion:v1' }));
    const d = await encryptedBody();
    expectE050(await post({ ...d.body, payload: { messages: [] } }));
    expect(await metric('iicp_node_cx_failures_total')).toContain('iicp_node_cx_failures_total 4');
    expect(h.backend.requests).toHaveLength(0);
  });

  it('a node without CX keys refuses iicp_conf', async () => {
    h = await startNode();
    const { body } = await encryptedBody();
    expectE050(await post(body));
  });

  it('--require-encryption and X-IICP-Require-E2E refuse plaintext; plaintext is served otherwise', async () => {
    h = await startNode({ app: { cx: { keys: () => [node] } } });
    expect((await post(callBody())).statusCode).toBe(200);
    expectE050(await post(callBody(), { 'x-iicp-require-e2e': '1' }));
    await h.close();
    h = await startNode({ app: { cx: { keys: () => [node], requireEncryption: true } } });
    expectE050(await post(callBody()));
    expect((await post((await encryptedBody()).body)).statusCode).toBe(200);
  });
});

describe('the CX key in $IICP_HOME', () => {
  const homes: string[] = [];
  afterAll(async () => {
    for (const d of homes) await rm(d, { recursive: true, force: true });
  });
  const home = async () => {
    const d = await mkdtemp(join(tmpdir(), 'iicp-cx-home-'));
    homes.push(d);
    return d;
  };

  it('is created once with mode 0600, stable across loads, 90 days long', async () => {
    const d = await home();
    const a = await ensureCxKeys(d);
    expect(a.created).toBe(true);
    expect((await stat(join(d, CX_KEY_FILE))).mode & 0o777).toBe(0o600);
    const b = await ensureCxKeys(d);
    expect(b.created).toBe(false);
    expect(b.keys.current.keyId).toBe(a.keys.current.keyId);
    expect(b.keys.current.privateKey).toEqual(a.keys.current.privateKey);
    const days = (a.keys.current.notAfter.getTime() - a.keys.current.createdAt.getTime()) / 864e5;
    expect(days).toBe(90);
  });

  it('rotates to a new key, keeping the old one for the grace period only', async () => {
    const d = await home();
    const a = await ensureCxKeys(d);
    const r = await rotateCxKeys(d, new Date());
    expect(r.current.keyId).not.toBe(a.keys.current.keyId);
    expect(r.previous?.keyId).toBe(a.keys.current.keyId);
    expect(decryptionKeys(r).map((k) => k.keyId)).toEqual([r.current.keyId, a.keys.current.keyId]);
    const later = Date.now() + CX_PREVIOUS_KEY_GRACE_MS + 1000;
    expect(decryptionKeys(r, later).map((k) => k.keyId)).toEqual([r.current.keyId]);
  });

  it('a damaged key file is an error, never a silent new key', async () => {
    const d = await home();
    await ensureCxKeys(d);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(d, CX_KEY_FILE), '{"version":1}');
    await expect(ensureCxKeys(d)).rejects.toThrow(/not a CX key file/);
  });
});

describe('serve advertises cx_public_key and rotate-cx-key goes through current_node_token (CX-01)', () => {
  let dir: ScriptedDirectory;
  let backend: ScriptedBackend;
  let running: RunningNode | undefined;
  let d: string;
  afterAll(async () => {
    await running?.app.close();
    await dir?.close();
    await backend?.close();
    if (d) await rm(d, { recursive: true, force: true });
  });

  const serve = () =>
    startNodeProcess(
      {
        backendUrl: backend.url,
        backendType: 'openai',
        directoryUrl: dir.url,
        port: 0,
        logLevel: 'silent',
      },
      {
        home: d,
        print: () => undefined,
        signals: { source: new EventEmitter(), exit: () => undefined },
      },
    );

  it('registers the key, serves anonymous callers by default (open mesh), re-registers the rotated key with the refresh proof', async () => {
    dir = await startScriptedDirectory();
    backend = await startScriptedBackend('openai');
    d = await mkdtemp(join(tmpdir(), 'iicp-cx-serve-'));
    const t = { out: [] as string[], err: [] as string[] };
    const io = {
      env: {},
      out: (s: string) => t.out.push(s),
      err: (s: string) => t.err.push(s),
    };
    expect(
      await runCli(
        ['init', '-y', '--home', d, '--backend-url', backend.url, '--backend-type', 'openai'],
        io,
      ),
    ).toBe(0);
    expect(t.out.join('\n')).toMatch(/IICP-CX key created: .*cx\.key \(cx-[0-9a-f]{16}\)/);
    const first = (await ensureCxKeys(d)).keys.current;

    running = await serve();
    const reg1 = dir.calls.find((c) => c.path === '/v1/register' && c.method === 'POST')!;
    const adv = reg1.body!.cx_public_key as Record<string, unknown>;
    expect(adv).toMatchObject({
      algorithm: 'X25519',
      encoding: 'base64url',
      key_id: first.keyId,
      features: ['response_encryption_v1'],
    });
    expect(readCxAdvertisement(adv)?.publicKey).toEqual(first.publicKey);

    // Open mesh by default: no Authorization, no consumer token, no body token.
    const { auth: _a, ...anonymous } = callBody();
    const res = await fetch(`${running.url}/v1/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(anonymous),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('success');
    await running.app.close();
    running = undefined;

    expect(await runCli(['rotate-cx-key', '--home', d], io)).toBe(0);
    const state = JSON.parse(await readFile(join(d, 'node-state.json'), 'utf8')) as {
      node_token: string;
    };
    const before = dir.calls.length;
    running = await serve();
    const reg2 = dir.calls.slice(before).find((c) => c.path === '/v1/register')!;
    expect(reg2.body!.current_node_token).toBe(state.node_token);
    const adv2 = reg2.body!.cx_public_key as Record<string, unknown>;
    expect(adv2.key_id).not.toBe(first.keyId);
    expect(adv2.key_id).toBe((await ensureCxKeys(d)).keys.current.keyId);
  });
});
