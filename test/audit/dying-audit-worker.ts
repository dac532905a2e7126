import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * The audit worker, except that its first incarnation (per data dir) dies
 * abruptly when the third batch arrives: whatever it had written, committed
 * without acknowledging, or not yet touched is the writer's to send again.
 */
const marker = join((workerData as { dataDir: string }).dataDir, 'audit-worker-died');
if (!existsSync(marker)) {
  let batches = 0;
  // Registered before the real worker's listener, so the third batch never reaches it.
  parentPort?.on('message', (message: { type: string }) => {
    if (message.type === 'batch' && ++batches === 3) {
      writeFileSync(marker, '');
      process.exit(1);
    }
  });
}
await import('../../src/adapters/db/audit-worker.ts');
