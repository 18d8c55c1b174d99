import { format } from 'node:util';
import type { Registry } from 'prom-client';

/**
 * Prometheus counters and histograms for hot paths, registered in a prom-client
 * `Registry` (so `/metrics` stays one document) and rendered by it exactly as
 * prom-client's own `Counter` and `Histogram` would be for the same calls: same
 * values, same label sets in the same order, same errors for bad input.
 *
 * What differs is the cost of an observation. prom-client validates the label names,
 * builds a hash string from the label object and looks it up on every `observe`/`inc`;
 * here `labels(...values)` returns a cached child per label-value tuple (a few `Map`
 * lookups, no string built) whose `observe`/`inc` only bumps numbers. The object forms
 * (`observe({..}, v)`, `inc({..}, v)`) keep prom-client's semantics and are still a
 * little cheaper. Exemplars, `startTimer` and the cluster aggregator's `collect`
 * hook are not supported.
 */

type LabelValue = string | number;
type Labels<T extends string> = Partial<Record<T, LabelValue>>;

interface CommonConfig<T extends string> {
  name: string;
  help: string;
  labelNames?: readonly T[];
  /** Default: none (unlike prom-client, there is no global registry to fall back on). */
  registers?: Registry[];
  /** How `AggregatorRegistry` merges workers; prom-client's default `sum`. */
  aggregator?: 'sum' | 'first' | 'min' | 'max' | 'average' | 'omit';
}

export interface FastHistogramConfig<T extends string> extends CommonConfig<T> {
  /** Upper bounds in seconds (or whatever unit the values have); prom-client's defaults. */
  buckets?: readonly number[];
}

export type FastCounterConfig<T extends string> = CommonConfig<T>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const PROM_DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** prom-client's checks and messages (metric.js, validation.js). */
function checkConfig(config: CommonConfig<string>): string[] {
  if (!config.help) throw new Error('Missing mandatory help parameter');
  if (!config.name) throw new Error('Missing mandatory name parameter');
  if (!METRIC_NAME.test(config.name)) throw new Error('Invalid metric name');
  const labelNames = [...(config.labelNames ?? [])];
  if (!labelNames.every((n) => LABEL_NAME.test(n))) throw new Error('Invalid label name');
  return labelNames;
}

function validateLabels(labelNames: readonly string[], labels: object): void {
  for (const label in labels) {
    if (!labelNames.includes(label)) {
      throw new Error(
        `Added label "${label}" is not included in initial labelset: ${format('%O', labelNames)}`,
      );
    }
  }
}

/** prom-client's label hash (util.js `hashObject` over the sorted label names). */
function hashLabels(sortedNames: readonly string[], labels: Record<string, unknown>): string {
  let hash = '';
  for (const key of sortedNames) {
    const value = labels[key];
    if (value === undefined) continue;
    hash += `${key}:${String(value)},`;
  }
  return hash;
}

/** prom-client's `getLabels`: an object as is, else positional values by label name. */
function labelsFromArgs(labelNames: readonly string[], args: unknown[]): Record<string, unknown> {
  if (typeof args[0] === 'object') return args[0] as Record<string, unknown>;
  if (labelNames.length !== args.length) {
    throw new Error(
      `Invalid number of arguments (${args.length}): "${args.join(', ')}" for label names (${labelNames.length}): "${labelNames.join(', ')}".`,
    );
  }
  const acc: Record<string, unknown> = {};
  for (let i = 0; i < labelNames.length; i++) acc[labelNames[i]!] = args[i];
  return acc;
}

/**
 * Children cached per tuple of label values: one nested `Map` level per label. Only
 * string values take the cache (a number and its string would be one label set to
 * prom-client but two keys here); other values go through the general path.
 */
class ChildCache<C> {
  private root = new Map<string, unknown>();

  find(values: readonly unknown[]): C | undefined {
    let level: Map<string, unknown> | undefined = this.root;
    const last = values.length - 1;
    for (let i = 0; i < last && level; i++) {
      level = level.get(values[i] as string) as Map<string, unknown> | undefined;
    }
    return level?.get(values[last] as string) as C | undefined;
  }

  put(values: readonly unknown[], child: C): C {
    let level = this.root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      const v = values[i] as string;
      let next = level.get(v) as Map<string, unknown> | undefined;
      if (!next) {
        next = new Map();
        level.set(v, next);
      }
      level = next;
    }
    level.set(values[last] as string, child);
    return child;
  }

  clear(): void {
    this.root = new Map();
  }
}

