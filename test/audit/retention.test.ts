import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { newId } from '../../src/core/ids.ts';
import { createLogger } from '../../src/logger.ts';
import { AuditRetentionJob, pruneAudit, pruneWorkspaceAudit } from '../../src/services/audit-retention.ts';
import { verifyAuditChain } from '../../src/services/audit-verify.ts';
import { DEFAULT_WORKSPACE_SETTINGS } from '../../src/services/workspaces.ts';
import { DIALECTS, skipFor } from '../harness.ts';
import { deleteAt, openAuditStore, records, rowAt, updateAt, write } from './helpers.ts';

/**
 * SPEC §7: retention is per workspace and a scheduled job prunes; the chain
 * stays verifiable because the prune leaves an anchor (the last deleted
 * record's seq and hash) that verify starts from. Data keys used only by
 * pruned records go with them.
 */

const DAY = 86_400_000;

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const a = await openAuditStore(dialect);
    const { store, clock } = a;
    const start = clock.at;
    const iso = (ms: number) => new Date(ms).toISOString();
    let n = 0;
    /** A workspace with 30-day retention: 12 records 40 days old (written then), 8 from today. */
    const aged = async (): Promise<string> => {
      const workspaceId = newId('workspace');
      await store.workspaces.insert({
        id: workspaceId,
        name: `retention ${++n}`,
        settings: { ...DEFAULT_WORKSPACE_SETTINGS, audit_retention_days: 30 },
        createdAt: iso(start - 100 * DAY),
      });
      clock.at = start - 40 * DAY;
      const old = records(12, { workspaceId }).map((r, i) => ({ ...r, at: iso(clock.at + i) }));
      await write(store, old.slice(0, 6));
      await write(store, old.slice(6));
      clock.at = start; // over an hour later: the writer has moved on to a new data key
      const fresh = records(8, { workspaceId }).map((r, i) => ({ ...r, at: iso(start - 60_000 + i) }));
      await write(store, fresh);
      return workspaceId;
    };
    const keyCount = async (workspaceId: string) =>
      Number(
        (
          await sql<{
            n: string | number;
          }>`select count(*) as n from audit_keys where workspace_id = ${workspaceId}`.execute(store.db)
        ).rows[0]?.n,
      );
    const segmentCount = async (workspaceId: string) =>
      Number(
        (
          await sql<{
            n: string | number;
          }>`select count(*) as n from audit_segments where workspace_id = ${workspaceId}`.execute(store.db)
        ).rows[0]?.n,
      );

    it('deletes what is past retention, anchors the chain there, and the rest still verifies', async () => {
      const workspaceId = await aged();
      const lastOld = await rowAt(store, workspaceId, 12);
      assert.equal(await keyCount(workspaceId), 2);
      assert.equal(await segmentCount(workspaceId), 3);
      const report = await pruneWorkspaceAudit(store, clock, workspaceId, 30);
      assert.equal(report.deleted, 12);
      assert.deepEqual(report.anchor, { seq: 12, hash: lastOld.hash });
      assert.equal(report.stoppedAt, null);
      assert.equal(await store.audit.count(workspaceId), 8);
      const state = await store.audit.chainState(workspaceId);
      assert.deepEqual(state.anchor, { seq: 12, hash: lastOld.hash });
      const verified = await verifyAuditChain(store.audit, workspaceId);
      assert.equal(verified.ok, true, JSON.stringify(verified.break));
      assert.equal(verified.checked, 8);
      // The old records' data key went with them: nothing can open them from a backup of the keys table.
      assert.equal(await keyCount(workspaceId), 1);
      // So did the segments that held them.
      assert.equal(await segmentCount(workspaceId), 1);
      // Records written after the prune continue the chain.
      await write(store, records(3, { workspaceId }));
      assert.equal((await verifyAuditChain(store.audit, workspaceId)).checked, 11);
      // A second prune finds nothing more to do.
      assert.equal((await pruneWorkspaceAudit(store, clock, workspaceId, 30)).deleted, 0);
    });

    it('tampering after a prune is still detected: changed, deleted, or a moved anchor', async () => {
      const altered = await aged();
      await pruneWorkspaceAudit(store, clock, altered, 30);
      await updateAt(store, altered, 15, { bytes_out: 1 });
      assert.deepEqual(
        [
          (await verifyAuditChain(store.audit, altered)).break?.kind,
          (await verifyAuditChain(store.audit, altered)).break?.seq,
        ],
        ['altered', 15],
      );

      const deleted = await aged();
      await pruneWorkspaceAudit(store, clock, deleted, 30);
      await deleteAt(store, deleted, 13);
      const gap = await verifyAuditChain(store.audit, deleted);
      assert.deepEqual([gap.break?.kind, gap.break?.seq], ['deleted', 13]);

      const anchored = await aged();
      await pruneWorkspaceAudit(store, clock, anchored, 30);
      // Someone deletes one more record and moves the anchor over it to hide the deletion.
      await deleteAt(store, anchored, 13);
      await sql`update audit_chains set anchor_seq = ${13} where workspace_id = ${anchored}`.execute(
        store.db,
      );
      const moved = await verifyAuditChain(store.audit, anchored);
      assert.deepEqual([moved.break?.kind, moved.break?.seq], ['altered', 14]);
    });

    it('a prune stops before a break in the chain: the evidence stays for verify', async () => {
      const workspaceId = await aged();
      const target = await rowAt(store, workspaceId, 9);
      await updateAt(store, workspaceId, 9, { status: 201 });
      const report = await pruneWorkspaceAudit(store, clock, workspaceId, 30);
      // Records go by whole segments: the first (1-6) is intact and goes; the second (7-12)
      // holds the break and stays whole, records before the break included.
      assert.equal(report.deleted, 6);
      assert.equal(report.anchor?.seq, 6);
      assert.deepEqual([report.stoppedAt?.kind, report.stoppedAt?.seq], ['altered', 9]);
      const verified = await verifyAuditChain(store.audit, workspaceId);
      assert.deepEqual(
        [verified.break?.kind, verified.break?.seq, verified.break?.id],
        ['altered', 9, target.id],
      );
    });

    it('a chain pruned to its end stays verifiable, and new records follow the anchor', async () => {
      const workspaceId = await aged();
      await pruneWorkspaceAudit(store, clock, workspaceId, 0);
      assert.equal(await store.audit.count(workspaceId), 0);
      const state = await store.audit.chainState(workspaceId);
      assert.deepEqual(state.anchor, state.head);
      assert.equal((await verifyAuditChain(store.audit, workspaceId)).ok, true);
      await write(store, records(2, { workspaceId }));
      const verified = await verifyAuditChain(store.audit, workspaceId);
      assert.deepEqual([verified.ok, verified.checked, verified.head?.seq], [true, 2, 22]);
    });

    it("pruneAudit applies each workspace's retention; unattributed records keep the default", async () => {
      const thirty = await aged();
      const other = await aged();
      await store.workspaces.updateSettings(other, {
        ...DEFAULT_WORKSPACE_SETTINGS,
        audit_retention_days: 90,
      });
      clock.at = start - 40 * DAY;
      await write(
        store,
        records(3, { workspaceId: '' }).map((r, i) => ({ ...r, at: iso(clock.at + i) })),
      );
      clock.at = start;
      const reports = await pruneAudit(store, clock);
      const by = new Map(reports.map((r) => [r.workspaceId, r]));
      assert.equal(by.get(thirty)?.deleted, 12);
      assert.equal(by.get(other)?.deleted, 0);
      assert.equal(by.get('')?.retentionDays, DEFAULT_WORKSPACE_SETTINGS.audit_retention_days);
      assert.equal(by.get('')?.deleted, 0);
      for (const id of [thirty, other, '']) assert.equal((await verifyAuditChain(store.audit, id)).ok, true);
    });

    it("the server's scheduled job prunes on its own, and stops when asked", async () => {
      const workspaceId = await aged();
      const job = new AuditRetentionJob({
        store,
        clock,
        logger: createLogger('silent'),
        firstRunMs: 1,
        intervalMs: 50,
      });
      try {
        const deadline = Date.now() + 5000;
        while ((await store.audit.count(workspaceId)) !== 8) {
          assert.ok(Date.now() < deadline, 'the job never pruned');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      } finally {
        await job.stop();
      }
      assert.equal((await store.audit.chainState(workspaceId)).anchor?.seq, 12);
    });

    it('a large backlog is pruned in several transactions, each leaving a verifiable chain', async () => {
      const workspaceId = newId('workspace');
      clock.at = start - 400 * DAY;
      const many = records(12_000, { workspaceId }).map((r, i) => ({ ...r, at: iso(clock.at + i) }));
      for (let i = 0; i < many.length; i += 2000) await write(store, many.slice(i, i + 2000));
      clock.at = start;
      const report = await pruneWorkspaceAudit(store, clock, workspaceId, 365);
      assert.equal(report.deleted, 12_000);
      assert.equal(report.anchor?.seq, 12_000);
      assert.equal((await verifyAuditChain(store.audit, workspaceId)).ok, true);
    });
  });
}
