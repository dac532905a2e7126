/**
 * Child process of temp-files.test.ts, started with SQLITE_TMPDIR set (SQLite reads it
 * once per process). Writes the audit records in the JSON file named in argv, either
 * through a real audit writer thread (`writer`) or through a store opened the general
 * way (`general`), so the test can watch which of them makes temporary files.
 */
import { readFileSync } from 'node:fs';
import { openStore } from '../../src/adapters/db/open-store.ts';
import { LocalKeyProvider } from '../../src/adapters/local-key/local-key-provider.ts';
import type { AuditRecord } from '../../src/core/audit.ts';
import { AuditSealer } from '../../src/core/audit-seal.ts';
import { systemClock } from '../../src/core/clock.ts';
import { Vault } from '../../src/core/vault.ts';
import { createLogger } from '../../src/logger.ts';
import { writeAuditBatch } from '../../src/services/audit-batch.ts';
import { WorkerAuditWriter } from '../../src/services/worker-audit-writer.ts';

const [mode, databaseUrl, dataDir, masterKey, file] = process.argv.slice(2) as [
  'writer' | 'general',
  string,
  string,
  string,
  string,
];
const batch = JSON.parse(readFileSync(file, 'utf8')) as AuditRecord[];
if (mode === 'writer') {
  const writer = new WorkerAuditWriter(
    { databaseUrl, dataDir, masterKey, masterKeyFile: '', intervalMs: 5, batchSize: batch.length, nice: 0 },
    createLogger('silent'),
  );
  for (const r of batch) writer.record(r);
  await writer.flush();
  await writer.close();
} else {
  const store = openStore(databaseUrl, dataDir);
  const keys = LocalKeyProvider.fromConfig({ masterKey, masterKeyFile: '' });
  store.useAuditSealer(new AuditSealer(new Vault(keys), systemClock));
  await writeAuditBatch(store, batch);
  await store.close();
}
