import { describe, expect, it } from 'vitest';
import {
  DiscoverIndex,
  availabilityFactor,
  minuteOfDay,
  parseHhMm,
  rankCandidates,
  type ScoringNode,
} from '../src/index.ts';

const at = (h: number, m: number) => Date.UTC(2026, 0, 15, h, m);

describe('availability windows (iicp-semantics.md §4)', () => {
  it('parses HH:MM and rejects anything else', () => {
    expect(parseHhMm('00:00')).toBe(0);
    expect(parseHhMm('23:59')).toBe(1439);
    for (const bad of ['24:00', '7:00', '12:60', '12:00 ', ''])
      expect(parseHhMm(bad)).toBeUndefined();
  });

  it('computes the UTC minute of day, also before 1970', () => {
    expect(minuteOfDay(at(13, 37))).toBe(13 * 60 + 37);
    expect(minuteOfDay(-60_000)).toBe(1439);
  });

  it('no windows → 1.0; inside → share; outside → 0.5; midnight-crossing windows', () => {
    expect(availabilityFactor(undefined, at(12, 0))).toBe(1);
    expect(availabilityFactor([], at(12, 0))).toBe(1);
    const night = [{ start: '22:00', end: '06:00', share: 0.8 }];
    expect(availabilityFactor(night, at(23, 0))).toBe(0.8);
    expect(availabilityFactor(night, at(5, 59))).toBe(0.8);
    expect(availabilityFactor(night, at(6, 0))).toBe(0.5);
    expect(availabilityFactor(night, at(21, 59))).toBe(0.5);
    expect(availabilityFactor([{ start: '08:00', end: '08:00', share: 0.3 }], at(2, 0))).toBe(0.3);
  });
});

describe('DiscoverIndex maintenance', () => {
  const CHAT = 'urn:iicp:intent:llm:chat:v1';
  const EMBED = 'urn:iicp:intent:llm:embed:v1';
  const now = at(12, 0);
  const node = (id: string, patch: Partial<ScoringNode> = {}): ScoringNode => ({
    nodeId: id,
    region: 'eu-central',
    capabilities: [{ intent: CHAT }],
    maxConcurrent: 4,
    available: true,
    lastSeenMs: now,
    ...patch,
  });

  it('moves a node between intents when its capabilities change', () => {
    const ix = new DiscoverIndex();
    ix.upsert(node('a'));
    expect(ix.query({ intent: CHAT, now }).map((r) => r.nodeId)).toEqual(['a']);
    ix.upsert(node('a', { capabilities: [{ intent: EMBED }] }));
    expect(ix.query({ intent: CHAT, now })).toEqual([]);
    expect(ix.query({ intent: EMBED, now }).map((r) => r.nodeId)).toEqual(['a']);
    expect(ix.size).toBe(1);
  });

  it('recomputes the capacity denominator when the largest node leaves', () => {
    const ix = new DiscoverIndex();
    const nodes = [node('big', { maxConcurrent: 64 }), node('small', { maxConcurrent: 8 })];
    for (const n of nodes) ix.upsert(n);
    ix.remove('big');
    const got = ix.query({ intent: CHAT, now });
    expect(got).toEqual(rankCandidates([nodes[1]!], { intent: CHAT, now }));
    expect(got[0]!.score).toBeCloseTo(0.35 + 0.28 + 0.18 + 0.1 * 0.5, 12);
  });

  it('recomputes the cheapest price when the cheapest node leaves or gets dearer', () => {
    const ix = new DiscoverIndex();
    ix.upsert(
      node('cheap', { creditCostMultiplier: 0.5, capabilities: [{ intent: CHAT, models: ['m'] }] }),
    );
    ix.upsert(
      node('dear', { creditCostMultiplier: 2, capabilities: [{ intent: CHAT, models: ['m'] }] }),
    );
    ix.upsert(
      node('cheap', { creditCostMultiplier: 4, capabilities: [{ intent: CHAT, models: ['m'] }] }),
    );
    const q = { intent: CHAT, now, model: 'm' };
    const dear = ix.query(q).find((r) => r.nodeId === 'dear')!;
    expect(dear.score).toBeCloseTo(0.25 + 0.2 + 0.15 + 0.05 + 0.1 + 0.1, 12);
  });

  it('heartbeats update liveness and availability without re-registering', () => {
    const ix = new DiscoverIndex();
    ix.upsert(node('a', { lastSeenMs: now - 100_000 }));
    expect(ix.query({ intent: CHAT, now })).toEqual([]);
    expect(ix.heartbeat('a', { lastSeenMs: now, load: 0.5 })).toBe(true);
    expect(ix.query({ intent: CHAT, now })).toHaveLength(1);
    ix.heartbeat('a', { lastSeenMs: now, available: false });
    expect(ix.query({ intent: CHAT, now })).toEqual([]);
    expect(ix.heartbeat('ghost', { lastSeenMs: now })).toBe(false);
  });

  it('never serves a refused intent, even when nodes registered it', () => {
    const intent = 'urn:iicp:intent:x.acme:csam:v1';
    const ix = new DiscoverIndex({ allowHighRisk: true });
    ix.upsert(node('bad', { capabilities: [{ intent }] }));
    expect(ix.query({ intent, now })).toEqual([]);
  });

  it('serves a high-risk intent only under the compliance opt-in', () => {
    const intent = 'urn:iicp:intent:credit:decision:v1';
    const pub = new DiscoverIndex();
    const priv = new DiscoverIndex({ allowHighRisk: true });
    for (const ix of [pub, priv]) ix.upsert(node('n', { capabilities: [{ intent }] }));
    expect(pub.query({ intent, now })).toEqual([]);
    expect(priv.query({ intent, now })).toHaveLength(1);
  });

  it('matches models beyond the first 32 an intent has seen', () => {
    const ix = new DiscoverIndex();
    const models = Array.from({ length: 40 }, (_, i) => `model-${i}`);
    const nodes = models.map((m, i) =>
      node(`n${i}`, { capabilities: [{ intent: CHAT, models: [m] }] }),
    );
    for (const n of nodes) ix.upsert(n);
    for (const model of ['model-3', 'model-35', 'model-39']) {
      const q = { intent: CHAT, now, model, limit: 1 };
      expect(ix.query(q)).toEqual(rankCandidates(nodes, q));
      expect(ix.query(q)[0]!.nodeId).toBe(`n${model.slice(6)}`);
    }
  });

  it('grows past its initial capacity and keeps results right', () => {
    const ix = new DiscoverIndex();
    const nodes = Array.from({ length: 300 }, (_, i) =>
      node(`n${i}`, { load: (i % 17) / 17, maxConcurrent: 1 + (i % 9), reputation: (i % 11) / 10 }),
    );
    for (const n of nodes) ix.upsert(n);
    for (let i = 0; i < 300; i += 3) ix.remove(`n${i}`);
    const left = nodes.filter((_, i) => i % 3 !== 0);
    const q = { intent: CHAT, now, limit: 50 };
    expect(ix.query(q)).toEqual(rankCandidates(left, q));
  });
});
