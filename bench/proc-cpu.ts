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
  readonly ppid: number;
  readonly ticks: number;
}

function readStat(pid: number): ProcStat | null {
  let line: string;
  try {
    line = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may contain spaces.
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ppid) && Number.isFinite(ticks) ? { ppid, ticks } : null;
}

function allStats(): Map<number, ProcStat> {
  const stats = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
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
