import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ERROR_TABLE,
  IicpLocalError,
  IicpProtocolError,
  errorInfo,
  isKnownErrorCode,
} from '../src/errors.ts';
import { formatFieldPath, parseWire, safeParseWire } from '../src/validate.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('error table', () => {
  it('has unique, well-formed codes with sane statuses', () => {
    const codes = ERROR_TABLE.map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const e of ERROR_TABLE) {
      expect(e.code).toMatch(/^(?:[a-z]+(?:_[a-z]+)*|IICP-E\d{3}|IICP-POLICY-\d{3})$/);
      expect(e.family).toBe(e.code.startsWith('IICP-E') ? 'numeric' : 'slug');
      if (e.status === null) expect(e.side).toBe('client');
      else expect(e.status >= 400 && e.status <= 599).toBe(true);
      expect(e.meaning.length).toBeGreaterThan(10);
    }
  });

  it('pins the statuses of iicp-core.md §7 and the numeric codes', () => {
    const expected: Record<string, number> = {
      unauthorized: 401,
      forbidden: 403,
      not_found: 404,
      conflict: 409,
      rate_limited: 429,
      capacity_exceeded: 429,
      task_timeout: 504,
      backend_error: 502,
      no_consensus: 502,
      validation_error: 422,
      liveness_failed: 422,
      unsupported_media_type: 415,
      'IICP-E020': 403,
      'IICP-E021': 503,
      'IICP-E027': 422,
      'IICP-E029': 404,
      'IICP-E032': 401,
      'IICP-E033': 503,
      'IICP-E034': 429,
      'IICP-E035': 422,
      'IICP-E036': 402,
      'IICP-E049': 403,
      'IICP-E050': 403,
      'IICP-E062': 400,
    };
    for (const [code, status] of Object.entries(expected))
      expect(errorInfo(code)?.status, code).toBe(status);
  });

  it('lists every IICP-Exxx code the spec defines with a status', () => {
    // Codes that iicp-core.md §7 tabulates with an HTTP status must all be in the table.
    const core = fs.readFileSync(
      path.join(repoRoot, '../shared/iicp-spec/spec/v1.9/iicp-core.md'),
      'utf8',
    );
    const rows = [...core.matchAll(/^\|\s*`(IICP-E\d{3})`\s*\|\s*(\d{3})\s*\|/gm)];
    expect(rows.length).toBeGreaterThan(15);
    for (const [, code, status] of rows)
      expect(errorInfo(code!)?.status, code).toBe(Number(status));
  });

  it('is documented, code by code, in docs/errors.md', () => {
    const doc = fs.readFileSync(path.join(repoRoot, 'docs/errors.md'), 'utf8');
    const documented = new Set([...doc.matchAll(/^\|\s*`([^`]+)`\s*\|/gm)].map((m) => m[1]));
    const missing = ERROR_TABLE.map((e) => e.code).filter((c) => !documented.has(c));
    expect(missing).toEqual([]);
    const unknown = [...documented].filter((c) => !isKnownErrorCode(c!));
    expect(unknown).toEqual([]);
  });

  it('holds every code the code base uses', () => {
    const used = new Map<string, string>();
    const patterns = [
      /IicpProtocolError\(\s*['"]([^'"]+)['"]/g,
      /['"](IICP-E\d{3}|IICP-POLICY-\d{3})['"]/g,
      /\berror:\s*\{\s*code:\s*['"]([^'"]+)['"]/g,
      /\bcode:\s*['"]([a-z]+(?:_[a-z]+)+)['"]\s*,\s*message:/g,
    ];
    const walk = (dir: string) => {
      if (!fs.existsSync(dir)) return;
      for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
        if (['node_modules', 'dist', 'out-tsc', 'generated'].includes(ent.name)) continue;
        const p = path.join(dir, ent.name);
        if (ent.isDirectory()) walk(p);
        else if (/\.ts$/.test(ent.name) && !/\.test\.ts$/.test(ent.name)) {
          const text = fs.readFileSync(p, 'utf8');
          for (const re of patterns)
            for (const m of text.matchAll(re)) used.set(m[1]!, path.relative(repoRoot, p));
        }
      }
    };
    for (const group of ['packages', 'apps', 'tools']) {
      const g = path.join(repoRoot, group);
      for (const proj of fs.readdirSync(g)) walk(path.join(g, proj, 'src'));
    }
    expect(used.size).toBeGreaterThan(0);
    const unknown = [...used]
      .filter(([code]) => !isKnownErrorCode(code))
      .map(([c, f]) => `${c} in ${f}`);
    expect(unknown).toEqual([]);
  });
});

describe('IicpProtocolError', () => {
  it('takes its status from the table and serialises to the envelope', () => {
    const err = new IicpProtocolError('capacity_exceeded', 'no slot', {
      details: { qos_class: 'interactive', retry_after_ms: 500 },
    });
    expect(err.status).toBe(429);
    expect(err.retryable).toBe(true);
    expect(err.toWire()).toEqual({
      error: {
        code: 'capacity_exceeded',
        message: 'no slot',
        qos_class: 'interactive',
        retry_after_ms: 500,
      },
    });
  });

  it('details can never override code or message', () => {
    const err = new IicpProtocolError('not_found', 'unknown node', {
      details: { code: 'x', message: 'y' },
    });
    expect(err.toWire()).toEqual({ error: { code: 'not_found', message: 'unknown node' } });
  });

  it('round-trips through toWire/fromWire for every code', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ERROR_TABLE.map((e) => e.code)),
        fc.string(),
        fc.dictionary(
          fc.string().filter((k) => !['code', 'message', '__proto__'].includes(k)),
          fc.jsonValue(),
        ),
        (code, message, details) => {
          const err = new IicpProtocolError(code, message, { details });
          const back = IicpProtocolError.fromWire(
            JSON.parse(JSON.stringify(err.toWire())),
            err.status,
          );
          expect(back.code).toBe(code);
          expect(back.message).toBe(message);
          expect(back.status).toBe(err.status);
          expect(back.toWire()).toEqual(JSON.parse(JSON.stringify(err.toWire())));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('turns a body that is not an envelope into backend_error', () => {
    for (const body of [
      null,
      'oops',
      { error: 'flat string' },
      { detail: 'x' },
      { error: { message: 'm' } },
    ]) {
      const err = IicpProtocolError.fromWire(body);
      expect(err.code).toBe('backend_error');
      expect(err.status).toBe(502);
    }
  });

  it('keeps an unknown code from a newer peer', () => {
    const err = IicpProtocolError.fromWire({ error: { code: 'IICP-E099', message: 'new' } }, 418);
    expect(err.code).toBe('IICP-E099');
    expect(err.status).toBe(418);
  });

  it('local errors are a different family', () => {
    const local = new IicpLocalError('invalid_config', 'port out of range');
    expect(local).not.toBeInstanceOf(IicpProtocolError);
    expect(local.code).toBe('invalid_config');
  });
});

describe('parseWire', () => {
  const Schema = z.object({
    capabilities: z.array(z.object({ intent: z.string().startsWith('urn:') })).min(1),
    limits: z.object({ max_concurrent: z.number().int().min(1).max(256) }),
  });

  it('returns the parsed value', () => {
    const v = { capabilities: [{ intent: 'urn:x' }], limits: { max_concurrent: 2 } };
    expect(parseWire(Schema, v)).toEqual(v);
  });

  it('throws validation_error naming the failing field', () => {
    try {
      parseWire(Schema, { capabilities: [{ intent: 'nope' }], limits: { max_concurrent: 2 } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(IicpProtocolError);
      const e = err as IicpProtocolError;
      expect(e.code).toBe('validation_error');
      expect(e.status).toBe(422);
      expect(e.message).toMatch(/^capabilities\[0\]\.intent: /);
      expect(e.details.field).toBe('capabilities[0].intent');
    }
  });

  it('never echoes the rejected value', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 8 }), (secret) => {
        const canary = `CANARY-${secret}`;
        const r = safeParseWire(Schema, {
          capabilities: [{ intent: canary }],
          limits: { max_concurrent: canary },
        });
        expect(r.ok).toBe(false);
        if (!r.ok) expect(JSON.stringify(r.error.toWire())).not.toContain(canary);
      }),
      { numRuns: 100 },
    );
  });

  it('formats paths', () => {
    expect(formatFieldPath([])).toBe('(root)');
    expect(formatFieldPath(['a', 0, 'b'])).toBe('a[0].b');
    expect(formatFieldPath([2])).toBe('[2]');
  });
});
