/**
 * `--import`ed after the network sentinel into a process under test: SIGUSR2 makes the process try every probe of
 * network-probes.ts (targets from SCREENASK_PROBE_TARGETS, records to SCREENASK_NETWORK_LOG). Lets the privacy test
 * probe the real model process, at a moment it chooses, without a message the process would have to understand.
 */
import { runProbes, type ProbeTargets } from './network-probes.js';

const targets = JSON.parse(process.env.SCREENASK_PROBE_TARGETS ?? 'null') as ProbeTargets | null;
const log = process.env.SCREENASK_NETWORK_LOG;
if (!targets || !log) throw new Error('network-probe-on-signal needs SCREENASK_PROBE_TARGETS and SCREENASK_NETWORK_LOG');
process.on('SIGUSR2', () => void runProbes(targets, log));
