import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Starts a sibling bench module as a child process with an IPC channel; its output goes to ours. */
export function forkBenchChild(file: string, args: readonly string[] = []): ChildProcess {
  return fork(fileURLToPath(new URL(file, import.meta.url)), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** The next IPC message of the given type; rejects if the child exits or the time runs out first. */
export function nextMessage<E extends { readonly type: string }, K extends E['type']>(
  child: ChildProcess,
  type: K,
  timeoutMs: number,
): Promise<Extract<E, { readonly type: K }>> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (raw: unknown): void => {
      const message = raw as E;
      if (message.type !== type) return;
      cleanup();
      resolve(message as Extract<E, { readonly type: K }>);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      cleanup();
      reject(new Error(`child ${child.pid} exited (${signal ?? code}) while waiting for "${type}"`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no "${type}" from child ${child.pid} within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Every child `killOnExit` was given and that is still running. */
const running = new Set<ChildProcess>();
let reaperInstalled = false;

/**
 * Makes sure `child` does not outlive the bench, whatever happens: it is SIGKILLed
 * when this process exits, and an interrupt (SIGINT, SIGTERM) makes this process exit.
 */
export function killOnExit(child: ChildProcess): ChildProcess {
  if (!reaperInstalled) {
    reaperInstalled = true;
    process.on('exit', () => {
      for (const c of running) if (!hasExited(c)) c.kill('SIGKILL');
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  }
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. Returns true if it had to be killed. */
export function stopChild(child: ChildProcess, graceMs = 5_000): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(true);
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
    child.kill('SIGTERM');
  });
}
