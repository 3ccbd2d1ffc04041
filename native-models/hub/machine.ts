// What the recommendation rule reads about this machine. Best effort: a GPU is detected only as an NVIDIA driver on
// Linux (a GPU in the Windows registry or a Mac's is not read), so callers let the user override it.
import { existsSync } from 'node:fs';
import os from 'node:os';
import type { MachineProfile } from './catalogue.js';

export function localMachine(): MachineProfile {
  return {
    hasGpu: process.platform === 'linux' && existsSync('/proc/driver/nvidia/version'),
    totalMemoryBytes: os.totalmem(),
  };
}
