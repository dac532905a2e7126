import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { onCleanup, tempDir } from '../harness.ts';
import { openAuditStore, records } from './helpers.ts';

/**
 * A statement inside a transaction may keep a statement journal, which SQLite moves
 * to a temporary file past 64 KiB (a multi-row insert of audit rows did, when records
 * were rows). The audit writer's connection keeps temporary data in memory
 * (`temp_store = MEMORY`): a busy writer must not create, write and delete a file on
 * nearly every commit.
 */
async function filesMadeWriting(mode: 'writer' | 'general', count: number): Promise<string[]> {
  const a = await openAuditStore('sqlite');
  const batchFile = join(a.dataDir, 'batch.json');
  writeFileSync(batchFile, JSON.stringify(records(count, { workspaceId: 'ws_temp_files' })));
  const sqliteTmp = tempDir('relay-sqlite-tmp-');
  const made: string[] = [];
  const watcher = watch(sqliteTmp, (event, name) => made.push(`${event} ${name}`));
  onCleanup(() => watcher.close());
  const child = fileURLToPath(new URL('./temp-files-child.ts', import.meta.url));
  await promisify(execFile)(
    process.execPath,
    [child, mode, a.databaseUrl, a.dataDir, a.masterKey, batchFile],
    {
      env: { ...process.env, SQLITE_TMPDIR: sqliteTmp },
      timeout: 30_000,
    },
  );
  assert.equal(await a.store.audit.count('ws_temp_files'), count, 'every record was written');
  await new Promise((resolve) => setTimeout(resolve, 50)); // let the watcher deliver
  return made;
}

describe('audit writer temporary files (SQLite)', () => {
  it("the audit writer's connection makes none, even for a large batch", async () => {
    assert.deepEqual(await filesMadeWriting('writer', 1500), []);
  });
});
