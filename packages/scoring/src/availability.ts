import { OUTSIDE_WINDOW_AVAILABILITY } from './constants.ts';
import type { AvailabilityWindowInput } from './types.ts';

const MINUTES_PER_DAY = 1440;
const MS_PER_DAY = 86_400_000;
const HH_MM = /^([01][0-9]|2[0-3]):([0-5][0-9])$/;

/**
 * A window in minutes since UTC midnight. `start === end` is the whole day;
 * `start > end` crosses midnight. Start is inclusive, end exclusive.
 */
export interface CompiledWindow {
  readonly start: number;
  readonly end: number;
  readonly share: number;
}

/** Minutes since midnight for a UTC `HH:MM` string, or `undefined` if malformed. */
export function parseHhMm(s: string): number | undefined {
  const m = HH_MM.exec(s);
  if (!m) return undefined;
  return Number(m[1]) * 60 + Number(m[2]);
}

function clampUnit(x: number): number {
  // NaN compares false both ways, so it falls through to 0.
  return x >= 1 ? 1 : x > 0 ? x : 0;
}

/**
 * Pre-parses windows once per REGISTER so the hot path never touches strings.
 * Malformed windows are dropped (REGISTER validation rejects them before this point).
 */
export function compileWindows(
  windows: readonly AvailabilityWindowInput[] | null | undefined,
): readonly CompiledWindow[] | null {
  if (!windows || windows.length === 0) return null;
  const out: CompiledWindow[] = [];
  for (const w of windows) {
    const start = parseHhMm(w.start);
    const end = parseHhMm(w.end);
    if (start === undefined || end === undefined) continue;
    out.push({ start, end, share: clampUnit(w.share) });
  }
  return out.length === 0 ? null : out;
}

/** Minute of the UTC day for an epoch-millisecond instant. */
export function minuteOfDay(nowMs: number): number {
  const msInDay = ((nowMs % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY;
  return Math.floor(msInDay / 60_000);
}

function contains(w: CompiledWindow, minute: number): boolean {
  if (w.start === w.end) return true;
  if (w.start < w.end) return minute >= w.start && minute < w.end;
  return minute >= w.start || minute < w.end;
}

/**
 * `availability_factor` (iicp-semantics.md §4). No windows declared → 1.0; inside one
 * or more windows → the largest `share` among them; outside every window → 0.5.
 * (Project decision: `share` is the fraction of the node offered inside the window,
 * so it is the factor there; the spec fixes only the 0.5 outside.)
 */
export function availabilityFactorCompiled(
  windows: readonly CompiledWindow[] | null,
  minute: number,
): number {
  if (windows === null) return 1;
  let best = -1;
  for (let i = 0; i < windows.length; i++) {
    const w = windows[i]!;
    if (w.share > best && contains(w, minute)) best = w.share;
  }
  return best < 0 ? OUTSIDE_WINDOW_AVAILABILITY : best;
}

/** Convenience form of {@link availabilityFactorCompiled} for raw REGISTER windows. */
export function availabilityFactor(
  windows: readonly AvailabilityWindowInput[] | null | undefined,
  nowMs: number,
): number {
  return availabilityFactorCompiled(compileWindows(windows), minuteOfDay(nowMs));
}

export { MINUTES_PER_DAY };
