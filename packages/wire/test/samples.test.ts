import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  EcosystemVersionTruthSchema,
  IicpProtocolError,
  ReleaseCandidateEvidenceSchema,
  TaskRequestSchema,
  TaskRequestWithBodyAuthSchema,
  parseWire,
  requireTaskAuth,
  safeParseWire,
} from '../src/index.ts';

// The spec copy sits beside the repository (<repoRoot>/../shared/iicp-spec); a missing
// file must fail these tests, never skip them.
const samplesDir = new URL('../../../../shared/iicp-spec/schemas/samples/', import.meta.url);
const load = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(name, samplesDir), 'utf8')) as unknown;

describe('schemas/samples', () => {
  it('holds exactly the samples this suite knows about', () => {
    const names = readdirSync(fileURLToPath(samplesDir)).filter((n) => n.endsWith('.json'));
    expect(names.sort()).toEqual(
      [
        'ecosystem-version-truth-release-ahead.json',
        'ecosystem-version-truth-stale.json',
        'ecosystem-version-truth-unavailable.json',
        'release-candidate-evidence-valid.json',
        'task-batch.json',
        'task-invalid-intent.json',
        'task-invalid-missing-auth.json',
        'task-valid.json',
      ].sort(),
    );
  });

  it.each(['task-valid.json', 'task-batch.json'])('accepts %s and round-trips it', (name) => {
    const sample = load(name);
    expect(parseWire(TaskRequestWithBodyAuthSchema, sample)).toEqual(sample);
    const task = parseWire(TaskRequestSchema, sample);
    expect(() => requireTaskAuth(task)).not.toThrow();
  });

  it('rejects task-invalid-intent.json with validation_error on the intent', () => {
    const result = safeParseWire(TaskRequestSchema, load('task-invalid-intent.json'));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('validation_error');
      expect(result.error.status).toBe(422);
      expect(result.error.message).toContain('intent');
    }
  });

  it('rejects task-invalid-missing-auth.json: body schema and the TASK-1 auth check', () => {
    const sample = load('task-invalid-missing-auth.json');
    const strict = safeParseWire(TaskRequestWithBodyAuthSchema, sample);
    expect(strict.ok).toBe(false);
    if (!strict.ok) {
      expect(strict.error.code).toBe('validation_error');
      expect(strict.error.message).toContain('auth');
    }
    // The open CALL schema leaves the credential to the node: without a consumer token
    // header the call is unauthorized; with one it proceeds to token verification.
    const task = parseWire(TaskRequestSchema, sample);
    let thrown: unknown;
    try {
      requireTaskAuth(task);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(IicpProtocolError);
    expect((thrown as IicpProtocolError).code).toBe('unauthorized');
    expect((thrown as IicpProtocolError).status).toBe(401);
    expect(() => requireTaskAuth(task, '')).toThrow(IicpProtocolError);
    expect(() => requireTaskAuth(task, 'eyJ2IjoxfQ.abcdef')).not.toThrow();
  });

  it.each([
    'ecosystem-version-truth-release-ahead.json',
    'ecosystem-version-truth-stale.json',
    'ecosystem-version-truth-unavailable.json',
  ])('accepts release evidence %s', (name) => {
    const sample = load(name);
    expect(parseWire(EcosystemVersionTruthSchema, sample)).toEqual(sample);
  });

  it('accepts release-candidate-evidence-valid.json', () => {
    const sample = load('release-candidate-evidence-valid.json');
    expect(parseWire(ReleaseCandidateEvidenceSchema, sample)).toEqual(sample);
  });

  it('evidence schemas are closed, as their JSON Schemas say', () => {
    const rc = load('release-candidate-evidence-valid.json') as Record<string, unknown>;
    expect(safeParseWire(ReleaseCandidateEvidenceSchema, { ...rc, extra: 1 }).ok).toBe(false);
    expect(safeParseWire(ReleaseCandidateEvidenceSchema, { ...rc, published: true }).ok).toBe(
      false,
    );
    const truth = load('ecosystem-version-truth-stale.json') as Record<string, unknown>;
    expect(safeParseWire(EcosystemVersionTruthSchema, { ...truth, content_free: false }).ok).toBe(
      false,
    );
  });
});
