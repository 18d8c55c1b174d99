import {
  availabilityFactorCompiled,
  compileWindows,
  minuteOfDay,
  type CompiledWindow,
} from './availability.ts';
import {
  DEFAULT_ELIGIBILITY_POLICY,
  DEFAULT_WEIGHTS,
  MAX_CONCURRENT_RANGE,
  MODEL_WEIGHTS,
  type EligibilityPolicy,
  type ScoreWeights,
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
  /**
   * Slots per pruning block (a power of two, default 64). A tuning knob; tests use tiny
   * blocks so that small populations exercise the pruning.
   */
  readonly blockSize?: number;
}

/** Default slots per pruning block. */
const DEFAULT_BLOCK_SIZE = 64;
/**
 * Rounding slack when comparing a block's upper bound with an actual score: the bound
 * sums the same terms in another order, so it may differ from the score by an ulp or so.
 */
const BOUND_SLACK = 1e-9;
/** Region ids from 31 up share the last bit of a block's region mask. */
const REGION_OVERFLOW_BIT = 31;

/** The query-independent part of a score under weights `w` (availability bounded by 1). */
function staticPart(w: ScoreWeights, oneMinusLoad: number, capacity: number, rep: number): number {
  return w.load * oneMinusLoad + w.capacity * capacity + w.reputation * rep;
}

function regionBit(regionId: number): number {
  return (1 << (regionId < REGION_OVERFLOW_BIT ? regionId : REGION_OVERFLOW_BIT)) >>> 0;
}

function grow<T extends Float64Array | Int32Array | Uint8Array | Uint16Array | Uint32Array>(
  a: T,
  size: number,
): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

