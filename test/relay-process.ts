import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from './harness.ts';

/** `relay` as real processes, as an operator runs it (`node bin/relay.js …`). */
export const ROOT = join(import.meta.dirname, '..');
export const NODE = join(ROOT, 'node_modules', '.bin', 'node');
export const BIN = join(ROOT, 'bin', 'relay.js');

export interface Spawned {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  /** Resolves once the output matches `pattern`; rejects if the process exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Runs `relay <argv>` with only `env` (and PATH); killed after the file if still running. */
export function spawnRelay(argv: readonly string[], env: Record<string, string>, bin = BIN): Spawned {
  const child = spawn(NODE, [bin, ...argv], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters = new Set<() => void>();
  const append = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    for (const wake of waiters) wake();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exit = once(child, 'close').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  onCleanup(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exit;
    clearTimeout(timer);
  });
  return {
    child,
    exit,
    output: () => out,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const done = (error?: Error) => {
          waiters.delete(check);
          clearTimeout(timer);
          if (error) reject(error);
          else resolve();
        };
        const check = () => {
          if (pattern.test(out)) done();
        };
        const timer = setTimeout(
          () => done(new Error(`no ${pattern} after ${timeoutMs} ms:\n${out}`)),
          timeoutMs,
        );
        void exit.then((e) => {
          if (waiters.has(check))
            done(new Error(`relay exited (${JSON.stringify(e)}) before ${pattern}:\n${out}`));
        });
        waiters.add(check);
        check();
      });
    },
  };
}

/** Runs a `relay` command to its end; resolves with its exit code and output. */
export async function runRelay(
  argv: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const run = spawnRelay(argv, env);
  const { code } = await run.exit;
  return { code, output: run.output() };
}

/** `<data dir>/ports.json`, once Relay has written it (its listeners are up then). */
export async function waitForPorts(dataDir: string, relay: Spawned): Promise<{ proxy: number; api: number }> {
  const file = join(dataDir, 'ports.json');
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (relay.child.exitCode !== null) throw new Error(`relay exited early:\n${relay.output()}`);
    if (existsSync(file)) {
      try {
        const ports = JSON.parse(readFileSync(file, 'utf8')) as { proxy?: number; api?: number };
        if (typeof ports.proxy === 'number' && typeof ports.api === 'number')
          return { proxy: ports.proxy, api: ports.api };
      } catch {
        // written but not complete yet: read again
      }
    }
    if (Date.now() > deadline) throw new Error(`no ports.json after 20 s:\n${relay.output()}`);
    await sleep(25);
  }
}

/** The p-th percentile (nearest rank) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}
