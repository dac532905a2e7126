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
 * A multi-row insert inside a transaction keeps a statement journal, which SQLite
 * moves to a temporary file past 64 KiB. The audit writer's connection keeps it in
 * memory instead (`temp_store = MEMORY`): a busy writer would otherwise create,
 * write and delete a file on nearly every commit.
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
  it('a general connection spills the statement journal of a large batch to a file', async () => {
    const made = await filesMadeWriting('general', 1500);
    assert.ok(made.length > 0, 'the watch sees SQLite temporary files (else the next test proves nothing)');
  });

  it("the audit writer's connection makes none", async () => {
    assert.deepEqual(await filesMadeWriting('writer', 1500), []);
  });
});
