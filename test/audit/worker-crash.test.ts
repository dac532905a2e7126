import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { verifyAuditChain } from '../../src/services/audit-verify.ts';
import { DIALECTS, skipFor } from '../harness.ts';
import { auditWriter, openAuditStore, records } from './helpers.ts';

/**
 * SPEC §7: no audit record is lost. The proxy keeps every batch it handed to the
 * audit worker until the worker acknowledges its commit; a worker that dies is
 * replaced and sent every unacknowledged batch again, and batches it had already
 * committed are not stored (or chained) twice.
 */
for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    it('a worker that dies mid-stream loses nothing and duplicates nothing', {
      timeout: 30_000,
    }, async () => {
      const a = await openAuditStore(dialect);
      const writer = auditWriter(a, 10, { workerUrl: new URL('./dying-audit-worker.ts', import.meta.url) });
      const workspaceId = 'ws_worker_crash';
      const written = records(300, { workspaceId });
      for (const [i, r] of written.entries()) {
        writer.record(r);
        if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 2));
      }
      // flush() resolves only when every record is acknowledged: a lost batch would hang it.
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([
        writer.flush(),
        new Promise((_, reject) => {
          deadline = setTimeout(() => reject(new Error('records were lost: flush never completed')), 20_000);
        }),
      ]).finally(() => clearTimeout(deadline));
      assert.ok(existsSync(join(a.dataDir, 'audit-worker-died')), 'the first worker died');
      assert.equal(await a.store.audit.count(workspaceId), 300);
      const report = await verifyAuditChain(a.store.audit, workspaceId);
      assert.equal(report.ok, true, JSON.stringify(report.break));
      assert.equal(report.checked, 300);
      const stored = await a.store.audit.list(workspaceId, {}, { limit: 1000 });
      assert.deepEqual(new Set(stored.data.map((r) => r.id)), new Set(written.map((r) => r.id)));
    });
  });
}
