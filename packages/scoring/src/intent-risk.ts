/**
 * Intent risk taxonomy (iicp-dir.md §3.4.1 "Intent risk taxonomy", iicp-semantics.md §1.3).
 * The facts (categories, rule ids, URN fragments, public-mesh defaults) come from the
 * shared fixture spec/intent-risk-taxonomy.json, version 2026-07-09; a test checks this
 * table against that file entry by entry.
 */

export type IntentRiskCategory =
  'prohibited' | 'high_risk' | 'transparency_risk' | 'minimal_or_general';

/** Taxonomy version this table reproduces. */
export const INTENT_RISK_TAXONOMY_VERSION = '2026-07-09';

/** Most severe first; a URN matching several rules takes the most severe category. */
export const INTENT_RISK_CATEGORIES: readonly IntentRiskCategory[] = [
  'prohibited',
  'high_risk',
  'transparency_risk',
  'minimal_or_general',
];

export type IntentRiskAction =
  'refuse' | 'refuse_unless_compliance_profile' | 'allow_with_notice' | 'allow';

/** Public mesh default per category (iicp-dir.md §3.4.1 table). */
export const PUBLIC_MESH_DEFAULT: Readonly<Record<IntentRiskCategory, IntentRiskAction>> =
  Object.freeze({
    prohibited: 'refuse',
    high_risk: 'refuse_unless_compliance_profile',
    transparency_risk: 'allow_with_notice',
    minimal_or_general: 'allow',
  });

export interface IntentRiskRule {
  readonly id: string;
  readonly category: Exclude<IntentRiskCategory, 'minimal_or_general'>;
  /** Lower-case URN fragments; any one present in the intent URN triggers the rule. */
  readonly fragments: readonly string[];
}

const rule = (
  category: IntentRiskRule['category'],
  id: string,
  fragments: string[],
): IntentRiskRule => Object.freeze({ id, category, fragments: Object.freeze(fragments) });

export const INTENT_RISK_RULES: readonly IntentRiskRule[] = Object.freeze([
  // Prohibited practices: refused everywhere, before discovery.
  rule('prohibited', 'eu-ai-act-social-scoring', [
    'social-scoring',
    'social_scoring',
    'social:scoring',
  ]),
  rule('prohibited', 'eu-ai-act-criminal-risk', [
    'criminal-risk',
    'criminal_risk',
    'criminal:risk',
    'predict-crime',
  ]),
  rule('prohibited', 'eu-ai-act-workplace-education-emotion', [
    'emotion:workplace',
    'emotion:education',
    'workplace-monitoring',
    'education-monitoring',
    'worker-monitoring',
  ]),
  rule('prohibited', 'eu-ai-act-protected-trait-biometric', [
    'protected-trait',
    'protected_trait',
    'biometric:protected',
  ]),
  rule('prohibited', 'eu-ai-act-untargeted-face-scraping', [
    'untargeted-scraping',
    'untargeted_scraping',
    'face-scraping',
    'facial-scraping',
  ]),
  rule('prohibited', 'eu-ai-act-realtime-remote-biometric-id', [
    'remote-biometric:realtime',
    'realtime-remote-biometric',
    'real-time-remote-biometric',
  ]),
  rule('prohibited', 'eu-ai-act-nonconsensual-sexual-deepfake', [
    'nonconsensual-sexual',
    'non-consensual-sexual',
    'child-sexual-abuse',
    'csam',
  ]),
  // High risk: refused on the public mesh unless a private compliance profile is configured.
  rule('high_risk', 'eu-ai-act-employment-workforce', [
    'employment:hiring',
    'employment:screen',
    'employment:rank',
    'recruitment:decision',
    'workforce:decision',
    'worker-management',
    'worker:performance',
    'worker:discipline',
  ]),
  rule('high_risk', 'eu-ai-act-education-admission-grading', [
    'education:admission',
    'education:grading',
    'education:grade',
    'student:admission',
    'student:assess',
    'exam-grading',
  ]),
  rule('high_risk', 'eu-ai-act-credit-essential-services', [
    'credit-scoring',
    'credit:score',
    'credit:decision',
    'essential-services',
    'benefits:eligibility',
    'public-benefit:eligibility',
  ]),
  rule('high_risk', 'eu-ai-act-law-enforcement-border-justice', [
    'law-enforcement',
    'law_enforcement',
    'migration:decision',
    'asylum:decision',
    'border-control',
    'justice:decision',
    'democratic-process',
    'election:decision',
  ]),
  rule('high_risk', 'eu-ai-act-healthcare-critical-infrastructure', [
    'healthcare:decision',
    'medical:diagnosis',
    'medical:triage',
    'clinical:decision',
    'critical-infrastructure',
    'grid:stabilize',
    'hospital:surge-capacity',
  ]),
  rule('high_risk', 'eu-ai-act-physical-world-control', [
    'robotics:control',
    'robotics:fleet',
    'drone:control',
    'drone:search',
    'iot:actuate',
    'physical-world',
    'system_control',
  ]),
  // Transparency: allowed, with AI-interaction / generated-content notice metadata.
  rule('transparency_risk', 'eu-ai-act-ai-interaction', [
    'chatbot',
    'ai-assistant',
    'synthetic-media',
    'deepfake:labelled',
    'content:generate-public',
    'creative:generate',
  ]),
]);

