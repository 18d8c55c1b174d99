import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { RELAY_INTENT } from '../src/constants.ts';
import { startDirectory, type ScriptedDirectory } from './support/directory.ts';
import { ScriptedWorker, startRelay, until, type Harness } from './support/harness.ts';

let h: Harness | undefined;
let dir: ScriptedDirectory | undefined;
afterEach(async () => {
  await h?.close();
  await dir?.close();
  h = undefined;
  dir = undefined;
});

describe('relay: directory key, registration and heartbeats', () => {
  it('verifies bind tickets against the key fetched from the directory', async () => {
    dir = await startDirectory();
    h = await startRelay({ directoryUrl: dir.url, directoryPublicKey: undefined });
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    // A ticket from the harness's own (unrelated) key is forged as far as this relay knows.
    expect((await w.bind(h.ticket(id))).status).toBe(401);
    expect((await w.bind(dir.ticket(id))).status).toBe(201);
  });

  it('retries the key until the directory serves it; binds meanwhile get 503', async () => {
    dir = await startDirectory();
    dir.keyReady = false;
    h = await startRelay({
      directoryUrl: dir.url,
      directoryPublicKey: undefined,
      directoryRetryMs: 20,
    });
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    const early = await w.bind(dir.ticket(id));
    expect(early.status).toBe(503);
    dir.keyReady = true;
    await until(async () => (await w.bind(dir!.ticket(id))).status === 201, 25);
  });

  it('registers as relay_capable at its public endpoint, heartbeats, deregisters on close', async () => {
    dir = await startDirectory();
    h = await startRelay({
      directoryUrl: dir.url,
      directoryPublicKey: undefined,
      heartbeatIntervalMs: 20,
      region: 'eu-west',
    });
    await until(() => dir!.heartbeats.length >= 2);
    expect(dir.registrations).toHaveLength(1);
    const reg = dir.registrations[0]!;
    expect(reg.relay_capable).toBe(true);
    expect(reg.endpoint).toBe(h.url);
    expect(reg.region).toBe('eu-west');
    expect(reg.capabilities.map((c) => c.intent)).toEqual([RELAY_INTENT]);
    expect(dir.probes).toBeGreaterThanOrEqual(1);
    const hb = dir.heartbeats[0]!;
    expect(hb.load).toBe(0);
    expect(hb.active_jobs).toBe(0);
    const health = (await (await fetch(`${h.url}/iicp/health`)).json()) as { node_id: string };
    expect(health.node_id).toBe(hb.node_id);
    await h.close();
    h = undefined;
    expect(dir.deregistered).toEqual([hb.node_id]);
  });

  it('announces the configured public endpoint, not the bind address', async () => {
    dir = await startDirectory();
    // The directory probes the announced endpoint: point it at another relay.
    const probeTarget = await startRelay();
    try {
      h = await startRelay({
        directoryUrl: dir.url,
        directoryPublicKey: undefined,
        publicEndpoint: `${probeTarget.url}/`,
      });
      await until(() => dir!.registrations.length >= 1);
      expect(dir.registrations[0]!.endpoint).toBe(probeTarget.url);
      expect(dir.registrations[0]!.endpoint).not.toBe(h.url);
    } finally {
      await probeTarget.close();
    }
  });
});
