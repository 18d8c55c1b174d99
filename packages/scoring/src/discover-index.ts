import {
  availabilityFactorCompiled,
  compileWindows,
  minuteOfDay,
  type CompiledWindow,
} from './availability.ts';
import {
  DEFAULT_ELIGIBILITY_POLICY,
  MAX_CONCURRENT_RANGE,
  type EligibilityPolicy,
} from './constants.ts';
import { intentRiskDecision } from './intent-risk.ts';
import { effectiveLimit, scoreFloor } from './rank.ts';
import {
  clampMaxConcurrent,
  completedTasksOf,
  combineScore,
  effectiveMultiplier,
  normalizedLoad,
  priceScore,
  reputationOf,
  weightsFor,
} from './score.ts';
import type { DiscoverQueryInput, RankedNode, ScoringNode } from './types.ts';

const AVAILABLE = 1;
const CIP = 2;

/** The per-heartbeat facts (iicp-core.md §4.1) that change between REGISTERs. */
export interface HeartbeatUpdate {
  readonly lastSeenMs: number;
  readonly available?: boolean | undefined;
  readonly load?: number | null | undefined;
  readonly activeJobs?: number | null | undefined;
  readonly reputation?: number | null | undefined;
  readonly completedTasks?: number | null | undefined;
}

export interface DiscoverIndexOptions {
  readonly policy?: EligibilityPolicy;
  /** Private compliance profile only: index and serve `high_risk` intents. */
  readonly allowHighRisk?: boolean;
}

function grow<T extends Float64Array | Int32Array | Uint8Array | Uint16Array | Uint32Array>(
  a: T,
  size: number,
): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

/**
 * One intent's candidates as parallel typed arrays (structure of arrays): a discover is
 * a single cache-friendly pass with no allocation per candidate, and an update writes one
 * slot. Removal swaps the last slot into the hole.
 */
class IntentShard {
  count = 0;
  private cap = 16;
  readonly slotOf = new Map<string, number>();
  ids: string[] = [];
  flags = new Uint8Array(16);
  lastSeen = new Float64Array(16);
  oneMinusLoad = new Float64Array(16);
  rep = new Float64Array(16);
  completed = new Float64Array(16);
  mult = new Float64Array(16);
  mc = new Uint16Array(16);
  region = new Int32Array(16);
  /** Bit j set when the node lists the shard's model id j (< 32); rarer models use `models`. */
  modelMask = new Uint32Array(16);
  windows: (readonly CompiledWindow[] | null)[] = [];
  models: (Int32Array | null)[] = [];
  modalities: (readonly string[] | null)[] = [];
  /** How many records have each clamped max_concurrent: the largest is found from the top. */
  private readonly mcHistogram = new Uint32Array(MAX_CONCURRENT_RANGE.max + 1);
  private cheapest = Infinity;
  private cheapestStale = false;
  readonly modelIds = new Map<string, number>();

  constructor(readonly refused: boolean) {}

  private ensure(): void {
    if (this.count < this.cap) return;
    this.cap *= 2;
    this.flags = grow(this.flags, this.cap);
    this.lastSeen = grow(this.lastSeen, this.cap);
    this.oneMinusLoad = grow(this.oneMinusLoad, this.cap);
    this.rep = grow(this.rep, this.cap);
    this.completed = grow(this.completed, this.cap);
    this.mult = grow(this.mult, this.cap);
    this.mc = grow(this.mc, this.cap);
    this.region = grow(this.region, this.cap);
    this.modelMask = grow(this.modelMask, this.cap);
  }

  largestMaxConcurrent(): number {
    for (let v = MAX_CONCURRENT_RANGE.max; v > 1; v--) if (this.mcHistogram[v]! > 0) return v;
    return 1;
  }

  cheapestMultiplier(): number {
    if (this.cheapestStale) {
      let c = Infinity;
      for (let i = 0; i < this.count; i++) if (this.mult[i]! < c) c = this.mult[i]!;
      this.cheapest = c;
      this.cheapestStale = false;
    }
    return this.cheapest === Infinity ? 1 : this.cheapest;
  }

