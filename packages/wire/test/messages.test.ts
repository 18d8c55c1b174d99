import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CapabilitySchema,
  ConsumerTokenClaimsSchema,
  DirectoryEventSchema,
  DiscoverQuerySchema,
  DispatchRouteTicketClaimsSchema,
  DispatchTicketRequestSchema,
  EVENT_CHAIN_GENESIS_ROOT,
  HealthResponseSchema,
  HeartbeatRequestSchema,
  HeartbeatResponseSchema,
  NodeDetailSchema,
  NodeListSchema,
  OperatorDelegationSchema,
  PublicNodeListSchema,
  RegisterAckSchema,
  RegisterRequestSchema,
  TaskRequestSchema,
  TaskResponseSchema,
  clampDiscoverLimit,
  parseWire,
  safeParseWire,
} from '../src/index.ts';
import type { RegisterRequest, TaskRequest } from '../src/index.ts';
import { z } from 'zod';
import * as wire from '../src/index.ts';

/** Asserts `input` fails with the spec's `validation_error` (422) through parseWire. */
function expectValidationError(schema: z.ZodType, input: unknown): void {
  const result = safeParseWire(schema, input);
  expect(result.ok, JSON.stringify(input)).toBe(false);
  if (!result.ok) {
    expect(result.error.code).toBe('validation_error');
    expect(result.error.status).toBe(422);
  }
}

// ── Generators ───────────────────────────────────────────────────────────────

const chars = (set: string, min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...set.split('')), minLength: min, maxLength: max });
const lower = 'abcdefghijklmnopqrstuvwxyz0123456789';

const intentArb = fc
  .record({
    custom: fc.boolean(),
    domain: chars(`${lower}-`, 1, 10),
    actions: fc.array(chars(`${lower}-_/`, 1, 10), { maxLength: 2 }),
    version: fc.integer({ min: 1, max: 99 }),
  })
  .map(
    ({ custom, domain, actions, version }) =>
      `urn:iicp:intent:${custom ? 'x.' : ''}${[domain, ...actions].join(':')}:v${version}`,
  );

const uuidArb = fc.uuid({ version: 4 });

const capabilityArb = fc.record(
  {
    intent: intentArb,
    models: fc.array(chars(`${lower}.:-`, 1, 12), { minLength: 1, maxLength: 3 }),
    max_tokens: fc.integer({ min: 1, max: 1_000_000 }),
    input_modalities: fc.subarray(['text', 'image', 'audio', 'video'] as const, { minLength: 1 }),
    quantization: fc.constantFrom('fp16', 'q8', 'q4_k_m', 'awq-new-thing'),
    variant_id: chars(lower, 1, 8),
    x_vendor_field: fc.string(),
  },
  { requiredKeys: ['intent'] },
);

