import { constantTimeEqual } from '@iicp/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeTokenMatches } from '../src/auth.ts';

// The node compares a presented node_token with its own through native SHA-256 and a
// cached digest of its own token; it must decide exactly as @iicp/crypto's
// constantTimeEqual (the generic path) does, for any pair of strings.
describe('nodeTokenMatches', () => {
  it('agrees with constantTimeEqual on arbitrary and equal strings', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 80 }),
        fc.string({ maxLength: 80 }),
        (a, b) => {
          expect(nodeTokenMatches(a, b)).toBe(constantTimeEqual(a, b));
          expect(nodeTokenMatches(b, b)).toBe(true);
          expect(nodeTokenMatches(a, a)).toBe(constantTimeEqual(a, a));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('follows a rotated node token (the cached digest is per token)', () => {
    expect(nodeTokenMatches('tok-1', 'tok-1')).toBe(true);
    expect(nodeTokenMatches('tok-1', 'tok-2')).toBe(false);
    expect(nodeTokenMatches('tok-2', 'tok-2')).toBe(true);
    expect(nodeTokenMatches('tok-1', 'tok-1')).toBe(true);
    // Lone surrogates encode as U+FFFD on both paths.
    expect(nodeTokenMatches('\ud800', '\ufffd')).toBe(constantTimeEqual('\ud800', '\ufffd'));
  });
});
