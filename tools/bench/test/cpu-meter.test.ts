import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  cpuSnapshot,
  medianOf,
  otherCpus,
  parsePidStat,
  parseProcStat,
  type CpuSnapshot,
} from '../src/harness.ts';

const procStat = [
  'cpu  1000 20 300 5000 10 0 40 7 0 0',
  'cpu0 500 10 150 2500 5 0 20 3 0 0',
  'cpu1 500 10 150 2500 5 0 20 4 0 0',
  'intr 12345',
].join('\n');

describe('CPU use of other processes', () => {
  it('reads user + nice + system and steal from the aggregate line only', () => {
    expect(parseProcStat(procStat)).toEqual({ busy: 1320, steal: 7 });
    expect(() => parseProcStat('cpu0 1 2 3 4\n')).toThrow(/no cpu line/);
  });

  it('reads utime + stime after a command name holding spaces and parentheses', () => {
    const fields = ['S', ...Array.from({ length: 10 }, (_, i) => String(i + 1)), '250', '40'];
    const stat = `4242 (node (tsx) a b) ${fields.join(' ')} 0 0 20 0 1 0`;
    expect(parsePidStat(stat)).toBe(290);
  });

  it('counts what the machine spent outside our processes, in CPUs', () => {
    const a: CpuSnapshot = { busy: 1000, steal: 5, ours: 300, atMs: 0 };
    // 2 s at 100 ticks/s: 250 busy ticks, 50 of them ours → 200 others = 1 CPU.
    const b: CpuSnapshot = { busy: 1250, steal: 15, ours: 350, atMs: 2000 };
    expect(otherCpus(a, b)).toEqual({ other: 1, steal: 0.05 });
    // Our own counters can run ahead of the machine's (separate reads): never negative.
    expect(otherCpus(a, { ...b, ours: 600 }).other).toBe(0);
  });

  it('takes the median of the finite values', () => {
    expect(medianOf([3, 1, 2])).toBe(2);
    expect(medianOf([4, Number.NaN, 1, 2, 3])).toBe(2.5);
    expect(medianOf([Number.NaN])).toBeNaN();
  });

  it.runIf(existsSync('/proc/stat'))('snapshots this machine and this process', () => {
    let x = 0;
    for (let i = 0; i < 2e6; i++) x += i % 7;
    const s = cpuSnapshot([process.pid, undefined, 2 ** 30]);
    expect(x).toBeGreaterThan(0);
    expect(s).toBeDefined();
    expect(s!.busy).toBeGreaterThan(0);
    expect(s!.ours).toBeGreaterThan(0);
    expect(s!.ours).toBeLessThanOrEqual(s!.busy);
  });
});