export interface IntentRiskClassification {
  readonly category: IntentRiskCategory;
  /** Ids of every rule that matched, most severe first; empty for minimal_or_general. */
  readonly ruleIds: readonly string[];
}

const SEVERITY: Readonly<Record<IntentRiskCategory, number>> = {
  prohibited: 0,
  high_risk: 1,
  transparency_risk: 2,
  minimal_or_general: 3,
};

const MINIMAL: IntentRiskClassification = Object.freeze({
  category: 'minimal_or_general',
  ruleIds: Object.freeze([]),
});

/**
 * Classifies an intent URN. Matching is a case-insensitive substring search for each
 * fragment over the whole URN: a guard that must fail closed prefers the false positive
 * (`predict-crimes` still matches `predict-crime`) to a miss.
 */
export function classifyIntentRisk(intent: string): IntentRiskClassification {
  const urn = intent.toLowerCase();
  let category: IntentRiskCategory = 'minimal_or_general';
  let ids: string[] | undefined;
  for (const r of INTENT_RISK_RULES) {
    if (r.fragments.some((f) => urn.includes(f))) {
      (ids ??= []).push(r.id);
      if (SEVERITY[r.category] < SEVERITY[category]) category = r.category;
    }
  }
  return ids ? { category, ruleIds: ids } : MINIMAL;
}

export interface IntentRiskOptions {
  /**
   * Set only under an explicit private/compliance profile: lets `high_risk` intents
   * through. `prohibited` intents are refused whatever is configured.
   */
  readonly allowHighRisk?: boolean;
}

export interface IntentRiskDecision extends IntentRiskClassification {
  /** `refuse` is terminal: no discovery, no dispatch, no retry on another node. */
  readonly action: 'refuse' | 'allow_with_notice' | 'allow';
  /** `IICP-POLICY-001` when refused (iicp-semantics.md §1.3). */
  readonly code?: 'IICP-POLICY-001';
}

/** The public-mesh decision for an intent, with the optional high-risk opt-in. */
export function intentRiskDecision(
  intent: string,
  opts: IntentRiskOptions = {},
): IntentRiskDecision {
  const c = classifyIntentRisk(intent);
  switch (c.category) {
    case 'prohibited':
      return { ...c, action: 'refuse', code: 'IICP-POLICY-001' };
    case 'high_risk':
      return opts.allowHighRisk
        ? { ...c, action: 'allow' }
        : { ...c, action: 'refuse', code: 'IICP-POLICY-001' };
    case 'transparency_risk':
      return { ...c, action: 'allow_with_notice' };
    default:
      return { ...c, action: 'allow' };
  }
}
