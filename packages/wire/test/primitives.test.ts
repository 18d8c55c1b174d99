import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HhMmSchema,
  INTENT_URN_PATTERN,
  IntentUrnSchema,
  MaxConcurrentSchema,
  QosSchema,
  RegionSchema,
  TimeoutMsSchema,
  UnitIntervalSchema,
  UuidV4Schema,
  isIntentUrn,
  isUuidV4,
  parseIntentUrn,
} from '../src/primitives.ts';
import { safeParseWire } from '../src/validate.ts';

const registryUrl = new URL('../../../../shared/iicp-spec/registry/intents.json', import.meta.url);

const lower = 'abcdefghijklmnopqrstuvwxyz0123456789';
const label = (chars: string, max = 12) =>
  fc.string({ unit: fc.constantFrom(...chars.split('')), minLength: 1, maxLength: max });

/** Generates URNs of the accepted grammar: standard or `x.<vendor>`, 0–3 action segments. */
const intentUrnArb = fc
  .record({
    custom: fc.boolean(),
    domain: label(`${lower}-`),
    actions: fc.array(label(`${lower}-_/`), { maxLength: 3 }),
    version: fc.integer({ min: 1, max: 999 }),
  })
  .map(
    ({ custom, domain, actions, version }) =>
      `urn:iicp:intent:${custom ? 'x.' : ''}${[domain, ...actions].join(':')}:v${version}`,
  );

/** Ways to break a valid URN that the spec names as malformed. */
const urnMutations: ((urn: string) => string)[] = [
  (u) => u.toUpperCase(), // case-sensitive, lowercase only
  (u) => `${u}+attested`, // deprecated modifier
  (u) => u.replace(/:v\d+$/, ''), // missing version
  (u) => u.replace(/:v\d+$/, ':v0'), // v0
  (u) => u.replace(/:v(\d+)$/, ':V$1'),
  (u) => u.replace(/:v(\d+)$/, ':v0$1'), // leading zero
  (u) => u.replace('urn:iicp:intent:', 'urn:iicp:intent::'), // empty segment
  (u) => u.replace(/:v(\d+)$/, '::v$1'), // empty segment before version
  (u) => u.replace('urn:iicp:intent:', 'urn:openai:'),
  (u) => u.replace('urn:iicp:intent:', 'urn:iicp:intnet:'),
  (u) => ` ${u}`,
  (u) => `${u}\n`,
  (u) => u.replace(/:v(\d+)$/, ':v$1.0'),
  (u) => u.replace('urn:iicp:intent:', 'urn:iicp:intent:ab cd:'),
];

