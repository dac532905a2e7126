/**
 * Child process of worker-priority.test.ts: starts an audit writer at nice 7 on the
 * database named in argv, writes the records given (JSON), then prints each thread's name and nice
 * value as JSON. Run in its own process so that nothing has started libuv's thread
 * pool before the writer thread does.
 */
import type { AuditRecord } from '../../src/core/audit.ts';
import { createLogger } from '../../src/logger.ts';
import { WorkerAuditWriter } from '../../src/services/worker-audit-writer.ts';
import { threads } from './threads.ts';

const [databaseUrl, dataDir, masterKey, batch] = process.argv.slice(2) as [string, string, string, string];
const writer = new WorkerAuditWriter(
  { databaseUrl, dataDir, masterKey, masterKeyFile: '', intervalMs: 5, batchSize: 10, nice: 7 },
  createLogger('silent'),
);
for (const r of JSON.parse(batch) as AuditRecord[]) writer.record(r);
await writer.flush();
const seen = threads();
await writer.close();
process.stdout.write(JSON.stringify(seen));