/** Valid REGISTER bodies: the directory minimum plus any mix of optional fields. */
const registerArb: fc.Arbitrary<RegisterRequest> = fc
  .record(
    {
      node_id: uuidArb,
      endpoint: fc.constantFrom(
        'https://node.example.com',
        'https://203.0.113.5:8443',
        'http://198.51.100.7:9484',
      ),
      region: chars(`${lower}-`, 1, 64),
      capabilities: fc
        .array(capabilityArb, { minLength: 1, maxLength: 4 })
        // variant ids unique per intent, no exact duplicates
        .map((caps) => caps.map((c, i) => ({ ...c, variant_id: `${c.variant_id ?? 'v'}${i}` }))),
      limits: fc.record(
        {
          max_concurrent: fc.integer({ min: 1, max: 256 }),
          tokens_per_min: fc.integer({ min: 1, max: 10_000_000 }),
        },
        { requiredKeys: ['max_concurrent'] },
      ),
      availability: fc.array(
        fc.record({
          start: fc.constantFrom('00:00', '08:30', '23:59'),
          end: fc.constantFrom('08:00', '24:00'),
          share: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        { maxLength: 2 },
      ),
      current_node_token: chars('0123456789abcdef', 64, 64),
      sdk_version: fc.constant('0.1.0'),
      sdk_compatibility_version: fc.constant('0.1.0'),
      implementation_name: fc.constant('@iicp/node'),
      future_field: fc.jsonValue(),
    },
    { requiredKeys: ['endpoint', 'region', 'capabilities', 'limits'] },
  )
  .map((r) => r as RegisterRequest);

const mutateRegister: ((r: RegisterRequest) => unknown)[] = [
  ({ endpoint: _e, ...r }) => r,
  ({ region: _r, ...r }) => r,
  ({ capabilities: _c, ...r }) => r,
  ({ limits: _l, ...r }) => r,
  (r) => ({ ...r, capabilities: [] }),
  (r) => ({ ...r, region: 'r'.repeat(65) }),
  (r) => ({ ...r, region: '' }),
  (r) => ({ ...r, limits: { ...r.limits, max_concurrent: 0 } }),
  (r) => ({ ...r, limits: { ...r.limits, max_concurrent: 257 } }),
  (r) => ({ ...r, limits: { ...r.limits, max_concurrent: 1.5 } }),
  (r) => ({ ...r, limits: { ...r.limits, tokens_per_min: 0 } }),
  (r) => ({ ...r, endpoint: 'not a url' }),
  (r) => ({ ...r, endpoint: 'ftp://node.example.com' }),
  (r) => ({ ...r, node_id: 'not-a-uuid' }),
  (r) => ({ ...r, node_id: '123e4567-e89b-12d3-a456-426614174000' }), // v1
  (r) => ({ ...r, capabilities: [{ ...r.capabilities[0], intent: 'urn:openai:gpt4' }] }),
  (r) => ({ ...r, capabilities: [{ ...r.capabilities[0], intent: undefined }] }),
  (r) => ({ ...r, capabilities: [{ ...r.capabilities[0], models: [] }] }),
  (r) => ({ ...r, capabilities: [{ ...r.capabilities[0], max_tokens: 0 }] }),
  (r) => ({ ...r, capabilities: [{ ...r.capabilities[0], input_modalities: ['smell'] }] }),
  (r) => ({ ...r, capabilities: [r.capabilities[0], r.capabilities[0]] }),
  (r) => ({ ...r, sdk_version: '1.0.0', sdk_compatibility_version: '2.0.0' }),
  (r) => ({ ...r, availability: [{ start: '25:00', end: '08:00', share: 0.5 }] }),
  (r) => ({ ...r, availability: [{ start: '00:00', end: '08:00', share: 1.5 }] }),
  (r) => ({ ...r, implementation_name: '../etc/passwd' }),
  (r) => ({ ...r, current_node_token: '' }),
];

/** Valid CALL bodies. */
const taskArb: fc.Arbitrary<TaskRequest> = fc
  .record(
    {
      task_id: uuidArb,
      intent: intentArb,
      // zod builds a fresh object, so an own top-level `__proto__` key is dropped (see
      // TaskPayloadSchema); generated payloads leave it out.
      payload: fc.dictionary(
        fc.string().filter((k) => k !== '__proto__'),
        fc.jsonValue(),
        { maxKeys: 4 },
      ),
      constraints: fc.record(
        {
          timeout_ms: fc.integer({ min: 100, max: 300_000 }),
          qos: fc.constantFrom('realtime', 'interactive', 'batch', 'best-effort'),
          priority: fc.constantFrom('low', 'normal', 'high', 'critical'),
          consensus: fc.constantFrom('none', 'first_completed', 'majority_of_3', 'majority_of_5'),
          region: chars(`${lower}-`, 1, 20),
        },
        { requiredKeys: ['timeout_ms'] },
      ),
      auth: fc.record({ node_token: fc.string({ minLength: 1, maxLength: 80 }) }),
      trace: fc.record(
        { trace_id: chars('0123456789abcdef', 32, 32), origin_node: uuidArb },
        { requiredKeys: [] },
      ),
      billing: fc.record(
        {
          max_credits: fc.double({ min: 0, max: 1e6, noNaN: true }),
          priority: fc.constantFrom('standard', 'premium'),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ['task_id', 'intent', 'payload', 'constraints'] },
  )
  .map((t) => t as TaskRequest);

const mutateTask: ((t: TaskRequest) => unknown)[] = [
  ({ task_id: _t, ...t }) => t,
  ({ intent: _i, ...t }) => t,
  ({ payload: _p, ...t }) => t,
  ({ constraints: _c, ...t }) => t,
  (t) => ({ ...t, task_id: t.task_id.slice(1) }),
  (t) => ({ ...t, task_id: `${t.task_id.slice(0, 14)}1${t.task_id.slice(15)}` }),
  (t) => ({ ...t, intent: t.intent.toUpperCase() }),
  (t) => ({ ...t, intent: `${t.intent}+attested` }),
  (t) => ({ ...t, intent: t.intent.replace(/:v\d+$/, ':v0') }),
  (t) => ({ ...t, payload: 'text' }),
  (t) => ({ ...t, payload: [1, 2] }),
  (t) => ({ ...t, payload: null }),
  (t) => ({ ...t, constraints: { ...t.constraints, timeout_ms: 99 } }),
  (t) => ({ ...t, constraints: { ...t.constraints, timeout_ms: 300_001 } }),
  (t) => ({ ...t, constraints: { ...t.constraints, timeout_ms: 1000.5 } }),
  (t) => ({ ...t, constraints: { ...t.constraints, timeout_ms: '5000' } }),
  (t) => ({ ...t, constraints: { ...t.constraints, qos: 'urgent' } }),
  (t) => ({ ...t, constraints: { ...t.constraints, priority: 'max' } }),
  (t) => ({ ...t, constraints: { ...t.constraints, consensus: 'majority_of_4' } }),
  (t) => ({ ...t, auth: { node_token: '' } }),
  (t) => ({ ...t, auth: {} }),
  (t) => ({ ...t, billing: { max_credits: -1 } }),
  (t) => ({ ...t, trace: { origin_node: 'proxy-1' } }),
];

/**
 * Two properties of a message schema: every generated valid value parses to itself, and
 * every listed mutation of one is refused with `validation_error`.
 */
function roundTripAndMutations<T>(
  what: string,
  schema: Parameters<typeof parseWire>[0],
  arb: fc.Arbitrary<T>,
  mutations: readonly ((v: T) => unknown)[],
  numRuns: number,
): void {
  it(`round-trips generated valid ${what}`, () => {
    fc.assert(
      fc.property(arb, (v) => {
        expect(parseWire(schema, v)).toEqual(v);
      }),
      { numRuns },
    );
  });

  it(`rejects mutated ${what.split(',')[0]} with validation_error`, () => {
    fc.assert(
      fc.property(arb, fc.integer({ min: 0, max: mutations.length - 1 }), (v, i) => {
        expectValidationError(schema, mutations[i]!(v));
      }),
      { numRuns: 400 },
    );
  });
}

// ── REGISTER ─────────────────────────────────────────────────────────────────

describe('REGISTER', () => {
  roundTripAndMutations(
    'registrations, unknown fields kept',
    RegisterRequestSchema,
    registerArb,
    mutateRegister,
    250,
  );

  it('accepts the directory minimum and the spec example', () => {
    const minimum = {
      endpoint: 'https://node.example.com',
      region: 'eu-central',
      capabilities: [{ intent: 'urn:iicp:intent:x.acme:invoice-classify:v1' }],
      limits: { max_concurrent: 4 },
    };
    expect(parseWire(RegisterRequestSchema, minimum)).toEqual(minimum);
    const example = {
      message_type: 'REGISTER',
      node_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
      endpoint: 'https://node.example.com',
      region: 'eu-central',
      capabilities: [
        {
          intent: 'urn:iicp:intent:llm:chat:v1',
          models: ['llama3', 'mistral'],
          max_tokens: 8192,
          input_modalities: ['text'],
        },
        {
          intent: 'urn:iicp:intent:mcp:tools/call:v1',
          mcp_tools: ['bash'],
          mcp_version: '2026-07-28',
          mcp_versions: ['2025-11-25', '2026-07-28'],
        },
      ],
      limits: { max_concurrent: 4, tokens_per_min: 20000 },
      sdk_language: 'typescript',
      sdk_version: '0.7.101',
      implementation_name: '@iicp/web-node',
      implementation_version: '0.2.2',
      sdk_compatibility_version: '0.7.101',
      availability: [{ start: '00:00', end: '08:00', share: 0.8 }],
      operator_delegation: {
        node_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
        operator_pub: 'MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=',
        not_after: 1893456000,
        sig: 'c2lnbmF0dXJl',
      },
      policy_manifest: {
        version: '2026-07-02',
        jurisdiction: 'DE',
        remote_executor_can_read_prompt: true,
        training_use: 'none',
        retention: { task_payload: 'none', logs_days: 7 },
        subprocessors: ['self-hosted'],
        unsupported_intents: ['urn:iicp:intent:biometric:protected-trait-classification:v1'],
      },
      transport_endpoint: 'iicp://203.0.113.5:9484',
      transport_method: 'upnp_mapped',
      transport_candidates: [
        { type: 'host', address: '192.168.1.10', port: 8090, priority: 126 },
        {
          type: 'srflx',
          address: '203.0.113.5',
          port: 8090,
          priority: 100,
          base: '192.168.1.10:8090',
        },
      ],
      relay_endpoint: null,
      nat_type: 'full_cone',
    };
    expect(parseWire(RegisterRequestSchema, example)).toEqual(example);
  });

  it('enforces MCP version membership and native transport schemes', () => {
    expect(
      CapabilitySchema.safeParse({
        intent: 'urn:iicp:intent:mcp:tools/call:v1',
        mcp_version: '2026-07-28',
        mcp_versions: ['2025-11-25'],
      }).success,
    ).toBe(false);
    const base = {
      endpoint: 'https://n.example.com',
      region: 'eu',
      capabilities: [{ intent: 'urn:iicp:intent:llm:chat:v1' }],
      limits: { max_concurrent: 1 },
    };
    expectValidationError(RegisterRequestSchema, {
      ...base,
      transport_endpoint: 'https://x.example',
    });
    expect(
      safeParseWire(RegisterRequestSchema, {
        ...base,
        transport_endpoint: 'iicpsec://x.example:9484',
      }).ok,
    ).toBe(true);
    // Variants of one intent are fine; the same variant_id twice is not.
    const v = (variant_id: string) => ({ intent: 'urn:iicp:intent:llm:chat:v1', variant_id });
    expect(
      safeParseWire(RegisterRequestSchema, { ...base, capabilities: [v('a'), v('b')] }).ok,
    ).toBe(true);
    expectValidationError(RegisterRequestSchema, {
      ...base,
      capabilities: [v('a'), { ...v('a'), models: ['m'] }],
    });
  });

  it('parses the ACK, with and without observed_source_ip', () => {
    const ack = {
      message_type: 'ACK',
      node_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
      node_token: 'a'.repeat(64),
      expires_at: null,
      directory: 'https://iicp.network',
      observed_source_ip: '203.0.113.42',
    };
    expect(parseWire(RegisterAckSchema, ack)).toEqual(ack);
    const { observed_source_ip: _ip, ...legacy } = ack;
    expect(parseWire(RegisterAckSchema, legacy)).toEqual(legacy);
    expectValidationError(RegisterAckSchema, { ...ack, node_token: '' });
  });

  it('checks operator delegation shape only', () => {
    expectValidationError(OperatorDelegationSchema, {
      node_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
      operator_pub: 'not base64!',
      not_after: 1,
      sig: 'AA==',
    });
  });
});

// ── CALL / RESPONSE ──────────────────────────────────────────────────────────

describe('CALL /v1/task', () => {
  roundTripAndMutations('tasks', TaskRequestSchema, taskArb, mutateTask, 300);

  it('drops an own top-level __proto__ key of the payload instead of passing it on', () => {
    const task = JSON.parse(
      '{"task_id":"550e8400-e29b-41d4-a716-446655440000","intent":"urn:iicp:intent:llm:chat:v1",' +
        '"payload":{"__proto__":{"polluted":true},"messages":[]},"constraints":{"timeout_ms":1000}}',
    ) as unknown;
    const parsed = parseWire(TaskRequestSchema, task);
    expect(Object.keys(parsed.payload)).toEqual(['messages']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps fields task.json would forbid (open parsing)', () => {
    const task = {
      task_id: '550e8400-e29b-41d4-a716-446655440000',
      intent: 'urn:iicp:intent:translate:v1',
      payload: { text: 'hi', target_language: 'de' },
      constraints: { timeout_ms: 5000, qos: 'realtime', priority: 'high', future: 1 },
      cip: { cip_role: 'worker', cip_parent_task_id: '550e8400-e29b-41d4-a716-446655440000' },
      extra_top_level: true,
    };
    expect(parseWire(TaskRequestSchema, task)).toEqual(task);
    expectValidationError(TaskRequestSchema, { ...task, cip: { cip_role: 'coordinator' } });
  });

  it('RESPONSE: success and error shapes', () => {
    const ok = {
      task_id: '550e8400-e29b-41d4-a716-446655440000',
      status: 'success',
      result: { choices: [] },
      metrics: { latency_ms: 320, tokens_used: 120 },
      model_used: 'llama-3-8b',
      error: null,
      generated_by_ai: true,
    };
    expect(parseWire(TaskResponseSchema, ok)).toEqual(ok);
    const err = {
      ...ok,
      status: 'error',
      result: null,
      error: { code: 'backend_error', message: 'x' },
    };
    expect(parseWire(TaskResponseSchema, err)).toEqual(err);
    expectValidationError(TaskResponseSchema, { ...err, error: null });
    expectValidationError(TaskResponseSchema, { ...ok, error: { code: 'x', message: 'y' } });
    expectValidationError(TaskResponseSchema, { ...ok, status: 'done' });
  });
});

// ── HEARTBEAT ────────────────────────────────────────────────────────────────

describe('HEARTBEAT / PONG', () => {
  const hb = {
    message_type: 'HEARTBEAT',
    node_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
    load: 0.35,
    active_jobs: 1,
    available: true,
    metrics: { tasks_success: 42, tasks_failed: 1, avg_latency_ms: 320.0 },
    metrics_batch_id: 'batch-0001',
    challenge_response: 'ab'.repeat(32),
    auto_update_enabled: true,
    auto_update_interval_s: 3600,
    sdk_latest_seen: '0.7.75',
    sdk_update_last_checked_at: '2026-06-25T08:40:00Z',
    sdk_update_error_class: null,
  };
  it('accepts the spec example and a bare node_id', () => {
    expect(parseWire(HeartbeatRequestSchema, hb)).toEqual(hb);
    const bare = { node_id: hb.node_id };
    expect(parseWire(HeartbeatRequestSchema, bare)).toEqual(bare);
  });
  it.each([
    { load: 1.2 },
    { load: -0.1 },
    { active_jobs: -1 },
    { metrics_batch_id: '' },
    { metrics_batch_id: 'x'.repeat(65) },
    { metrics_batch_id: 'tab\there' },
    { challenge_response: 'AB'.repeat(32) },
    { auto_update_interval_s: 299 },
    { node_id: undefined },
  ])('rejects %j', (patch) => {
    expectValidationError(HeartbeatRequestSchema, { ...hb, ...patch });
  });
  it('PONG', () => {
    const pong = {
      ok: true,
      next_heartbeat_ms: 30000,
      reputation_score: 0.82,
      reputation_model: 'outcome-v2',
      reputation_epoch: 'e1',
      metrics_batch_accepted: null,
      challenge: 'ab12',
    };
    expect(parseWire(HeartbeatResponseSchema, pong)).toEqual(pong);
    expectValidationError(HeartbeatResponseSchema, { ...pong, ok: false });
  });
});

// ── DISCOVER / NODELIST ──────────────────────────────────────────────────────

describe('discover query and NODELIST', () => {
  it('coerces query-string values', () => {
    const q = parseWire(DiscoverQuerySchema, {
      intent: 'urn:iicp:intent:llm:chat:v1',
      qos: 'realtime',
      limit: '25',
      min_reputation: '0.5',
      max_multiplier: '2',
      cip_capable: 'true',
      modality: 'image',
      view: 'public',
      unknown_param: 'kept',
    });
    expect(q).toMatchObject({
      limit: 25,
      min_reputation: 0.5,
      max_multiplier: 2,
      cip_capable: true,
      unknown_param: 'kept',
    });
    expect(
      parseWire(DiscoverQuerySchema, {
        intent: 'urn:iicp:intent:x.acme:a:v1',
        cip_capable: 'false',
      }).cip_capable,
    ).toBe(false);
    expect(clampDiscoverLimit(undefined)).toBe(10);
    expect(clampDiscoverLimit(500)).toBe(50);
  });
  it.each([
    {},
    { intent: 'urn:iicp:intent:llm:chat' },
    { intent: 'urn:iicp:intent:llm:chat:v1', min_reputation: '2.0' },
    { intent: 'urn:iicp:intent:llm:chat:v1', limit: 'ten' },
    { intent: 'urn:iicp:intent:llm:chat:v1', limit: '0' },
    { intent: 'urn:iicp:intent:llm:chat:v1', limit: '' },
    { intent: 'urn:iicp:intent:llm:chat:v1', qos: 'fast' },
    { intent: 'urn:iicp:intent:llm:chat:v1', cip_capable: 'maybe' },
    { intent: 'urn:iicp:intent:llm:chat:v1', view: 'full' },
    { intent: 'urn:iicp:intent:llm:chat:v1', modality: 'smell' },
  ])('rejects query %j', (q) => {
    expectValidationError(DiscoverQuerySchema, q);
  });

  const node = {
    node_id: '550e8400-e29b-41d4-a716-446655440001',
    endpoint: 'https://node1.example.com',
    transport_endpoint: 'iicp://node1.example.com:9484',
    region: 'eu-central',
    score: 0.91,
    available: true,
    load: 0.2,
    active_jobs: 1,
    max_concurrent: 4,
    reputation_score: 0.87,
    latency_estimate_ms: 120,
    completed_tasks_count: 1247,
    cip_policy: {
      allow_remote_inference: true,
      allow_tool_execution: false,
      allow_file_access: false,
      pricing_credits_per_1000: 2.5,
    },
    pricing: {
      credit_cost_multiplier: 1.5,
      pricing_model: 'per_token',
      currency: 'credits',
      effective_from: null,
      effective_until: null,
      attested: true,
    },
    node_policy_manifest: {
      version: '2026-07-02',
      jurisdiction: 'DE',
      remote_executor_can_read_prompt: true,
      training_use: 'none',
      retention: { task_payload: 'none', logs_days: 7 },
      subprocessors: ['self-hosted'],
      unsupported_intents: [],
      evidence: 'self_attested',
    },
    cip_conformance_level: 'CIP-Provider',
    health_label: 'healthy',
    exposure_mode: 'ipv4_public_direct',
    reachability_tier: 'direct',
    route_evidence: 'directory_observed_ipv4',
    cx_public_key: null,
    capabilities: [{ intent: 'urn:iicp:intent:llm:chat:v1', models: ['llama3'] }],
  };

  it('accepts the dispatch-view example and keeps every field', () => {
    const list = {
      nodes: [node],
      count: 1,
      query_ms: 8,
      view: 'dispatch',
      data_class: 'route_dispatch',
      route_fields_present: true,
      relay_available: false,
      dispatch_ticket_endpoint: '/v1/dispatch/ticket',
      ticketed_dispatch_available: true,
    };
    expect(parseWire(NodeListSchema, list)).toEqual(list);
    expectValidationError(NodeListSchema, { nodes: [{ ...node, score: 1.1 }] });
    expectValidationError(NodeListSchema, { nodes: [{ ...node, available: undefined }] });
    expectValidationError(NodeListSchema, { nodes: [{ ...node, health_label: 'fine' }] });
  });

  it('public view: accepts the redacted example, rejects route fields', () => {
    const pub = {
      nodes: [
        {
          node_id_prefix: 'b30aee67',
          region: 'eu-central',
          score: 0.91,
          route_class: 'external_tunnel',
          key_ready: true,
          reputation_tier: 'gold',
          models: ['qwen2.5:0.5b'],
        },
      ],
      view: 'public',
      data_class: 'public_presentation',
      route_fields_present: false,
      redaction: { node_id: 'node_id_prefix_only', endpoint: 'omitted' },
    };
    expect(parseWire(PublicNodeListSchema, pub)).toEqual(pub);
    for (const leak of [
      { node_id: node.node_id },
      { endpoint: node.endpoint },
      { transport_endpoint: node.transport_endpoint },
      { cx_public_key: null },
    ]) {
      expectValidationError(PublicNodeListSchema, {
        ...pub,
        nodes: [{ ...pub.nodes[0], ...leak }],
      });
    }
  });

  it('node detail carries probation and a 0–100 health block', () => {
    const detail = {
      ...node,
      probation: false,
      public_key: 'AAAA',
      health: {
        score: 92,
        label: 'healthy',
        observed: true,
        confidence: 'high',
        evidence_level: 'observed',
        latency_ms_basis: 120,
        components: { liveness: 1, reachability: { score: 0.9, observed: true }, latency: 0.8 },
        evaluated_at: '2026-06-01T06:00:00Z',
      },
    };
    expect(parseWire(NodeDetailSchema, detail)).toEqual(detail);
    expectValidationError(NodeDetailSchema, {
      ...detail,
      health: { ...detail.health, score: 0.92 },
    });
    expectValidationError(NodeDetailSchema, {
      ...detail,
      health: { ...detail.health, components: { reputation: 0.5 } },
    });
  });
});

// ── Tokens, tickets, events, health ──────────────────────────────────────────

describe('tokens, tickets, events, health', () => {
  it('consumer token claims', () => {
    const claims = {
      v: 1,
      iss: 'https://iicp.network',
      sub: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
      aud: '550e8400-e29b-41d4-a716-446655440001',
      intent: '*',
      iat: 1_780_000_000,
      exp: 1_780_000_300,
    };
    expect(parseWire(ConsumerTokenClaimsSchema, claims)).toEqual(claims);
    expectValidationError(ConsumerTokenClaimsSchema, { ...claims, v: 2 });
    expectValidationError(ConsumerTokenClaimsSchema, { ...claims, intent: 'gpt-4' });
    expectValidationError(ConsumerTokenClaimsSchema, { ...claims, exp: claims.iat });
  });

  it('dispatch route ticket claims and request', () => {
    const claims = {
      v: 1,
      typ: 'dispatch-route-ticket',
      iss: 'https://iicp.network',
      aud: 'iicp.directory.dispatch',
      jti: '0123456789abcdef01234567',
      node_id: '550e8400-e29b-41d4-a716-446655440001',
      intent: 'urn:iicp:intent:llm:chat:v1',
      iat: 1_780_000_000,
      exp: 1_780_000_060,
    };
    expect(parseWire(DispatchRouteTicketClaimsSchema, claims)).toEqual(claims);
    expectValidationError(DispatchRouteTicketClaimsSchema, { ...claims, aud: 'other' });
    expectValidationError(DispatchRouteTicketClaimsSchema, { ...claims, jti: 'short' });
    const req = { intent: 'urn:iicp:intent:llm:chat:v1', exclude_node_id_prefixes: ['b30aee67'] };
    expect(parseWire(DispatchTicketRequestSchema, req)).toEqual(req);
    for (const key of ['prompt', 'messages', 'payload', 'input', 'chat', 'content', 'response']) {
      expectValidationError(DispatchTicketRequestSchema, { ...req, [key]: 'secret' });
    }
    expectValidationError(DispatchTicketRequestSchema, {
      ...req,
      node_id: claims.node_id,
      node_id_prefix: '550e8400',
    });
    expectValidationError(DispatchTicketRequestSchema, {
      ...req,
      exclude_node_id_prefixes: Array.from({ length: 11 }, (_, i) => `abcd${i}`),
    });
  });

  it('directory event envelope', () => {
    const event = {
      event_id: '550e8400-e29b-41d4-a716-446655440009',
      event_type: 'REGISTER',
      seq: 1042,
      ts_ms: 1_715_644_800_000,
      payload: { node_id: '550e8400-e29b-41d4-a716-446655440001', region: 'eu-central' },
      prev_hash: EVENT_CHAIN_GENESIS_ROOT,
      sig: 'ab'.repeat(64),
      signer_did: 'did:web:iicp.network',
    };
    expect(parseWire(DirectoryEventSchema, event)).toEqual(event);
    expect(parseWire(DirectoryEventSchema, { ...event, prev_hash: null }).prev_hash).toBeNull();
    expectValidationError(DirectoryEventSchema, { ...event, seq: -1 });
    expectValidationError(DirectoryEventSchema, { ...event, prev_hash: 'XYZ' });
    expectValidationError(DirectoryEventSchema, { ...event, payload: [] });
  });

  it('node health response', () => {
    const h = { status: 'ok', load: 0.25, active_jobs: 1, node_id: null, models: ['llama3'] };
    expect(parseWire(HealthResponseSchema, h)).toEqual(h);
    expectValidationError(HealthResponseSchema, { ...h, status: 'up' });
    expectValidationError(HealthResponseSchema, { status: 'ok' });
  });
});

describe('OpenAPI readiness', () => {
  it('every exported schema converts to JSON Schema for input and output', () => {
    const failures: string[] = [];
    let count = 0;
    for (const [name, value] of Object.entries(wire)) {
      if (!(value instanceof z.ZodType)) continue;
      count++;
      for (const io of ['input', 'output'] as const) {
        try {
          z.toJSONSchema(value, { io });
        } catch (e) {
          failures.push(`${name} (${io}): ${(e as Error).message}`);
        }
      }
    }
    expect(count).toBeGreaterThan(60);
    expect(failures).toEqual([]);
  });
});
