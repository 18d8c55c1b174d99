import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compactRecord,
  intern,
  internPoolSize,
  INTERN_MAX_LENGTH,
  INTERN_POOL_SIZE,
} from '../src/storage/intern.ts';

const row = {
  nodeId: '6f1c2a4e-0000-4000-8000-000000000001',
  endpoint: 'https://n1.example.com',
  region: 'eu-west',
};

/** Records shaped like REGISTER bodies, with arbitrary values where the fields go. */
const recordArb = fc.record(
  {
    node_id: fc.oneof(fc.constant(row.nodeId), fc.string(), fc.integer()),
    endpoint: fc.oneof(fc.constant(row.endpoint), fc.string()),
    region: fc.oneof(fc.constant(row.region), fc.string(), fc.constant(null)),
    capabilities: fc.oneof(
      fc.array(
        fc.oneof(
          fc.record(
            {
              intent: fc.oneof(fc.constant('urn:iicp:intent:llm:chat:v1'), fc.jsonValue()),
              models: fc.oneof(fc.array(fc.oneof(fc.string(), fc.integer())), fc.string()),
              input_modalities: fc.array(fc.constantFrom('text', 'image')),
              output_modalities: fc.jsonValue(),
              extra: fc.jsonValue(),
            },
            { requiredKeys: [] },
          ),
          fc.jsonValue(),
        ),
      ),
      fc.jsonValue(),
    ),
    cip_conformance_level: fc.oneof(fc.constantFrom('CIP-None', 'CIP-1'), fc.jsonValue()),
    other: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

describe('compactRecord', () => {
  it('leaves the parsed record equal and serialising to the same bytes', () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        const text = JSON.stringify(r);
        const out = compactRecord(JSON.parse(text) as Record<string, unknown>, row);
        expect(JSON.stringify(out)).toBe(text);
        expect(out).toEqual(JSON.parse(text));
        expect(Object.keys(out)).toEqual(Object.keys(JSON.parse(text) as object));
      }),
      { numRuns: 400 },
    );
  });

  it('does not add fields a record lacks', () => {
    expect(compactRecord({}, row)).toEqual({});
    expect(compactRecord({ capabilities: [null, 1, 'x', []] }, row)).toEqual({
      capabilities: [null, 1, 'x', []],
    });
  });
});

describe('intern', () => {
  it('returns an equal string and keeps the pool within its bound', () => {
    for (let i = 0; i < INTERN_POOL_SIZE + 100; i++) {
      expect(intern(`distinct-${i}`)).toBe(`distinct-${i}`);
    }
    expect(internPoolSize()).toBeLessThanOrEqual(INTERN_POOL_SIZE);
    const long = 'x'.repeat(INTERN_MAX_LENGTH + 1);
    expect(intern(long)).toBe(long);
  });
});