/**
 * The values of a label object in `labelNames` order, in `scratch`, when it names every
 * label with a string value and nothing else (the cacheable case); else `undefined`.
 */
function stringTuple(
  labelNames: readonly string[],
  labels: object,
  scratch: unknown[],
): unknown[] | undefined {
  let n = 0;
  for (const key in labels) {
    if (!labelNames.includes(key)) return undefined;
    n++;
  }
  if (n !== labelNames.length || n === 0) return undefined;
  for (let i = 0; i < n; i++) {
    const v = (labels as Record<string, unknown>)[labelNames[i]!];
    if (typeof v !== 'string') return undefined;
    scratch[i] = v;
  }
  return scratch;
}

function allStrings(values: readonly unknown[]): boolean {
  for (const v of values) if (typeof v !== 'string') return false;
  return values.length > 0;
}

interface HistogramEntry {
  labels: Record<string, unknown>;
  /** Per bucket slot (see `slotOf`), not cumulative. */
  counts: number[];
  sum: number;
  count: number;
}

export interface FastHistogramChild {
  observe(value: number): void;
}

/**
 * What both metric kinds hold: prom-client's public fields, the label bookkeeping, the
 * entries by label hash (`E`) and the cached children (`C`).
 */
abstract class FastMetric<T extends string, E, C> {
  readonly name: string;
  readonly help: string;
  readonly aggregator: string;
  readonly labelNames: readonly T[];
  protected readonly sortedLabelNames: readonly string[];
  protected readonly scratch: unknown[] = [];
  protected entries = new Map<string, E>();
  protected readonly cache = new ChildCache<C>();
  /** Bumped by `reset`/`remove`: children re-resolve their entry. */
  generation = 0;

  protected constructor(config: CommonConfig<T>, labelNames: readonly string[]) {
    this.name = config.name;
    this.help = config.help;
    this.aggregator = config.aggregator ?? 'sum';
    this.labelNames = labelNames as T[];
    this.sortedLabelNames = [...labelNames].sort();
  }

  reset(): void {
    this.entries = new Map();
    this.seed();
    this.cache.clear();
    this.generation++;
  }

  /** The entries a reset starts with (none unless the kind says otherwise). */
  protected seed(): void {}

  remove(...args: unknown[]): void {
    const labels = labelsFromArgs(this.labelNames, args);
    validateLabels(this.labelNames, labels);
    this.entries.delete(hashLabels(this.sortedLabelNames, labels));
    this.generation++;
  }
}

export class FastHistogram<T extends string = string> extends FastMetric<
  T,
  HistogramEntry,
  HistogramChildImpl
