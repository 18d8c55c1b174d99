import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  INTENT_RISK_CATEGORIES,
  INTENT_RISK_RULES,
  INTENT_RISK_TAXONOMY_VERSION,
  PUBLIC_MESH_DEFAULT,
  classifyIntentRisk,
  intentRiskDecision,
} from '../src/index.ts';
import { specRoot } from './helpers.ts';

interface UpstreamTaxonomy {
  version: string;
  categories: string[];
  public_mesh_default: Record<string, string>;
  rules: { category: string; rule_id: string; label: string; fragments: string[] }[];
}

const upstream = JSON.parse(
  readFileSync(join(specRoot, 'spec/intent-risk-taxonomy.json'), 'utf8'),
) as UpstreamTaxonomy;

describe('intent risk taxonomy matches spec/intent-risk-taxonomy.json', () => {
  it('has the same version and categories', () => {
    expect(INTENT_RISK_TAXONOMY_VERSION).toBe(upstream.version);
    expect([...INTENT_RISK_CATEGORIES]).toEqual(upstream.categories);
  });

  it('has the same rules, in order, with the same fragments', () => {
    expect(INTENT_RISK_RULES.map((r) => [r.category, r.id, [...r.fragments]])).toEqual(
      upstream.rules.map((r) => [r.category, r.rule_id, r.fragments]),
    );
  });

  it('maps each public-mesh default onto an action of the same meaning', () => {
    const meaning: Record<string, string> = {
      refuse: 'refuse',
      refuse_without_explicit_private_compliance_profile: 'refuse_unless_compliance_profile',
      allow_with_notice_metadata: 'allow_with_notice',
      allow: 'allow',
    };
    for (const [cat, action] of Object.entries(upstream.public_mesh_default)) {
      expect(PUBLIC_MESH_DEFAULT[cat as keyof typeof PUBLIC_MESH_DEFAULT]).toBe(meaning[action]);
    }
  });

  it('classifies a URN built from every fragment into its rule category', () => {
    for (const r of upstream.rules) {
      for (const f of r.fragments) {
        const c = classifyIntentRisk(`urn:iicp:intent:x.test:${f}:v1`);
        expect(c.ruleIds).toContain(r.rule_id);
        // A URN can match a more severe rule too, never a less severe one.
        expect(INTENT_RISK_CATEGORIES.indexOf(c.category)).toBeLessThanOrEqual(
          INTENT_RISK_CATEGORIES.indexOf(r.category as (typeof INTENT_RISK_CATEGORIES)[number]),
        );
      }
    }
  });
});

describe('intent risk decisions', () => {
  it('refuses prohibited intents with IICP-POLICY-001, even with the high-risk opt-in', () => {
    for (const urn of [
      'urn:iicp:intent:social:scoring:v1',
      'urn:iicp:intent:x.acme:Predict-Crime:v2',
    ]) {
      for (const allowHighRisk of [false, true]) {
        const d = intentRiskDecision(urn, { allowHighRisk });
        expect(d).toMatchObject({
          action: 'refuse',
          category: 'prohibited',
          code: 'IICP-POLICY-001',
        });
      }
    }
  });

  it('refuses high-risk intents unless a compliance profile allows them', () => {
    const urn = 'urn:iicp:intent:medical:diagnosis:v1';
    expect(intentRiskDecision(urn)).toMatchObject({ action: 'refuse', category: 'high_risk' });
    expect(intentRiskDecision(urn, { allowHighRisk: true })).toMatchObject({
      action: 'allow',
      category: 'high_risk',
    });
  });

  it('allows transparency-risk intents with notice and ordinary intents plainly', () => {
    expect(intentRiskDecision('urn:iicp:intent:creative:generate:v1').action).toBe(
      'allow_with_notice',
    );
    for (const urn of [
      'urn:iicp:intent:llm:chat:v1',
      'urn:iicp:intent:code:complete:v1',
      'urn:iicp:intent:text:summarize:v1',
      'urn:iicp:intent:text:translate:v1',
      'urn:iicp:intent:education:explain:v1',
    ]) {
      expect(intentRiskDecision(urn), urn).toMatchObject({
        action: 'allow',
        category: 'minimal_or_general',
        ruleIds: [],
      });
    }
  });

  it('takes the most severe category when several rules match', () => {
    const c = classifyIntentRisk('urn:iicp:intent:chatbot:social-scoring:v1');
    expect(c.category).toBe('prohibited');
    expect(c.ruleIds).toEqual(['eu-ai-act-social-scoring', 'eu-ai-act-ai-interaction']);
  });
});