describe('intent URN grammar', () => {
  it('accepts every URN of the upstream intent registry', () => {
    const registry = JSON.parse(readFileSync(registryUrl, 'utf8')) as {
      intents: { urn: string }[];
    };
    expect(registry.intents.length).toBeGreaterThanOrEqual(17);
    for (const { urn } of registry.intents) {
      expect(isIntentUrn(urn), urn).toBe(true);
      expect(IntentUrnSchema.parse(urn)).toBe(urn);
    }
  });

  it.each([
    'urn:iicp:intent:llm:chat:v1',
    'urn:iicp:intent:translate:v1',
    'urn:iicp:intent:classify:v1',
    'urn:iicp:intent:mcp:tools/call:v1',
    'urn:iicp:intent:x.acme:invoice-classify:v1',
    'urn:iicp:intent:x.hospital-alpha:triage-assist:v2',
    'urn:iicp:intent:x.exp:multimodal-audio:v1',
    'urn:iicp:intent:llm:chat:v10',
  ])('accepts %s', (urn) => {
    expect(isIntentUrn(urn)).toBe(true);
  });

  it.each([
    'urn:openai:gpt4',
    'urn:iicp:intent:llm:chat',
    'urn:iicp:intent:llm:chat:v0',
    'urn:iicp:intent:llm:chat:v01',
    'urn:iicp:intent:LLM:chat:v1',
    'urn:iicp:intent:llm:Chat:v1',
    'URN:IICP:INTENT:llm:chat:v1',
    'urn:iicp:intent:llm:chat:v1+attested',
    'urn:iicp:intent:llm::v1',
    'urn:iicp:intent::chat:v1',
    'urn:iicp:intent:v1',
    'urn:iicp:intent:x.:chat:v1',
    'urn:iicp:intent:x.Acme:chat:v1',
    'urn:iicp:intent:llm.chat:v1',
    'urn:iicp:intent:llm:chat:v1:',
    '',
  ])('rejects %j', (urn) => {
    expect(isIntentUrn(urn)).toBe(false);
    expect(IntentUrnSchema.safeParse(urn).success).toBe(false);
  });

  it('caps the length at 256 characters', () => {
    const base = 'urn:iicp:intent:llm:';
    const at256 = `${base}${'a'.repeat(256 - base.length - 3)}:v1`;
    expect(at256).toHaveLength(256);
    expect(isIntentUrn(at256)).toBe(true);
    expect(isIntentUrn(at256.replace(':v1', 'a:v1'))).toBe(false);
    expect(INTENT_URN_PATTERN.test(at256.replace(':v1', 'a:v1'))).toBe(true);
  });

  it('round-trips generated URNs', () => {
    fc.assert(
      fc.property(intentUrnArb, (urn) => {
        expect(IntentUrnSchema.parse(urn)).toBe(urn);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects mutated URNs', () => {
    fc.assert(
      fc.property(intentUrnArb, fc.integer({ min: 0, max: urnMutations.length - 1 }), (urn, i) => {
        const mutated = urnMutations[i]!(urn);
        fc.pre(mutated !== urn);
        const result = safeParseWire(IntentUrnSchema, mutated);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.error.code).toBe('validation_error');
      }),
      { numRuns: 400 },
    );
  });

  it('parses URNs into parts', () => {
    expect(parseIntentUrn('urn:iicp:intent:llm:chat:v1')).toEqual({
      domain: 'llm',
      action: 'chat',
      version: 1,
      custom: false,
    });
    expect(parseIntentUrn('urn:iicp:intent:translate:v3')).toEqual({
      domain: 'translate',
      version: 3,
      custom: false,
    });
    expect(parseIntentUrn('urn:iicp:intent:mcp:tools/call:v1')?.action).toBe('tools/call');
    expect(parseIntentUrn('urn:iicp:intent:x.acme:invoice-classify:v12')).toEqual({
      domain: 'x.acme',
      action: 'invoice-classify',
      version: 12,
      vendor: 'acme',
      custom: true,
    });
    expect(parseIntentUrn('urn:iicp:intent:llm:chat:v1+attested')).toBeUndefined();
  });

  it('parse reassembles to the same URN', () => {
    fc.assert(
      fc.property(intentUrnArb, (urn) => {
        const p = parseIntentUrn(urn)!;
        const parts = [p.domain, ...(p.action === undefined ? [] : [p.action]), `v${p.version}`];
        expect(`urn:iicp:intent:${parts.join(':')}`).toBe(urn);
        expect(p.custom).toBe(p.domain.startsWith('x.'));
      }),
      { numRuns: 200 },
    );
  });
});

const hex = (n: number) =>
  fc.string({
    unit: fc.constantFrom(...'0123456789abcdefABCDEF'.split('')),
    minLength: n,
    maxLength: n,
  });

/** Generates UUID v4 strings in mixed case. */
const uuidV4Arb = fc
  .tuple(hex(8), hex(4), hex(3), fc.constantFrom('8', '9', 'a', 'b', 'A', 'B'), hex(3), hex(12))
  .map(([a, b, c, v, d, e]) => `${a}-${b}-4${c}-${v}${d}-${e}`);

describe('UUID v4', () => {
  it('accepts fast-check v4 uuids and generated ones (round-trip)', () => {
    fc.assert(
      fc.property(fc.oneof(uuidV4Arb, fc.uuid({ version: 4 })), (u) => {
        expect(isUuidV4(u)).toBe(true);
        expect(UuidV4Schema.parse(u)).toBe(u);
      }),
      { numRuns: 300 },
    );
    expect(isUuidV4(crypto.randomUUID())).toBe(true);
  });

  it('rejects other versions, bad variants and mangled strings', () => {
    fc.assert(
      fc.property(fc.uuid({ version: [1, 2, 3, 5, 6, 7, 8] }), (u) => {
        expect(isUuidV4(u)).toBe(false);
      }),
      { numRuns: 200 },
    );
    const mutations: ((u: string) => string)[] = [
      (u) => u.slice(1),
      (u) => `${u}0`,
      (u) => u.replace(/-/g, ''),
      (u) => `${u.slice(0, 19)}c${u.slice(20)}`, // variant nibble outside 8..b
      (u) => `${u.slice(0, 14)}5${u.slice(15)}`, // version nibble
      (u) => `${u.slice(0, 3)}g${u.slice(4)}`,
      (u) => `{${u}}`,
    ];
    fc.assert(
      fc.property(uuidV4Arb, fc.integer({ min: 0, max: mutations.length - 1 }), (u, i) => {
        const result = safeParseWire(UuidV4Schema, mutations[i]!(u));
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.error.code).toBe('validation_error');
      }),
      { numRuns: 300 },
    );
  });
});

describe('bounded primitives', () => {
  it('timeout_ms is an integer in [100, 300000]', () => {
    for (const ok of [100, 5000, 300_000]) expect(TimeoutMsSchema.safeParse(ok).success).toBe(true);
    for (const bad of [99, 0, -1, 300_001, 1000.5, '5000', Number.NaN])
      expect(TimeoutMsSchema.safeParse(bad).success).toBe(false);
  });

  it('region is 1–64 characters', () => {
    expect(RegionSchema.safeParse('eu-central').success).toBe(true);
    expect(RegionSchema.safeParse('a'.repeat(64)).success).toBe(true);
    expect(RegionSchema.safeParse('a'.repeat(65)).success).toBe(false);
    expect(RegionSchema.safeParse('').success).toBe(false);
  });

  it('max_concurrent is an integer in [1, 256]', () => {
    for (const ok of [1, 8, 256]) expect(MaxConcurrentSchema.safeParse(ok).success).toBe(true);
    for (const bad of [0, 257, 1.5]) expect(MaxConcurrentSchema.safeParse(bad).success).toBe(false);
  });

  it('qos accepts exactly the four classes', () => {
    for (const q of ['realtime', 'interactive', 'batch', 'best-effort'])
      expect(QosSchema.parse(q)).toBe(q);
    for (const q of ['best_effort', 'Interactive', 'low', ''])
      expect(QosSchema.safeParse(q).success).toBe(false);
  });

  it('unit interval and HH:MM', () => {
    expect(UnitIntervalSchema.safeParse(0).success).toBe(true);
    expect(UnitIntervalSchema.safeParse(1).success).toBe(true);
    expect(UnitIntervalSchema.safeParse(1.01).success).toBe(false);
    expect(UnitIntervalSchema.safeParse(-0.01).success).toBe(false);
    for (const ok of ['00:00', '08:30', '23:59'])
      expect(HhMmSchema.safeParse(ok).success).toBe(true);
    for (const bad of ['24:00', '8:00', '12:60', '12:00:00'])
      expect(HhMmSchema.safeParse(bad).success).toBe(false);
  });
});