> {
  readonly type = 'histogram';
  readonly upperBounds: readonly number[];
  /** Bucket index → counter slot: equal bounds share one, as prom-client's object keys do. */
  private readonly slotOf: readonly number[];

  constructor(config: FastHistogramConfig<T>) {
    const labelNames = checkConfig(config);
    if (labelNames.includes('le')) throw new Error('le is a reserved label keyword');
    super(config, labelNames);
    this.upperBounds = Object.freeze([...(config.buckets ?? PROM_DEFAULT_BUCKETS)]);
    const firstByKey = new Map<string, number>();
    this.slotOf = this.upperBounds.map((b, i) => {
      const key = String(b);
      const first = firstByKey.get(key);
      if (first !== undefined) return first;
      firstByKey.set(key, i);
      return i;
    });
    if (labelNames.length === 0) this.entries.set('', this.newEntry({}));
    for (const r of config.registers ?? []) r.registerMetric(this as never);
  }

  private newEntry(labels: Record<string, unknown>): HistogramEntry {
    return { labels, counts: new Array<number>(this.upperBounds.length).fill(0), sum: 0, count: 0 };
  }

  /** The entry for a label object (created on first use, as prom-client does). */
  entryFor(labels: Record<string, unknown>): HistogramEntry {
    const hash = hashLabels(this.sortedLabelNames, labels);
    let e = this.entries.get(hash);
    if (!e) {
      e = this.newEntry(labels);
      this.entries.set(hash, e);
    }
    return e;
  }

  record(e: HistogramEntry, value: number): void {
    if (!Number.isFinite(value)) {
      throw new TypeError(`Value is not a valid number: ${format(value)}`);
    }
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        e.counts[this.slotOf[i]!]! += 1;
        break;
      }
    }
    e.sum += value;
    e.count += 1;
  }

  /** `observe(labels, value)` or `observe(value)`, as prom-client's. */
  observe(labels: Labels<T> | number, value?: number): void {
    // prom-client: `labels === 0 ? 0 : labels || {}`, then an object means labels.
    if (labels !== 0 && !labels) labels = {};
    if (typeof labels === 'object') {
      // Every label named with a string and nothing else: the cached child's series.
      const values = stringTuple(this.labelNames, labels, this.scratch);
      if (values !== undefined) {
        if (!Number.isFinite(value)) {
          throw new TypeError(`Value is not a valid number: ${format(value)}`);
        }
        this.child(values).observeWith(labels as Record<string, unknown>, value!);
        return;
      }
      validateLabels(this.labelNames, labels);
      if (!Number.isFinite(value)) {
        throw new TypeError(`Value is not a valid number: ${format(value)}`);
      }
      this.record(this.entryFor(labels as Record<string, unknown>), value!);
    } else {
      const v = labels as unknown as number;
      if (!Number.isFinite(v)) throw new TypeError(`Value is not a valid number: ${format(v)}`);
      this.record(this.entryFor({}), v);
    }
  }

  /** A child for these label values (positional, in `labelNames` order, or an object). */
  labels(...args: LabelValue[]): FastHistogramChild;
  labels(labels: Labels<T>): FastHistogramChild;
  labels(...args: unknown[]): FastHistogramChild {
    if (allStrings(args) && args.length === this.labelNames.length) return this.child(args);
    const labels = labelsFromArgs(this.labelNames, args);
    validateLabels(this.labelNames, labels);
    return new HistogramChildImpl(this, labels);
  }

  private child(values: readonly unknown[]): HistogramChildImpl {
    return (
      this.cache.find(values) ??
      this.cache.put(values, new HistogramChildImpl(this, this.labelsOf(values)))
    );
  }

  private labelsOf(values: readonly unknown[]): Record<string, unknown> {
    const acc: Record<string, unknown> = {};
    for (let i = 0; i < this.labelNames.length; i++) acc[this.labelNames[i]!] = values[i];
    return acc;
  }

  /** Zero-initialise a label set so it is exported before its first observation. */
  zero(labels: Labels<T>): void {
    const hash = hashLabels(this.sortedLabelNames, labels as Record<string, unknown>);
    this.entries.set(hash, this.newEntry(labels as Record<string, unknown>));
    this.generation++;
  }

  /** What prom-client's `Histogram#getForPromString` returns (the registry renders it). */
  getForPromString(): Promise<{
    name: string;
    help: string;
    type: string;
    values: ExportValue[];
    aggregator: string;
  }> {
    const bucketName = `${this.name}_bucket`;
    const values: ExportValue[] = [];
    for (const e of this.entries.values()) {
      let acc = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        acc += e.counts[this.slotOf[i]!]!;
        values.push({
          labels: { le: this.upperBounds[i]! },
          sharedLabels: e.labels,
          value: acc,
          metricName: bucketName,
          exemplar: null,
        });
      }
      values.push(
        {
          labels: { le: '+Inf' },
          sharedLabels: e.labels,
          value: e.count,
          metricName: bucketName,
          exemplar: null,
        },
        {
          labels: {},
          sharedLabels: e.labels,
          value: e.sum,
          metricName: `${this.name}_sum`,
          exemplar: undefined,
        },
        {
          labels: {},
          sharedLabels: e.labels,
          value: e.count,
          metricName: `${this.name}_count`,
          exemplar: undefined,
        },
      );
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    });
  }

  /** What prom-client's `Histogram#get` returns (JSON form, shared labels splayed in). */
  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    values: { labels: Record<string, unknown>; value: number; metricName: string }[];
    aggregator: string;
  }> {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...rest }) => {
        for (const k of Object.keys(sharedLabels)) labels[k] = sharedLabels[k];
        return { ...rest, labels };
      }),
    };
  }
}

interface ExportValue {
  labels: Record<string, unknown>;
  sharedLabels: Record<string, unknown>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

class HistogramChildImpl implements FastHistogramChild {
  private entry: HistogramEntry | undefined;
  private generation = -1;

  constructor(
    private readonly metric: FastHistogram<string>,
    private readonly labelSet: Record<string, unknown>,
  ) {}

  observe(value: number): void {
    this.observeWith(this.labelSet, value);
  }

