import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DiscoverQueryInput, QosLevel, ScoringNode } from '../src/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../../..');
export const specRoot = resolve(repoRoot, '../shared/iicp-spec');
export const vectorDir = join(repoRoot, 'spec/vectors/scoring');

/** Vector files use the wire's snake_case names; these map them onto the scoring inputs. */
export interface VectorNode {
  node_id: string;
  region: string;
  max_concurrent: number;
  available: boolean;
  last_seen_ms: number;
  load?: number;
  active_jobs?: number;
  reputation?: number;
  completed_tasks_count?: number;
  availability?: { start: string; end: string; share: number }[] | null;
  credit_cost_multiplier?: number;
  allow_remote_inference?: boolean;
  capabilities: { intent: string; models?: string[]; input_modalities?: string[] }[];
}

export interface VectorQuery {
  intent: string;
  now: number;
  qos?: QosLevel;
  region?: string;
  model?: string;
  limit?: number;
  min_reputation?: number;
  min_score?: number;
  max_multiplier?: number;
  modality?: string;
  cip_capable?: boolean;
}

export interface VectorCase {
  name: string;
  description: string;
  query: VectorQuery;
  nodes: VectorNode[];
  expected: { node_id: string; score: number; terms: Record<string, number> }[];
  excluded: Record<string, string>;
}

export interface VectorFile {
  description: string;
  provenance: string;
  tolerance: number;
  cases: VectorCase[];
}

export function loadVectorFiles(): { file: string; doc: VectorFile }[] {
  return readdirSync(vectorDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      doc: JSON.parse(readFileSync(join(vectorDir, file), 'utf8')) as VectorFile,
    }));
}

export function toNode(v: VectorNode): ScoringNode {
  return {
    nodeId: v.node_id,
    region: v.region,
    maxConcurrent: v.max_concurrent,
    available: v.available,
    lastSeenMs: v.last_seen_ms,
    load: v.load,
    activeJobs: v.active_jobs,
    reputation: v.reputation,
    completedTasks: v.completed_tasks_count,
    availability: v.availability ?? null,
    creditCostMultiplier: v.credit_cost_multiplier,
    allowRemoteInference: v.allow_remote_inference,
    capabilities: v.capabilities.map((c) => ({
      intent: c.intent,
      models: c.models,
      inputModalities: c.input_modalities,
    })),
  };
}

export function toQuery(q: VectorQuery): DiscoverQueryInput {
  return {
    intent: q.intent,
    now: q.now,
    qos: q.qos,
    region: q.region,
    model: q.model,
    limit: q.limit,
    minReputation: q.min_reputation,
    minScore: q.min_score,
    maxMultiplier: q.max_multiplier,
    modality: q.modality,
    cipCapable: q.cip_capable,
  };
}