  private setMultiplier(i: number, m: number, existed: boolean): void {
    const old = existed ? this.mult[i]! : Infinity;
    this.mult[i] = m;
    if (m <= this.cheapest) this.cheapest = m;
    else if (old <= this.cheapest) this.cheapestStale = true;
  }

  private modelId(model: string): number {
    let id = this.modelIds.get(model);
    if (id === undefined) {
      id = this.modelIds.size;
      this.modelIds.set(model, id);
    }
    return id;
  }

  upsert(
    node: ScoringNode,
    regionId: number,
    models: readonly string[] | null | undefined,
    modalities: readonly string[] | null | undefined,
  ): void {
    let i = this.slotOf.get(node.nodeId);
    const existed = i !== undefined;
    if (i === undefined) {
      this.ensure();
      i = this.count++;
      this.slotOf.set(node.nodeId, i);
      this.ids[i] = node.nodeId;
    } else {
      this.mcHistogram[this.mc[i]!]!--;
    }
    const mc = clampMaxConcurrent(node.maxConcurrent);
    this.mc[i] = mc;
    this.mcHistogram[mc]!++;
    this.region[i] = regionId;
    this.setMultiplier(i, effectiveMultiplier(node), existed);
    this.windows[i] = compileWindows(node.availability);
    const ids =
      models && models.length > 0 ? Int32Array.from(models, (m) => this.modelId(m)) : null;
    this.models[i] = ids;
    let mask = 0;
    if (ids) for (const id of ids) if (id < 32) mask |= 1 << id;
    this.modelMask[i] = mask >>> 0;
    this.modalities[i] = modalities && modalities.length > 0 ? modalities : null;
    this.flags[i] =
      (node.available ? AVAILABLE : 0) | (node.allowRemoteInference === true ? CIP : 0);
    this.lastSeen[i] = node.lastSeenMs;
    this.oneMinusLoad[i] = 1 - normalizedLoad(node);
    this.rep[i] = reputationOf(node);
    this.completed[i] = completedTasksOf(node);
  }

  heartbeat(nodeId: string, hb: HeartbeatUpdate): void {
    const i = this.slotOf.get(nodeId);
    if (i === undefined) return;
    this.lastSeen[i] = hb.lastSeenMs;
    if (hb.available !== undefined) {
      this.flags[i] = (this.flags[i]! & ~AVAILABLE) | (hb.available ? AVAILABLE : 0);
    }
    if (hb.load != null || hb.activeJobs != null) {
      this.oneMinusLoad[i] =
        1 -
        normalizedLoad({ load: hb.load, activeJobs: hb.activeJobs, maxConcurrent: this.mc[i]! });
    }
    if (hb.reputation != null) this.rep[i] = reputationOf(hb);
    if (hb.completedTasks != null) this.completed[i] = completedTasksOf(hb);
  }

  remove(nodeId: string): void {
    const i = this.slotOf.get(nodeId);
    if (i === undefined) return;
    this.slotOf.delete(nodeId);
    this.mcHistogram[this.mc[i]!]!--;
    if (this.mult[i]! <= this.cheapest) this.cheapestStale = true;
    const last = --this.count;
    if (i !== last) {
      const id = this.ids[last]!;
      this.ids[i] = id;
      this.slotOf.set(id, i);
      this.flags[i] = this.flags[last]!;
      this.lastSeen[i] = this.lastSeen[last]!;
      this.oneMinusLoad[i] = this.oneMinusLoad[last]!;
      this.rep[i] = this.rep[last]!;
      this.completed[i] = this.completed[last]!;
      this.mult[i] = this.mult[last]!;
      this.mc[i] = this.mc[last]!;
      this.region[i] = this.region[last]!;
      this.modelMask[i] = this.modelMask[last]!;
      this.windows[i] = this.windows[last]!;
      this.models[i] = this.models[last]!;
      this.modalities[i] = this.modalities[last]!;
    }
    this.ids.length = last;
    this.windows.length = last;
    this.models.length = last;
    this.modalities.length = last;
    if (last === 0) {
      this.cheapest = Infinity;
      this.cheapestStale = false;
    }
  }
}

