import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IicpProtocolError } from '../src/errors.ts';
import { isIntentUrn, parseIntentUrn } from '../src/primitives.ts';
import { IntentRegistryDocumentSchema, INTENT_STATUSES } from '../src/registry/entry.ts';
import {
  INTENT_REGISTRY,
  activeIntents,
  getIntent,
  isRegisteredIntent,
} from '../src/registry/index.ts';
import {
  ACTIVE_PAYLOAD_SCHEMAS,
  CHAT_ROLES,
  hasPayloadContract,
  parseIntentPayload,
  payloadSchemasFor,
  validateIntentPayload,
} from '../src/registry/payloads.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const specRegistryDir = path.join(repoRoot, '../shared/iicp-spec/registry');

// The spec copy must be present (CI lays it out beside the repo): a missing file fails.
function readSpecJson(rel: string): unknown {
  const file = path.join(specRegistryDir, rel);
  if (!fs.existsSync(file))
    throw new Error(`spec file missing: ../shared/iicp-spec/registry/${rel}`);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

interface SpecIntent {
  urn: string;
  status: string;
  phase: number;
  kind: string;
  deprecated_by?: string;
  deprecated_since?: string;
  schemas: { input: { path: string }; output: { path: string } };
}
const specIntents = (readSpecJson('intents.json') as { intents: SpecIntent[] }).intents;

interface FixtureCase {
  id: string;
  intent: string;
  valid: boolean;
  payload: unknown;
}
const fixtureCases = (readSpecJson('fixtures/intent-payloads-v1.json') as { cases: FixtureCase[] })
  .cases;

const CHAT = 'urn:iicp:intent:llm:chat:v1';
const COMPLETION = 'urn:iicp:intent:llm:completion:v1';
const SPEECH = 'urn:iicp:intent:audio:speech:v1';
const TRANSCRIBE = 'urn:iicp:intent:audio:transcribe:v1';
const EMBEDDING = 'urn:iicp:intent:llm:embedding:v1';
const MODERATE = 'urn:iicp:intent:safety:moderate:v1';

describe('registry/intents.json', () => {
  it('is a valid document in our format', () => {
    const raw = JSON.parse(fs.readFileSync(path.join(repoRoot, 'registry/intents.json'), 'utf8'));
    const r = IntentRegistryDocumentSchema.safeParse(raw);
    expect(r.success).toBe(true);
    // The generated module carries the same entries.
    expect(r.data?.intents).toEqual(INTENT_REGISTRY);
  });

  it('every URN passes the intent URN grammar and splits as the entry says', () => {
    for (const e of INTENT_REGISTRY) {
      expect(isIntentUrn(e.urn), e.urn).toBe(true);
      const p = parseIntentUrn(e.urn);
      expect(p?.custom).toBe(false);
      expect(p?.domain).toBe(e.domain);
      expect(p?.action ?? null).toBe(e.action);
      expect(p?.version).toBe(e.version);
    }
  });

  it('holds exactly the URNs of the spec registry, no custom x. intents', () => {
    const ours = INTENT_REGISTRY.map((e) => e.urn).sort();
    expect(ours).toEqual(specIntents.map((i) => i.urn).sort());
    expect(ours).toHaveLength(17);
    expect(ours.some((u) => u.startsWith('urn:iicp:intent:x.'))).toBe(false);
  });

  it('carries the spec facts: status, phase, kind, deprecation, schema paths', () => {
    for (const s of specIntents) {
      const e = getIntent(s.urn);
      expect(e, s.urn).toBeDefined();
      expect(e?.status, s.urn).toBe(s.status);
      expect(e?.phase, s.urn).toBe(s.phase);
      expect(e?.kind, s.urn).toBe(s.kind);
      expect(e?.deprecated_by, s.urn).toBe(s.deprecated_by);
      expect(e?.deprecated_since, s.urn).toBe(s.deprecated_since);
      expect(`registry/${e?.spec_schemas.input}`).toBe(s.schemas.input.path);
      expect(`registry/${e?.spec_schemas.output}`).toBe(s.schemas.output.path);
    }
  });

  it('references schema files that exist', () => {
    for (const e of INTENT_REGISTRY) {
      for (const rel of [e.schemas.input, e.schemas.output]) {
        expect(fs.existsSync(path.join(repoRoot, 'registry', rel)), rel).toBe(true);
      }
    }
  });

  it('rejects entries that contradict themselves', () => {
    const base = structuredClone(
      JSON.parse(fs.readFileSync(path.join(repoRoot, 'registry/intents.json'), 'utf8')),
    );
    const mutate = (f: (d: { intents: Record<string, unknown>[] }) => void) => {
      const d = structuredClone(base);
      f(d);
      return IntentRegistryDocumentSchema.safeParse(d).success;
    };
    expect(mutate(() => {})).toBe(true);
    expect(mutate((d) => void (d.intents[0]!.domain = 'xyz'))).toBe(false);
    expect(mutate((d) => void (d.intents[0]!.status = 'retired'))).toBe(false);
    expect(mutate((d) => void (d.intents[0]!.extra = 1))).toBe(false);
    expect(mutate((d) => void d.intents.push(structuredClone(d.intents[0]!)))).toBe(false);
    expect(
      mutate((d) => {
        const x = d.intents[0]!;
        Object.assign(x, { urn: 'urn:iicp:intent:x.acme:chat:v1', domain: 'x.acme' });
      }),
    ).toBe(false);
    const dep = base.intents.findIndex((e: { status: string }) => e.status === 'deprecated');
    expect(dep).toBeGreaterThanOrEqual(0);
    expect(mutate((d) => void delete d.intents[dep]!.deprecated_by)).toBe(false);
    expect(mutate((d) => void (d.intents[dep]!.deprecated_by = 'urn:iicp:intent:nope:v1'))).toBe(
      false,
    );
  });
});

describe('registry lookups', () => {
  it('getIntent / isRegisteredIntent match exactly', () => {
    expect(getIntent(CHAT)?.kind).toBe('inference');
    expect(getIntent('urn:iicp:intent:mcp:tools/call:v1')?.action).toBe('tools/call');
    expect(getIntent('urn:iicp:intent:translate:v1')?.action).toBeNull();
    expect(isRegisteredIntent(CHAT)).toBe(true);
    // Comparison is exact and case-sensitive (iicp-semantics.md §1.2).
    expect(isRegisteredIntent(CHAT.toUpperCase())).toBe(false);
    expect(isRegisteredIntent(`${CHAT}+fast`)).toBe(false);
    expect(isRegisteredIntent('urn:iicp:intent:x.acme:chat:v1')).toBe(false);
    expect(isRegisteredIntent(42)).toBe(false);
    expect(getIntent('urn:iicp:intent:llm:chat:v2')).toBeUndefined();
  });

  it('activeIntents are exactly the spec active ones, each with a payload contract', () => {
    const specActive = specIntents.filter((i) => i.status === 'active').map((i) => i.urn);
    const ours = activeIntents().map((e) => e.urn);
    expect(ours.sort()).toEqual(specActive.sort());
    expect(Object.keys(ACTIVE_PAYLOAD_SCHEMAS).sort()).toEqual(ours.sort());
    for (const e of INTENT_REGISTRY) expect(hasPayloadContract(e.urn)).toBe(e.status === 'active');
    for (const e of INTENT_REGISTRY) expect(INTENT_STATUSES).toContain(e.status);
  });
});

describe('spec payload fixtures (registry/fixtures/intent-payloads-v1.json)', () => {
  it('has a valid and an invalid case for every active intent', () => {
    for (const e of activeIntents()) {
      const cases = fixtureCases.filter((c) => c.intent === e.urn);
      expect(cases.some((c) => c.valid)).toBe(true);
      expect(cases.some((c) => !c.valid)).toBe(true);
    }
  });

  it.each(fixtureCases.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    expect(isRegisteredIntent(c.intent)).toBe(true);
    expect(hasPayloadContract(c.intent)).toBe(true);
    const r = validateIntentPayload(c.intent, c.payload);
    expect(r.ok).toBe(c.valid);
    if (!r.ok) {
      expect(r.error).toBeInstanceOf(IicpProtocolError);
      expect(r.error.code).toBe('validation_error');
      expect(r.error.status).toBe(422);
    }
  });
});

