/** Helpers of the accounting tests: register a node, heartbeat, raise reputation. */
import { randomUUID } from 'node:crypto';
import type { IicpFastifyInstance } from '@iicp/http';
import { expect } from 'vitest';
import { bearer, registerBody } from './harness.ts';

export interface Ack {
  node_id: string;
  node_token: string;
  proxy_token: string;
  node_hmac_key: string;
  [k: string]: unknown;
}

export async function registerNode(
  app: IicpFastifyInstance,
  endpoint: string,
  extra: Record<string, unknown> = {},
): Promise<Ack> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/register',
    payload: registerBody(endpoint, extra),
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<Ack>();
}

export async function heartbeat(
  app: IicpFastifyInstance,
  ack: Ack,
  extra: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/heartbeat',
    headers: bearer(ack.node_token),
    payload: { node_id: ack.node_id, ...extra },
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Record<string, unknown>>();
}

/** A metrics batch of `success` successful tasks (a fresh batch id each call). */
export function successBatch(success: number, failed = 0): Record<string, unknown> {
  return {
    metrics: { tasks_success: success, tasks_failed: failed },
    metrics_batch_id: randomUUID(),
  };
}
