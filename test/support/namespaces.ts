/**
 * Runs a command in fresh Linux namespaces, for proofs that do not rest on our own monkey-patching:
 *
 * - `network`: a network namespace whose only interface is loopback. Nothing the command or its children do (native
 *   code included: onnxruntime, sharp, a spawned program) can reach another machine, and the kernel's per-namespace
 *   counters (/proc/net/snmp, snmp6) record every attempt: a TCP connect (ActiveOpens), a datagram (OutDatagrams, a
 *   DNS query included), any packet out (OutRequests) and any send with no route (OutNoRoutes). They are read after
 *   the command ends.
 * - `readOnly`: folders bind-mounted read-only in a mount namespace. Writes fail with EROFS even for root, which
 *   ignores permission bits (so `chmod -R a-w` would prove nothing in CI containers that run as root).
 *
 * Both come from `unshare` (util-linux) in a user namespace, so no privileges are needed where the kernel allows
 * unprivileged user namespaces; Ubuntu 23.10+ restricts them through AppArmor (the CI workflow lifts that).
 */
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';

export interface IsolatedRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The network namespace's counters after the command (`Ip.OutRequests`, `Tcp.ActiveOpens`, `Ip6OutNoRoutes`…). */
  readonly counters: Readonly<Record<string, number>>;
}

export interface Isolation {
  readonly network?: boolean;
  readonly readOnly?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

/** The counters that move when anything tries to send: the proof reads these. */
export const ATTEMPT_COUNTERS = [
  'Ip.OutRequests',
  'Ip.OutNoRoutes',
  'Tcp.ActiveOpens',
  'Udp.OutDatagrams',
  'Ip6OutRequests',
  'Ip6OutNoRoutes',
  'Udp6OutDatagrams',
] as const;

/** /proc/net/snmp is pairs of lines ("Ip: Forwarding …" then "Ip: 2 …"); snmp6 is one "Name value" per line. */
export function parseCounters(snmp: string, snmp6: string): Record<string, number> {
  const counters: Record<string, number> = {};
  const lines = snmp.trim().split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [protocol, ...names] = lines[i]!.trim().split(/\s+/);
    const values = lines[i + 1]!.trim().split(/\s+/).slice(1);
    names.forEach((name, j) => (counters[`${protocol!.replace(/:$/, '')}.${name}`] = Number(values[j])));
  }
  for (const line of snmp6.trim().split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name) counters[name] = Number(value);
  }
  return counters;
}

/** Only the counters that moved, so a failure shows what was attempted. */
export function attempts(counters: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(ATTEMPT_COUNTERS.filter((name) => (counters[name] ?? 0) !== 0).map((name) => [name, counters[name]!]));
}

// The shell inside the namespaces: bring loopback up (an interface that is down refuses even 127.0.0.1 without
// counting it), make the folders read-only, run the command, then save the counters of this namespace.
const script = `
set -e
if [ -n "$SCREENASK_NETNS_COUNTERS" ]; then ip link set lo up; fi
for dir in $SCREENASK_READ_ONLY; do mount --bind "$dir" "$dir"; mount -o remount,bind,ro "$dir"; done
status=0
"$@" || status=$?
if [ -n "$SCREENASK_NETNS_COUNTERS" ]; then cat /proc/net/snmp > "$SCREENASK_NETNS_COUNTERS.snmp"; cat /proc/net/snmp6 > "$SCREENASK_NETNS_COUNTERS.snmp6"; fi
exit $status
`;

export async function runIsolated(argv: readonly string[], isolation: Isolation): Promise<IsolatedRun> {
  if (process.platform !== 'linux') throw new Error('Linux namespaces exist only on Linux.');
  if (isolation.readOnly?.some((dir) => /\s/.test(dir))) throw new Error('read-only folders must not contain spaces');
  const counters = isolation.network ? path.join(os.tmpdir(), `screenask-netns-${randomUUID()}`) : '';
  const flags = ['--user', '--map-root-user', '--mount', ...(isolation.network ? ['--net'] : [])];
  const result = await new Promise<Omit<IsolatedRun, 'counters'>>((resolve) => {
    execFile(
      'unshare',
      [...flags, 'sh', '-c', script, 'sh', ...argv],
      {
        cwd: isolation.cwd,
        timeout: isolation.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...(isolation.env ?? process.env), SCREENASK_NETNS_COUNTERS: counters, SCREENASK_READ_ONLY: (isolation.readOnly ?? []).join(' ') },
      },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
  if (/unshare: /.test(result.stderr) && result.code !== 0) {
    throw new Error(
      `Cannot create Linux namespaces here (${result.stderr.trim().split('\n')[0]}): allow unprivileged user namespaces ` +
        '(Ubuntu 23.10+: sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0) or run the tests as root.',
    );
  }
  if (!isolation.network) return { ...result, counters: {} };
  try {
    const [snmp, snmp6] = await Promise.all([readFile(`${counters}.snmp`, 'utf8'), readFile(`${counters}.snmp6`, 'utf8')]);
    return { ...result, counters: parseCounters(snmp, snmp6) };
  } finally {
    await Promise.all([rm(`${counters}.snmp`, { force: true }), rm(`${counters}.snmp6`, { force: true })]);
  }
}
