import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * Physical cores: ORT's intra-op threads gain nothing from hyper-threads on memory-bound decode, and oversubscribing
 * the SMT siblings slows it down. Linux reports cores precisely; elsewhere assume two threads per core when even.
 */
export function physicalCores(): number {
  const logical = os.availableParallelism();
  if (process.platform === 'linux') {
    try {
      const cores = new Set<string>();
      let physical = '0';
      for (const line of readFileSync('/proc/cpuinfo', 'utf8').split('\n')) {
        const [key, value] = line.split(':').map((s) => s.trim());
        if (key === 'physical id') physical = value ?? '0';
        if (key === 'core id') cores.add(`${physical}:${value}`);
      }
      if (cores.size > 0) return Math.min(cores.size, logical);
    } catch {
      // fall through to the estimate
    }
  }
  return logical > 2 && logical % 2 === 0 ? logical / 2 : logical;
}
