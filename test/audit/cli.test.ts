import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { writeAuditBatch } from '../../src/services/audit-batch.ts';
import { cli } from '../cli/cli-harness.ts';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { records, rowAt, updateAt } from './helpers.ts';

/** `relay audit verify` and `relay audit prune`: exit 0 on an intact log, 1 at the first break. */

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const { store } = relay.running.relay;
    const env = {
      RELAY_DATA_DIR: relay.config.dataDir,
      RELAY_DATABASE_URL: relay.config.databaseUrl,
      RELAY_LOG_LEVEL: 'silent',
    };
    const workspaceId = relay.workspaceId;
    await writeAuditBatch(store, records(6, { workspaceId }));
    await writeAuditBatch(store, records(3, { workspaceId: '' }));

    it('verify: every chain intact, exit 0, text and JSON', async () => {
      const text = await cli(['audit', 'verify'], env);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`^${workspaceId}: ok, 6 record\\(s\\) up to 6$`, 'm'));
      assert.match(text.stdout, /^\(unattributed\): ok, 3 record\(s\) up to 3$/m);
      const json = await cli(['audit', 'verify', '--json', '--workspace', workspaceId], env);
      assert.equal(json.code, 0);
      const report = JSON.parse(json.stdout);
      assert.equal(report.ok, true);
      assert.deepEqual(
        report.chains.map((c: { workspace_id: string; checked: number; break: unknown }) => [
          c.workspace_id,
          c.checked,
          c.break,
        ]),
        [[workspaceId, 6, null]],
      );
    });

    it('verify: a tampered record makes it exit 1 and name the record', async () => {
      const target = await rowAt(store, workspaceId, 4);
      await updateAt(store, workspaceId, 4, { decision: 'blocked' });
      const text = await cli(['audit', 'verify'], env);
      assert.equal(text.code, 1);
      assert.match(
        text.stdout,
        new RegExp(`^${workspaceId}: BROKEN: altered at seq 4 \\(id ${target.id}\\): `, 'm'),
      );
      assert.match(text.stdout, /^\(unattributed\): ok/m);
      const json = JSON.parse((await cli(['audit', 'verify', '--json'], env)).stdout);
      assert.equal(json.ok, false);
      const chain = json.chains.find((c: { workspace_id: string }) => c.workspace_id === workspaceId);
      assert.deepEqual(chain.break, { kind: 'altered', seq: 4, id: target.id, detail: chain.break.detail });
      await updateAt(store, workspaceId, 4, { decision: 'allowed' });
      assert.equal((await cli(['audit', 'verify'], env)).code, 0);
    });

    it('prune: nothing past retention yet; the report says so; an unknown workspace is refused', async () => {
      const result = await cli(['audit', 'prune', '--json'], env);
      assert.equal(result.code, 0, result.stderr);
      const reports = JSON.parse(result.stdout);
      const mine = reports.find((r: { workspace_id: string }) => r.workspace_id === workspaceId);
      assert.deepEqual(
        [mine.retention_days, mine.deleted, mine.anchor, mine.stopped_at],
        [90, 0, null, null],
      );
      const unknown = await cli(['audit', 'verify', '--workspace', 'ws_nope'], env);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /not found/);
    });
  });
}
