import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DirectoryClient, type DiscoverOptions } from '../src/directory.ts';
import { resolveOptions, type ClientOptions } from '../src/options.ts';

/** The QUERY as discover built it for every request before keys were remembered. */
function referenceQuery(
  intent: string,
  q: DiscoverOptions,
  o: { qos?: string; region?: string; discoverLimit?: number },
): string {
  const params = new URLSearchParams({ intent });
  const qos = q.qos ?? o.qos;
  const region = q.region ?? o.region;
  const limit = q.limit ?? o.discoverLimit;
  if (qos) params.set('qos', qos);
  if (region) params.set('region', region);
  if (limit !== undefined) params.set('limit', String(limit));
  if (q.model) params.set('model', q.model);
  if (q.minReputation !== undefined) params.set('min_reputation', String(q.minReputation));
  if (q.modality) params.set('modality', q.modality);
  return params.toString();
}

const intents = fc.constantFrom(
  'urn:iicp:intent:llm:chat:v1',
  'urn:iicp:intent:llm:completion:v1',
  'urn:iicp:intent:text:echo:v1',
);

describe('discover keys', () => {
  it('a remembered key is the query a fresh URLSearchParams builds (fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            qos: fc.constantFrom('realtime', 'batch'),
            region: fc.constantFrom('eu-west', 'us east'),
            discoverLimit: fc.integer({ min: 1, max: 50 }),
          },
          { requiredKeys: [] },
        ),
        fc.array(
          fc.tuple(
            intents,
            fc.record(
              {
                model: fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constant('')),
                qos: fc.constantFrom('realtime', 'batch'),
                limit: fc.integer({ min: 1, max: 50 }),
                minReputation: fc.double({ min: 0, max: 1, noNaN: true }),
                modality: fc.constantFrom('text', 'image'),
              },
              { requiredKeys: [] },
            ),
          ),
          { minLength: 1, maxLength: 12 },
        ),
        async (clientOpts, requests) => {
          const urls: string[] = [];
          const fetchFn = (async (url: string) => {
            urls.push(url);
            return new Response(JSON.stringify({ nodes: [], count: 0 }), {
              headers: { 'content-type': 'application/json' },
            });
          }) as typeof fetch;
          const o = resolveOptions({
            directoryUrl: 'http://127.0.0.1:9',
            fetch: fetchFn,
            ...clientOpts,
          } as ClientOptions);
          const dir = new DirectoryClient(o, []);
          // Twice each: the second time from the remembered key.
          for (const [intent, q] of [...requests, ...requests]) {
            urls.length = 0;
            await dir.discover(intent, { ...q, fresh: true } as DiscoverOptions);
            const query = new URL(urls[0]!).search.slice(1);
            expect(query).toBe(referenceQuery(intent, q as DiscoverOptions, clientOpts));
            expect(dir.peek(intent, q as DiscoverOptions)).toBeDefined();
          }
        },
      ),
      { seed: 20261207, numRuns: 200 },
    );
  });
});
