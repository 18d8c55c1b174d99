import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DirectoryEventSchema, DispatchRouteTicketClaimsSchema } from '../src/index.ts';

const specRoot = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/iicp-spec',
);
const load = (rel: string) => JSON.parse(fs.readFileSync(path.join(specRoot, rel), 'utf8'));

// The wire schemas must accept what other implementations publish: a schema stricter
// than the vectors would make us refuse interoperable messages.
describe('wire schemas accept the published vectors', () => {
  it('dispatch route ticket claims', () => {
    const v = load('research/pre-normative-profiles/fixtures/dispatch-route-ticket-v1.json');
    expect(DispatchRouteTicketClaimsSchema.safeParse(v.valid.claims).success).toBe(true);
    const bad = { ...v.valid.claims, jti: v.valid.claims.jti + 'ab' };
    expect(DispatchRouteTicketClaimsSchema.safeParse(bad).success).toBe(false);
  });

  it('federation chain events', () => {
    const v = load('research/pre-normative-profiles/fixtures/federation-chain-v0.json');
    let n = 0;
    for (const c of v.cases) {
      for (const ev of c.events ?? []) {
        const r = DirectoryEventSchema.safeParse(ev);
        expect(r.success, `${c.id} ${ev.event_id}`).toBe(true);
        n++;
      }
    }
    expect(n).toBeGreaterThan(5);
  });
});