  /** `labels` (same values) become the series' labels if this creates it, as in prom-client. */
  observeWith(labels: Record<string, unknown>, value: number): void {
    const m = this.metric;
    let e = this.entry;
    if (e === undefined || this.generation !== m.generation) {
      if (!Number.isFinite(value)) {
        throw new TypeError(`Value is not a valid number: ${format(value)}`);
      }
      e = this.entry = m.entryFor(labels);
      this.generation = m.generation;
    }
    m.record(e, value);
  }
}

interface CounterEntry {
  value: number;
  labels: Record<string, unknown>;
}

export interface FastCounterChild {
  inc(value?: number): void;
}

export class FastCounter<T extends string = string> extends FastMetric<
  T,
  CounterEntry,
  CounterChildImpl
> {
  readonly type = 'counter';

  constructor(config: FastCounterConfig<T>) {
    super(config, checkConfig(config));
    this.reset();
    for (const r of config.registers ?? []) r.registerMetric(this as never);
  }

  /** prom-client's checks, in its order; the amount to add. */
  private static amount(value: number | undefined | null): number {
    if (value && !Number.isFinite(value)) {
      throw new TypeError(`Value is not a valid number: ${format(value)}`);
    }
    if ((value as number) < 0) throw new Error('It is not possible to decrease a counter');
    return value === null || value === undefined ? 1 : value;
  }

  add(hash: string, labels: Record<string, unknown>, value: number): CounterEntry {
    let e = this.entries.get(hash);
    if (e) e.value += value;
    else {
      e = { value, labels };
      this.entries.set(hash, e);
    }
    return e;
  }

  hashOf(labels: Record<string, unknown>): string {
    return hashLabels(this.sortedLabelNames, labels);
  }

  /** `inc(labels, value = 1)` or `inc(value = 1)`, as prom-client's. */
  inc(labels?: Labels<T> | number | null, value?: number): void {
    if (labels !== null && typeof labels === 'object') {
      const values = stringTuple(this.labelNames, labels, this.scratch);
      if (values !== undefined) {
        this.child(values).incWith(labels as Record<string, unknown>, FastCounter.amount(value));
        return;
      }
      const hash = hashLabels(this.sortedLabelNames, labels as Record<string, unknown>);
      validateLabels(this.labelNames, labels);
      this.add(hash, labels as Record<string, unknown>, FastCounter.amount(value));
    } else {
      this.add('', {}, FastCounter.amount(labels as number | undefined));
    }
  }

  labels(...args: LabelValue[]): FastCounterChild;
  labels(labels: Labels<T>): FastCounterChild;
  labels(...args: unknown[]): FastCounterChild {
    if (allStrings(args) && args.length === this.labelNames.length) return this.child(args);
    const labels = labelsFromArgs(this.labelNames, args);
    return { inc: (value?: number) => this.inc(labels as Labels<T>, value) };
  }

  private child(values: readonly unknown[]): CounterChildImpl {
    const found = this.cache.find(values);
    if (found) return found;
    const labels: Record<string, unknown> = {};
    for (let i = 0; i < this.labelNames.length; i++) labels[this.labelNames[i]!] = values[i];
    return this.cache.put(values, new CounterChildImpl(this, labels));
  }

  /** prom-client re-creates an unlabelled counter's value at 0 on reset. */
  protected override seed(): void {
    if (this.labelNames.length === 0) this.entries.set('', { value: 0, labels: {} });
  }

  /** What prom-client's `Counter#get` returns (the registry renders it). */
  get(): Promise<{
    name: string;
    help: string;
    type: string;
    values: CounterEntry[];
    aggregator: string;
  }> {
    return Promise.resolve({
      help: this.help,
      name: this.name,
      type: this.type,
      values: [...this.entries.values()],
      aggregator: this.aggregator,
    });
  }
}

class CounterChildImpl implements FastCounterChild {
  private entry: CounterEntry | undefined;
  private generation = -1;
  private readonly hash: string;

  constructor(
    private readonly metric: FastCounter<string>,
    private readonly labelSet: Record<string, unknown>,
  ) {
    this.hash = metric.hashOf(labelSet);
  }

  inc(value?: number): void {
    let v: number;
    if (value === undefined) v = 1;
    else {
      if (value && !Number.isFinite(value)) {
        throw new TypeError(`Value is not a valid number: ${format(value)}`);
      }
      if (value < 0) throw new Error('It is not possible to decrease a counter');
      v = value === null ? 1 : value;
    }
    this.incWith(this.labelSet, v);
  }

  /** `labels` (same values) become the series' labels if this creates it, as in prom-client. */
  incWith(labels: Record<string, unknown>, v: number): void {
    const m = this.metric;
    const e = this.entry;
    if (e !== undefined && this.generation === m.generation) e.value += v;
    else {
      this.entry = m.add(this.hash, labels, v);
      this.generation = m.generation;
    }
  }
}
