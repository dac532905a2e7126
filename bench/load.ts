/**
 * The load generator, a child process of its own so that its CPU is never
 * counted as the proxy's. Runs one phase per `run` command and reports the
 * window edges (for the orchestrator's CPU readings) and the result.
 */
import { runClosedLoop } from './load-closed.ts';
import { runOpenLoop } from './load-open.ts';
import type { LoadCommand, LoadEvent } from './protocol.ts';

function emit(event: LoadEvent): void {
  process.send?.(event);
}

const onWindow = (edge: 'start' | 'end'): void => emit({ type: 'window', edge });

process.on('message', (raw) => {
  const command = raw as LoadCommand;
  if (command.type === 'exit') {
    process.exit(0);
  }
  const run = command.spec.mode === 'closed' ? runClosedLoop : runOpenLoop;
  run(command.spec, onWindow).then(
    (result) => emit({ type: 'result', result }),
    (error: unknown) =>
      emit({ type: 'failed', message: error instanceof Error ? error.message : String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
emit({ type: 'ready' });
