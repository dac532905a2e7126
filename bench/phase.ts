import type { ChildProcess } from 'node:child_process';
import {
  machineBusyCpuUs,
  processTreeCpuUs,
  THREAD_ROLES,
  type ThreadRole,
  threadCpuUs,
} from './proc-cpu.ts';
import type { LoadEvent, LoadResult, LoadSpec } from './protocol.ts';

/** CPU used by one process tree during a measured window. */
export interface CpuWindow {
  readonly cpuUs: number;
  readonly wallMs: number;
  /** The watched process's own threads by role (its descendants are not in it); null if unreadable. */
  readonly threads: Readonly<Record<ThreadRole, number>> | null;
}

export interface PhaseResult {
  readonly load: LoadResult;
  /** Keyed like the `watched` argument; null where /proc could not be read. */
  readonly cpu: Readonly<Record<string, CpuWindow | null>>;
  /**
   * Cores used during the window by processes outside the bench (other users of
   * the machine). Anything but ~0 makes the figures of this phase unreliable.
   */
  readonly otherCpuCores: number | null;
}

/** Pseudo-names of the readings that are not a watched process. */
const BENCH = '(bench)';
const MACHINE = '(machine)';

/** Time allowed beyond warmup + measure before a phase is declared stuck. */
const PHASE_SLACK_MS = 20_000;

interface Reading {
  readonly cpuUs: number | null;
  readonly threads: Record<ThreadRole, number> | null;
  readonly at: number;
}

function readAll(watched: Readonly<Record<string, number>>): Record<string, Reading> {
  const at = performance.now();
  const readings: Record<string, Reading> = {};
  for (const [name, pid] of Object.entries(watched))
    readings[name] = { cpuUs: processTreeCpuUs(pid), threads: threadCpuUs(pid), at };
  readings[BENCH] = { cpuUs: processTreeCpuUs(process.pid), threads: null, at };
  readings[MACHINE] = { cpuUs: machineBusyCpuUs(), threads: null, at };
  return readings;
}

/** Per-role CPU between two readings; a role never goes below 0 (a thread that exited drops out). */
export function threadDifference(
  start: Readonly<Record<ThreadRole, number>> | null,
  end: Readonly<Record<ThreadRole, number>> | null,
): Record<ThreadRole, number> | null {
  if (start === null || end === null) return null;
  const used = { main: 0, workers: 0, v8: 0, other: 0 };
  for (const role of THREAD_ROLES) used[role] = Math.max(0, end[role] - start[role]);
  return used;
}

function difference(
  before: Record<string, Reading>,
  after: Record<string, Reading>,
): Record<string, CpuWindow | null> {
  const windows: Record<string, CpuWindow | null> = {};
  for (const [name, end] of Object.entries(after)) {
    const start = before[name];
    windows[name] =
      start?.cpuUs != null && end.cpuUs !== null
        ? {
            cpuUs: end.cpuUs - start.cpuUs,
            wallMs: end.at - start.at,
            threads: threadDifference(start.threads, end.threads),
          }
        : null;
  }
  return windows;
}

/**
 * Runs one load phase on the generator and reads the CPU of every watched
 * process tree (`name -> pid`) at the edges of the measured window.
 */
export function runPhase(
  generator: ChildProcess,
  spec: LoadSpec,
  watched: Readonly<Record<string, number>>,
): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    let before: Record<string, Reading> = {};
    let cpu: Record<string, CpuWindow | null> = {};
    let otherCpuCores: number | null = null;
    const cleanup = (): void => {
      clearTimeout(timer);
      generator.off('message', onMessage);
      generator.off('exit', onExit);
    };
    const onMessage = (raw: unknown): void => {
      const event = raw as LoadEvent;
      if (event.type === 'window' && event.edge === 'start') before = readAll(watched);
      else if (event.type === 'window') {
        const { [BENCH]: bench, [MACHINE]: machine, ...processes } = difference(before, readAll(watched));
        cpu = processes;
        otherCpuCores =
          bench && machine ? Math.max(0, machine.cpuUs - bench.cpuUs) / 1000 / machine.wallMs : null;
      } else if (event.type === 'result') {
        cleanup();
        resolve({ load: event.result, cpu, otherCpuCores });
      } else if (event.type === 'failed') {
        cleanup();
        reject(new Error(`load generator failed: ${event.message}`));
      }
    };
    const onExit = (): void => {
      cleanup();
      reject(new Error('load generator exited during a phase'));
    };
    const timer = setTimeout(
      () => {
        cleanup();
        reject(
          new Error(`phase did not finish within ${spec.warmupMs + spec.measureMs + PHASE_SLACK_MS} ms`),
        );
      },
      spec.warmupMs + spec.measureMs + PHASE_SLACK_MS,
    );
    generator.on('message', onMessage);
    generator.on('exit', onExit);
    generator.send({ type: 'run', spec });
  });
}