describe('payload validation', () => {
  it('non-active and custom intents take any JSON object and return any JSON value', () => {
    for (const urn of ['urn:iicp:intent:translate:v1', 'urn:iicp:intent:x.acme:triage:v1']) {
      expect(validateIntentPayload(urn, { anything: [1, 'two'] }).ok).toBe(true);
      expect(validateIntentPayload(urn, {}).ok).toBe(true);
      expect(validateIntentPayload(urn, 'a string').ok).toBe(false);
      expect(validateIntentPayload(urn, null).ok).toBe(false);
      expect(validateIntentPayload(urn, [1], 'output').ok).toBe(true);
      expect(validateIntentPayload(urn, undefined, 'output').ok).toBe(false);
    }
  });

  it('keeps unknown fields instead of stripping them', () => {
    const parsed = parseIntentPayload(CHAT, {
      messages: [{ role: 'user', content: 'hi', name: 'bob' }],
      top_p: 0.5,
    });
    expect(parsed).toEqual({
      messages: [{ role: 'user', content: 'hi', name: 'bob' }],
      top_p: 0.5,
    });
  });

  it('parseIntentPayload throws validation_error naming the field, without echoing the payload', () => {
    const secret = 'canary-7f3a-secret';
    let caught: unknown;
    try {
      parseIntentPayload(CHAT, { messages: [{ role: secret, content: secret }] });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(IicpProtocolError);
    const err = caught as IicpProtocolError;
    expect(err.code).toBe('validation_error');
    expect(err.message).toContain('messages[0].role');
    expect(JSON.stringify(err.toWire())).not.toContain(secret);
  });

  it('checks outputs of active intents', () => {
    expect(
      validateIntentPayload(CHAT, { choices: [{ message: { role: 'assistant' } }] }, 'output').ok,
    ).toBe(true);
    expect(validateIntentPayload(CHAT, { choices: [{ index: 0 }] }, 'output').ok).toBe(false);
    expect(validateIntentPayload(TRANSCRIBE, 'hello', 'output').ok).toBe(true);
    expect(validateIntentPayload(TRANSCRIBE, { text: 'hello' }, 'output').ok).toBe(true);
    expect(validateIntentPayload(TRANSCRIBE, { words: [] }, 'output').ok).toBe(false);
    expect(
      validateIntentPayload(SPEECH, { audio: 'AAAA', content_type: 'audio/wav' }, 'output').ok,
    ).toBe(true);
    expect(validateIntentPayload(SPEECH, { audio: 'AAAA' }, 'output').ok).toBe(false);
    expect(validateIntentPayload(MODERATE, { results: [{ flagged: false }] }, 'output').ok).toBe(
      true,
    );
    expect(validateIntentPayload(MODERATE, { results: [{}] }, 'output').ok).toBe(false);
    expect(validateIntentPayload(EMBEDDING, { data: [{ embedding: [0.1, 2] }] }, 'output').ok).toBe(
      true,
    );
    expect(validateIntentPayload(EMBEDDING, { data: [{ embedding: ['x'] }] }, 'output').ok).toBe(
      false,
    );
    expect(
      validateIntentPayload(COMPLETION, { choices: [{ text: 'x', finish_reason: null }] }, 'output')
        .ok,
    ).toBe(true);
  });

  it('exposes distinct schema pairs per active intent and a shared open pair otherwise', () => {
    expect(payloadSchemasFor(CHAT).input).not.toBe(payloadSchemasFor(COMPLETION).input);
    expect(payloadSchemasFor('urn:iicp:intent:classify:v1')).toEqual(
      payloadSchemasFor('urn:iicp:intent:x.acme:a:v1'),
    );
    // Object prototype keys are not intents.
    expect(hasPayloadContract('constructor')).toBe(false);
  });
});

describe('payload validators (properties)', () => {
  const runs = { numRuns: 300 };
  const role = fc.constantFrom(...CHAT_ROLES);
  const jsonValue = fc.jsonValue({ maxDepth: 2 });
  const message = fc.record({ role, content: jsonValue });
  const validChat = fc.record(
    {
      messages: fc.array(message, { minLength: 1, maxLength: 4 }),
      max_tokens: fc.integer({ min: 1, max: 1_000_000 }),
      temperature: fc.double({ min: 0, max: 2, noNaN: true }),
      stop: fc.array(fc.string(), { maxLength: 3 }),
    },
    { requiredKeys: ['messages'] },
  );

  it('accepts generated valid chat payloads', () => {
    fc.assert(
      fc.property(validChat, (p) => validateIntentPayload(CHAT, p).ok),
      runs,
    );
  });

  it('rejects chat messages with a role outside the enum', () => {
    const badRole = fc.string().filter((r) => !(CHAT_ROLES as readonly string[]).includes(r));
    fc.assert(
      fc.property(validChat, badRole, fc.nat(), (p, r, at) => {
        const messages = p.messages.map((m) => ({ ...m }));
        messages[at % messages.length]!.role = r as never;
        return !validateIntentPayload(CHAT, { ...p, messages }).ok;
      }),
      runs,
    );
  });

  it('rejects temperature outside [0, 2] for chat and completion', () => {
    const outside = fc.oneof(
      fc.double({ max: -Number.MIN_VALUE, noNaN: true }),
      fc.double({ min: 2, minExcluded: true, noNaN: true }),
      fc.constant(Number.NaN),
    );
    fc.assert(
      fc.property(
        validChat,
        outside,
        (p, t) => !validateIntentPayload(CHAT, { ...p, temperature: t }).ok,
      ),
      runs,
    );
    fc.assert(
      fc.property(
        fc.string(),
        outside,
        (prompt, t) => !validateIntentPayload(COMPLETION, { prompt, temperature: t }).ok,
      ),
      runs,
    );
  });

  it('rejects non-positive or fractional max_tokens', () => {
    const bad = fc.oneof(
      fc.integer({ max: 0 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
    );
    fc.assert(
      fc.property(
        validChat,
        bad,
        (p, m) => !validateIntentPayload(CHAT, { ...p, max_tokens: m }).ok,
      ),
      runs,
    );
  });

  it('speech speed is accepted exactly within [0.25, 4]', () => {
    fc.assert(
      fc.property(fc.string(), fc.double({ min: -10, max: 10, noNaN: true }), (input, speed) => {
        const ok = validateIntentPayload(SPEECH, { input, speed }).ok;
        return ok === (speed >= 0.25 && speed <= 4);
      }),
      runs,
    );
  });

  it('embedding and moderation input: a string or a non-empty string list, nothing else', () => {
    const valid = fc.oneof(fc.string(), fc.array(fc.string(), { minLength: 1, maxLength: 5 }));
    const invalid = fc.oneof(
      fc.constant([]),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.oneof(fc.integer(), fc.constant(null)), { minLength: 1, maxLength: 3 }),
    );
    for (const urn of [EMBEDDING, MODERATE]) {
      fc.assert(
        fc.property(valid, (input) => validateIntentPayload(urn, { input }).ok),
        runs,
      );
      fc.assert(
        fc.property(invalid, (input) => !validateIntentPayload(urn, { input }).ok),
        runs,
      );
    }
  });

  it('transcribe language follows the tag pattern; audio must be non-empty', () => {
    const tag = fc
      .tuple(
        fc.stringMatching(/^[A-Za-z]{2,3}$/),
        fc.array(fc.stringMatching(/^[A-Za-z0-9]{1,8}$/), { maxLength: 2 }),
      )
      .map(([a, rest]) => [a, ...rest].join('-'));
    fc.assert(
      fc.property(
        tag,
        (language) => validateIntentPayload(TRANSCRIBE, { audio: 'dGVzdA==', language }).ok,
      ),
      runs,
    );
    fc.assert(
      fc.property(
        fc.string().filter((s) => !/^[A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*$/.test(s)),
        (language) => !validateIntentPayload(TRANSCRIBE, { audio: 'dGVzdA==', language }).ok,
      ),
      runs,
    );
    expect(validateIntentPayload(TRANSCRIBE, { audio: '' }).ok).toBe(false);
  });

  it('every active input schema rejects non-objects', () => {
    const nonObject = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.integer()),
    );
    for (const urn of Object.keys(ACTIVE_PAYLOAD_SCHEMAS)) {
      fc.assert(
        fc.property(nonObject, (p) => !validateIntentPayload(urn, p).ok),
        { numRuns: 50 },
      );
    }
  });
});
