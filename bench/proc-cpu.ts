import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (user + system) of a process and all its descendants, read from
 * /proc/<pid>/stat (proc(5): fields 14 utime and 15 stime, in clock ticks; a
 * process's line already sums all its threads). Linux only; null elsewhere.
 *
 * Clock ticks are USER_HZ, which Linux fixes at 100 in its user-space ABI.
 */
const MICROSECONDS_PER_TICK = 1_000_000 / 100;

interface ProcStat {
  readonly name: string;
  readonly ppid: number;
  readonly ticks: number;
}

/** A `stat` line of a process or thread, or null if it cannot be read. */
function readStat(path: string): ProcStat | null {
  let line: string;
  try {
    line = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may contain spaces.
  const name = line.slice(line.indexOf('(') + 1, line.lastIndexOf(')'));
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ppid) && Number.isFinite(ticks) ? { name, ppid, ticks } : null;
}

function allStats(): Map<number, ProcStat> {
  const stats = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(`/proc/${pid}/stat`);
    if (stat !== null) stats.set(pid, stat);
  }
  return stats;
}

/** Microseconds of CPU used so far by `rootPid` and its descendants, or null if unreadable. */
export function processTreeCpuUs(rootPid: number): number | null {
  let stats: Map<number, ProcStat>;
  try {
    stats = allStats();
  } catch {
    return null;
  }
  if (!stats.has(rootPid)) return null;
  const inTree = new Set([rootPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, stat] of stats) {
      if (!inTree.has(pid) && inTree.has(stat.ppid)) {
        inTree.add(pid);
        grew = true;
      }
    }
  }
  let ticks = 0;
  for (const pid of inTree) ticks += stats.get(pid)?.ticks ?? 0;
  return ticks * MICROSECONDS_PER_TICK;
}

/**
 * What a thread of a Node process does, from its id and name (`comm`, as Node and
 * libuv name them): the main thread (its id is the process id) runs the event
 * loop; `WorkerThread` is a `worker_threads` worker (Relay's only one is the audit
 * writer); `V8Worker` and `DelayedTaskSche(duler)` run V8's garbage collection
 * and compilation; the rest (`libuv-worker`, `SignalInspector`, …) is other.
 */
export type ThreadRole = 'main' | 'workers' | 'v8' | 'other';
export const THREAD_ROLES: readonly ThreadRole[] = ['main', 'workers', 'v8', 'other'];

export function threadRole(pid: number, tid: number, name: string): ThreadRole {
  if (tid === pid) return 'main';
  if (name === 'WorkerThread') return 'workers';
  if (name === 'V8Worker' || name.startsWith('DelayedTaskSch')) return 'v8';
  return 'other';
}

/**
 * Microseconds of CPU used so far by each kind of thread of process `pid`, from
 * /proc/<pid>/task/<tid>/stat, or null if unreadable. A thread that has exited
 * is no longer listed, so its time drops out of these sums (not of the process's).
 */
export function threadCpuUs(pid: number): Record<ThreadRole, number> | null {
  const sums: Record<ThreadRole, number> = { main: 0, workers: 0, v8: 0, other: 0 };
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  for (const entry of tids) {
    const stat = readStat(`/proc/${pid}/task/${entry}/stat`); // null: exited meanwhile
    if (stat !== null) sums[threadRole(pid, Number(entry), stat.name)] += stat.ticks * MICROSECONDS_PER_TICK;
  }
  return sums;
}

/**
 * Microseconds of CPU the whole machine has been busy, all cores summed, from
 * the `cpu` line of /proc/stat (proc(5)): everything but idle and iowait.
 */
export function machineBusyCpuUs(): number | null {
  let line: string;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  } catch {
    return null;
  }
  const [label, ...values] = line.trim().split(/\s+/);
  if (label !== 'cpu') return null;
  const [user, nice, system, , , irq, softirq, steal] = values.map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce<number>(
    (sum, value) => sum + (value ?? 0),
    0,
  );
  return Number.isFinite(busy) ? busy * MICROSECONDS_PER_TICK : null;
}
