/**
 * How much of the machine other work took while a run was timed. The load average lags by a minute and counts our
 * own threads; /proc/stat over the run's own interval, minus the CPU time our process used, does not. On a 2-core
 * machine shared with other engineers' test runs this is what says whether a slow figure is the engine's fault.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface CpuSnapshot {
  readonly at: number;
  /** CPU time of this process (all threads), microseconds. */
  readonly ownMicros: number;
  /** Machine-wide jiffies from /proc/stat's `cpu` line; undefined off Linux. */
  readonly busyTicks?: number;
  readonly stealTicks?: number;
  readonly totalTicks?: number;
}

export interface Noise {
  /** Share of the machine's CPU time (all cores) spent outside this process during the run: 0 … 1. */
  readonly otherCpuFraction: number;
  /** Share of CPU time the hypervisor gave to other guests (steal): 0 … 1. */
  readonly stealFraction: number;
}

// USER_HZ is 100 on every mainstream Linux build.
const MICROS_PER_TICK = 10_000;

export function cpuSnapshot(): CpuSnapshot {
  const usage = process.cpuUsage();
  const base = { at: performance.now(), ownMicros: usage.user + usage.system };
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    // cpu user nice system idle iowait irq softirq steal [guest guest_nice, already counted in user/nice]
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if ([user, nice, system, idle, iowait, irq, softirq, steal].some((v) => v === undefined || !Number.isFinite(v))) return base;
    const busy = user! + nice! + system! + irq! + softirq!;
    return { ...base, busyTicks: busy, stealTicks: steal!, totalTicks: busy + idle! + iowait! + steal! };
  } catch {
    return base;
  }
}

export function noiseBetween(before: CpuSnapshot, after: CpuSnapshot): Noise | undefined {
  if (before.busyTicks === undefined || after.busyTicks === undefined) return undefined;
  const totalTicks = after.totalTicks! - before.totalTicks!;
  if (totalTicks <= 0) return undefined;
  const ownTicks = (after.ownMicros - before.ownMicros) / MICROS_PER_TICK;
  const otherTicks = Math.max(0, after.busyTicks - before.busyTicks - ownTicks);
  return {
    otherCpuFraction: Math.min(1, otherTicks / totalTicks),
    stealFraction: (after.stealTicks! - before.stealTicks!) / totalTicks,
  };
}

/** os.loadavg()[0], kept beside the /proc/stat figures because it is what `uptime` shows. */
export function loadAverage(): number {
  return os.loadavg()[0] ?? 0;
}