function hasModel(ids: Int32Array | null, id: number): number {
  if (ids === null) return 0;
  for (let j = 0; j < ids.length; j++) if (ids[j] === id) return 1;
  return 0;
}

function acceptsModalityList(list: readonly string[] | null, modality: string): boolean {
  return list === null ? modality === 'text' : list.includes(modality);
}

/**
 * The directory's discover index: per intent, every node that registered it, kept up to
 * date by {@link upsert} (REGISTER), {@link heartbeat} (HEARTBEAT) and {@link remove}
 * (deregistration or eviction), so a discover scores only the intent's own candidates,
 * from precomputed numbers, keeping the best `limit` in a small sorted buffer.
 * `query` returns exactly what {@link rankCandidates} returns for the same nodes.
 */
export class DiscoverIndex {
  private readonly shards = new Map<string, IntentShard>();
  private readonly nodeIntents = new Map<string, readonly string[]>();
  private readonly regionIds = new Map<string, number>();
  private readonly policy: EligibilityPolicy;
  private readonly allowHighRisk: boolean;

  constructor(opts: DiscoverIndexOptions = {}) {
    this.policy = opts.policy ?? DEFAULT_ELIGIBILITY_POLICY;
    this.allowHighRisk = opts.allowHighRisk ?? false;
  }

  /** Number of nodes held. */
  get size(): number {
    return this.nodeIntents.size;
  }

  has(nodeId: string): boolean {
    return this.nodeIntents.has(nodeId);
  }

  private regionId(region: string): number {
    let id = this.regionIds.get(region);
    if (id === undefined) {
      id = this.regionIds.size;
      this.regionIds.set(region, id);
    }
    return id;
  }

  /** Adds or replaces a node (REGISTER, re-registration, reactivation). */
  upsert(node: ScoringNode): void {
    const intents: string[] = [];
    const regionId = this.regionId(node.region);
    for (const cap of node.capabilities) {
      if (intents.includes(cap.intent)) continue; // the first capability for an intent wins
      intents.push(cap.intent);
      let shard = this.shards.get(cap.intent);
      if (!shard) {
        shard = new IntentShard(
          intentRiskDecision(cap.intent, { allowHighRisk: this.allowHighRisk }).action === 'refuse',
        );
        this.shards.set(cap.intent, shard);
      }
      shard.upsert(node, regionId, cap.models, cap.inputModalities);
    }
    const before = this.nodeIntents.get(node.nodeId);
    if (before)
      for (const intent of before)
        if (!intents.includes(intent)) this.dropFrom(intent, node.nodeId);
    this.nodeIntents.set(node.nodeId, intents);
  }

  /** Applies one heartbeat to every intent of the node; unknown nodes are ignored. */
  heartbeat(nodeId: string, hb: HeartbeatUpdate): boolean {
    const intents = this.nodeIntents.get(nodeId);
    if (!intents) return false;
    for (const intent of intents) this.shards.get(intent)!.heartbeat(nodeId, hb);
    return true;
  }

  /** Removes a node (deregistration, dormancy sweep, revocation). */
  remove(nodeId: string): boolean {
    const intents = this.nodeIntents.get(nodeId);
    if (!intents) return false;
    for (const intent of intents) this.dropFrom(intent, nodeId);
    this.nodeIntents.delete(nodeId);
    return true;
  }

  private dropFrom(intent: string, nodeId: string): void {
    const shard = this.shards.get(intent);
    if (!shard) return;
    shard.remove(nodeId);
    if (shard.count === 0) this.shards.delete(intent);
  }