// One gather per element type: a single generic one would be megamorphic and slow.
function gatherF64(a: Float64Array, perm: Int32Array): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length);
  for (let j = 0; j < perm.length; j++) b[j] = a[perm[j]!]!;
  return b;
}
function gatherI32(a: Int32Array, perm: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length);
  for (let j = 0; j < perm.length; j++) b[j] = a[perm[j]!]!;
  return b;
}
function gatherU32(a: Uint32Array, perm: Int32Array): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(a.length);
  for (let j = 0; j < perm.length; j++) b[j] = a[perm[j]!]!;
  return b;
}
function gatherU16(a: Uint16Array, perm: Int32Array): Uint16Array<ArrayBuffer> {
  const b = new Uint16Array(a.length);
  for (let j = 0; j < perm.length; j++) b[j] = a[perm[j]!]!;
  return b;
}
function gatherU8(a: Uint8Array, perm: Int32Array): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(a.length);
  for (let j = 0; j < perm.length; j++) b[j] = a[perm[j]!]!;
  return b;
}
function gather<T>(a: readonly T[], perm: Int32Array): T[] {
  const b: T[] = [];
  for (let j = 0; j < perm.length; j++) b.push(a[perm[j]!]!);
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
  /**
   * Node id → a stable handle, and handle → slot: a rebuild reorders slots by
   * rewriting `slotOfHandle` (a typed array) instead of every entry of a Map.
   */
  private readonly handleOf = new Map<string, number>();
  private slotOfHandle = new Int32Array(16);
  private handleAt = new Int32Array(16);
  private readonly freeHandles: number[] = [];
  private nextHandle = 0;
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
  /** Model ids ≥ 32 the node lists (the rest are in `modelMask`), or null. */
  models: (Int32Array | null)[] = [];
  modalities: (readonly string[] | null)[] = [];
  /** How many records have each clamped max_concurrent: the largest is found from the top. */
  private readonly mcHistogram = new Uint32Array(MAX_CONCURRENT_RANGE.max + 1);
  private cheapest = Infinity;
  private cheapestStale = false;
  readonly modelIds = new Map<string, number>();

  /*
   * Pruning (see DiscoverIndex.query). Slots are grouped in blocks of 2^shift; a
   * rebuild sorts the slots by their query-independent score so that the best nodes
   * share the first blocks, and records per block an upper bound of every score term.
   * Between rebuilds a write only raises its block's bounds, so they stay valid (just
   * looser) until the next rebuild re-tightens them.
   */
  /** Max over the block of {@link staticPart} under the default / model weights. */
  blockStaticD = new Float64Array(0);
  blockStaticM = new Float64Array(0);
  /** OR of the block's {@link regionBit}s and of its model masks. */
  blockRegions = new Uint32Array(0);
  blockModels = new Uint32Array(0);
  /** Whether some slot of the block lists a model id ≥ 32 (not in the masks). */
  blockRareModels = new Uint8Array(0);
  /** Min over the block of the effective multiplier (bounds `price_score` from above). */
  blockMinMult = new Float64Array(0);
  /** The largest max_concurrent when the bounds were built (capacity = mc / this). */
  boundLargest = 1;
  /** Bound-widening writes since the last rebuild; -1 before the first rebuild. */
  dirty = -1;

  constructor(
    readonly refused: boolean,
    readonly shift: number,
  ) {
    this.growBlocks();
  }

  /**
   * Whether queries should skip blocks, rebuilding the bounds first when the writes
   * that loosened them since the last rebuild reach an eighth of the shard.
   */
  prunable(): boolean {
    const n = this.count;
    // The rebuild packs slot numbers in 21 bits.
    if (n < 4 << this.shift || n > 0x200000) return false;
    if (this.dirty < 0 || this.dirty > Math.max(1 << this.shift, n >> 3)) this.rebuild();
    return true;
  }

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
    this.handleAt = grow(this.handleAt, this.cap);
    this.slotOfHandle = grow(this.slotOfHandle, this.cap);
    this.growBlocks();
  }

  private growBlocks(): void {
    const nb = (this.cap + (1 << this.shift) - 1) >> this.shift;
    const old = this.blockStaticD.length;
    if (nb <= old) return;
    this.blockStaticD = grow(this.blockStaticD, nb).fill(-Infinity, old);
    this.blockStaticM = grow(this.blockStaticM, nb).fill(-Infinity, old);
    this.blockRegions = grow(this.blockRegions, nb);
    this.blockModels = grow(this.blockModels, nb);
    this.blockRareModels = grow(this.blockRareModels, nb);
    this.blockMinMult = grow(this.blockMinMult, nb).fill(Infinity, old);
  }

  /**
   * Widen slot i's block bounds to cover slot i's current values. Only a write that
   * actually widens a bound makes later queries skip less, so only those count
   * towards the next rebuild.
   */
  private raise(i: number): void {
    if (this.dirty >= 0 && this.widen(i)) this.dirty++;
  }

  private widen(i: number): boolean {
    const b = i >> this.shift;
    const oml = this.oneMinusLoad[i]!;
    const cap = this.mc[i]! / this.boundLargest;
    const r = this.rep[i]!;
    const d = staticPart(DEFAULT_WEIGHTS, oml, cap, r);
    const m = staticPart(MODEL_WEIGHTS, oml, cap, r);
    let wider = false;
    if (d > this.blockStaticD[b]!) {
      this.blockStaticD[b] = d;
      wider = true;
    }
    if (m > this.blockStaticM[b]!) {
      this.blockStaticM[b] = m;
      wider = true;
    }
    const regions = (this.blockRegions[b]! | regionBit(this.region[i]!)) >>> 0;
    const models = (this.blockModels[b]! | this.modelMask[i]!) >>> 0;
    if (regions !== this.blockRegions[b] || models !== this.blockModels[b]) {
      this.blockRegions[b] = regions;
      this.blockModels[b] = models;
      wider = true;
    }
    if (this.models[i] !== null && this.blockRareModels[b] === 0) {
      this.blockRareModels[b] = 1;
      wider = true;
    }
    if (this.mult[i]! < this.blockMinMult[b]!) {
      this.blockMinMult[b] = this.mult[i]!;
      wider = true;
    }
    return wider;
  }

  /**
   * Sort the slots best first by their default-weight static score (unavailable nodes
   * last) and recompute every block's bounds. The order only affects how much a query
   * can skip, never its result.
   */
  rebuild(): void {
    const n = this.count;
    const largest = this.largestMaxConcurrent();
    // Sort (key, slot) pairs packed in one float: a 20-bit descending key above a
    // 21-bit slot number, so a plain numeric sort orders them without a comparator.
    const KEY_STEPS = 0xfffff;
    const packed = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const key =
        (this.flags[i]! & AVAILABLE) === 0
          ? 0
          : staticPart(DEFAULT_WEIGHTS, this.oneMinusLoad[i]!, this.mc[i]! / largest, this.rep[i]!);
      const q = KEY_STEPS - Math.round(Math.min(1, Math.max(0, key)) * KEY_STEPS);
      packed[i] = q * 0x200000 + i;
    }
    packed.sort();
    const perm = new Int32Array(n);
    for (let j = 0; j < n; j++) perm[j] = packed[j]! % 0x200000;
    this.permute(perm);
    this.boundLargest = largest;
    this.blockStaticD.fill(-Infinity);
    this.blockStaticM.fill(-Infinity);
    this.blockRegions.fill(0);
    this.blockModels.fill(0);
    this.blockRareModels.fill(0);
    this.blockMinMult.fill(Infinity);
    for (let i = 0; i < n; i++) this.widen(i);
    this.dirty = 0;
  }

  /** Reorder every per-slot array so that new slot j holds old slot perm[j]. */
  private permute(perm: Int32Array): void {
    this.flags = gatherU8(this.flags, perm);
    this.lastSeen = gatherF64(this.lastSeen, perm);
    this.oneMinusLoad = gatherF64(this.oneMinusLoad, perm);
    this.rep = gatherF64(this.rep, perm);
    this.completed = gatherF64(this.completed, perm);
    this.mult = gatherF64(this.mult, perm);
    this.mc = gatherU16(this.mc, perm);
    this.region = gatherI32(this.region, perm);
    this.modelMask = gatherU32(this.modelMask, perm);
    this.handleAt = gatherI32(this.handleAt, perm);
    this.windows = gather(this.windows, perm);
    this.models = gather(this.models, perm);
    this.modalities = gather(this.modalities, perm);
    this.ids = gather(this.ids, perm);
    const n = perm.length;
    for (let j = 0; j < n; j++) this.slotOfHandle[this.handleAt[j]!] = j;
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
    const h = this.handleOf.get(node.nodeId);
    const existed = h !== undefined;
    let i: number;
    if (h === undefined) {
      this.ensure();
      i = this.count++;
      // Live handles never outnumber slots, so a new one fits the same capacity.
      const nh = this.freeHandles.pop() ?? this.nextHandle++;
      this.handleOf.set(node.nodeId, nh);
      this.slotOfHandle[nh] = i;
      this.handleAt[i] = nh;
      this.ids[i] = node.nodeId;
    } else {
      i = this.slotOfHandle[h]!;
      this.mcHistogram[this.mc[i]!]!--;
    }
    const mc = clampMaxConcurrent(node.maxConcurrent);
    this.mc[i] = mc;
    this.mcHistogram[mc]!++;
    this.region[i] = regionId;
    this.setMultiplier(i, effectiveMultiplier(node), existed);
    this.windows[i] = compileWindows(node.availability);
    let mask = 0;
    let rare: number[] | null = null;
    if (models)
      for (const m of models) {
        const id = this.modelId(m);
        if (id < 32) mask |= 1 << id;
        else (rare ??= []).push(id);
      }
    this.modelMask[i] = mask >>> 0;
    // Most nodes list only models the mask covers: no per-node array for them.
    this.models[i] = rare === null ? null : Int32Array.from(rare);
    this.modalities[i] = modalities && modalities.length > 0 ? modalities : null;
    this.flags[i] =
      (node.available ? AVAILABLE : 0) | (node.allowRemoteInference === true ? CIP : 0);
    this.lastSeen[i] = node.lastSeenMs;
    this.oneMinusLoad[i] = 1 - normalizedLoad(node);
    this.rep[i] = reputationOf(node);
    this.completed[i] = completedTasksOf(node);
    this.raise(i);
  }

  heartbeat(nodeId: string, hb: HeartbeatUpdate): void {
    const h = this.handleOf.get(nodeId);
    if (h === undefined) return;
    const i = this.slotOfHandle[h]!;
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
    this.raise(i);
  }

  remove(nodeId: string): void {
    const h = this.handleOf.get(nodeId);
    if (h === undefined) return;
    const i = this.slotOfHandle[h]!;
    this.handleOf.delete(nodeId);
    this.freeHandles.push(h);
    this.mcHistogram[this.mc[i]!]!--;
    if (this.mult[i]! <= this.cheapest) this.cheapestStale = true;
    const last = --this.count;
    if (i !== last) {
      this.ids[i] = this.ids[last]!;
      const moved = this.handleAt[last]!;
      this.handleAt[i] = moved;
      this.slotOfHandle[moved] = i;
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
      this.raise(i);
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
  private readonly blockShift: number;

  constructor(opts: DiscoverIndexOptions = {}) {
    this.policy = opts.policy ?? DEFAULT_ELIGIBILITY_POLICY;
    this.allowHighRisk = opts.allowHighRisk ?? false;
    const size = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
    if (!(Number.isInteger(size) && size >= 1 && (size & (size - 1)) === 0 && size <= 1 << 16))
      throw new RangeError('blockSize must be a power of two from 1 to 65536');
    this.blockShift = Math.log2(size);
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
          this.blockShift,
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

  /**
   * The top `limit` eligible nodes for a discover, best first (score desc, node_id asc).
   *
   * Large shards are scanned block by block: once `limit` candidates are held, a block
   * whose upper bound (the best static part in it, plus the region, model and price
   * terms it could earn, plus full availability) is below the worst held score cannot
   * contribute and is skipped. Bounds only skip what the full pass would have rejected,
   * so the result is the same.
   */
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

    const prune = shard.prunable();
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
    // Per-block bound pieces that depend on the query only.
    const blockStatic = model ? shard.blockStaticM : shard.blockStaticD;
    const staticScale = shard.boundLargest > largest ? shard.boundLargest / largest : 1;
    const wantRegionBit = wantRegion >= 0 ? regionBit(wantRegion) : 0;
    const topScore = new Float64Array(limit);
    const topSlot = new Int32Array(limit);
    let k = 0;
    const n = shard.count;
    const step = prune ? 1 << shard.shift : n;
    for (let start = 0; start < n; start += step) {
      const end = Math.min(n, start + step);
      if (prune) {
        const b = start >> shard.shift;
        const ub =
          w.availability +
          blockStatic[b]! * staticScale +
          ((shard.blockRegions[b]! & wantRegionBit) !== 0 ? w.region : 0) +
          (modelId < 0
            ? 0
            : modelBit !== 0
              ? (shard.blockModels[b]! & modelBit) !== 0
                ? w.model
                : 0
              : shard.blockRareModels[b]! !== 0
                ? w.model
                : 0) +
          (model ? w.price * priceScore(shard.blockMinMult[b]!, cheapest) : 0);
        const bar = k === limit ? Math.max(floor, topScore[k - 1]!) : floor;
        if (ub + BOUND_SLACK < bar) continue;
      }
      for (let i = start; i < end; i++) {
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
    }
    const out: RankedNode[] = new Array(k);
    for (let j = 0; j < k; j++) out[j] = { nodeId: ids[topSlot[j]!]!, score: topScore[j]! };
    return out;
  }
}