  /** The top `limit` eligible nodes for a discover, best first (score desc, node_id asc). */
  query(q: DiscoverQueryInput): RankedNode[] {
    const shard = this.shards.get(q.intent);
    if (!shard || shard.refused) return [];
    const p = this.policy;
    const limit = effectiveLimit(q.limit);
    const w = weightsFor(q.model);
    const model = q.model || undefined;
    const modelId = model ? (shard.modelIds.get(model) ?? -1) : -1;
    const cheapest = model ? shard.cheapestMultiplier() : 1;
    const largest = shard.largestMaxConcurrent();
    const wantRegion = q.region ? (this.regionIds.get(q.region) ?? -2) : -1;
    const minute = minuteOfDay(q.now);
    const now = q.now;
    const floor = scoreFloor(q, p);
    const minRep =
      typeof q.minReputation === 'number' && q.minReputation === q.minReputation
        ? q.minReputation
        : -Infinity;
    const maxMult = q.maxMultiplier ?? Infinity;
    const needCip = q.cipCapable === true;
    const modality = q.modality || undefined;
    let minCompleted = -Infinity;
    let minRepProbation = -Infinity;
    if (q.qos === 'interactive') minCompleted = p.interactiveMinCompletedTasks;
    else if (q.qos === 'realtime') {
      minCompleted = p.realtimeMinCompletedTasks;
      minRepProbation = p.realtimeMinReputation;
    }
    const repFloor = Math.max(p.reputationFloor, minRep, minRepProbation);
    const liveness = p.livenessMs;

    const {
      flags,
      lastSeen,
      oneMinusLoad,
      rep,
      completed,
      mult,
      mc,
      region,
      windows,
      models,
      modalities,
      ids,
    } = shard;
    const modelMask = shard.modelMask;
    const modelBit = modelId >= 0 && modelId < 32 ? (1 << modelId) >>> 0 : 0;
    const topScore = new Float64Array(limit);
    const topSlot = new Int32Array(limit);
    let k = 0;
    for (let i = 0, n = shard.count; i < n; i++) {
      const f = flags[i]!;
      if ((f & AVAILABLE) === 0) continue;
      if (!(now - lastSeen[i]! <= liveness)) continue;
      const r = rep[i]!;
      if (r < repFloor || completed[i]! < minCompleted) continue;
      if (mult[i]! > maxMult) continue;
      if (needCip && (f & CIP) === 0) continue;
      if (modality !== undefined && !acceptsModalityList(modalities[i]!, modality)) continue;
      const win = windows[i]!;
      const s = combineScore(
        w,
        win === null ? 1 : availabilityFactorCompiled(win, minute),
        oneMinusLoad[i]!,
        mc[i]! / largest,
        region[i] === wantRegion ? 1 : 0,
        r,
        modelBit !== 0
          ? (modelMask[i]! & modelBit) !== 0
            ? 1
            : 0
          : modelId >= 0
            ? hasModel(models[i]!, modelId)
            : 0,
        model ? priceScore(mult[i]!, cheapest) : 0,
      );
      if (s < floor) continue;
      // Insert into the best-first buffer if better than its worst (ties: smaller id first).
      if (k === limit) {
        const ws = topScore[k - 1]!;
        if (s < ws || (s === ws && !(ids[i]! < ids[topSlot[k - 1]!]!))) continue;
      } else {
        k++;
      }
      let j = k - 1;
      while (j > 0) {
        const ps = topScore[j - 1]!;
        if (ps > s || (ps === s && ids[topSlot[j - 1]!]! < ids[i]!)) break;
        topScore[j] = ps;
        topSlot[j] = topSlot[j - 1]!;
        j--;
      }
      topScore[j] = s;
      topSlot[j] = i;
    }
    const out: RankedNode[] = new Array(k);
    for (let j = 0; j < k; j++) out[j] = { nodeId: ids[topSlot[j]!]!, score: topScore[j]! };
    return out;
  }
}
