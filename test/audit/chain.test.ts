import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { chainAfter, chainHash, GENESIS } from '../../src/core/audit-chain.ts';
import { verifyAuditChain } from '../../src/services/audit-verify.ts';
import { DIALECTS, skipFor } from '../harness.ts';
import {
  auditRecord,
  auditWriter,
  deleteAt,
  exec,
  openAuditStore,
  records,
  rewriteAndRehash,
  rowAt,
  swapPositions,
  updateAt,
  write,
} from './helpers.ts';

/**
 * SPEC §7: entries are hash-chained per workspace so that `relay audit verify`
 * detects deletion or change. Each case tampers with the database directly, on
 * a chain of its own, and checks that verify names the first bad entry.
 */

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const a = await openAuditStore(dialect);
    const { store } = a;
    let chains = 0;
    /** A fresh workspace chain of `count` records written in batches of 4. */
    const chain = async (count = 10): Promise<string> => {
      const workspaceId = `ws_chain_${++chains}`;
      const all = records(count, { workspaceId });
      for (let i = 0; i < all.length; i += 4) await write(store, all.slice(i, i + 4));
      return workspaceId;
    };
    const verify = (workspaceId: string) => verifyAuditChain(store.audit, workspaceId);

    it('an untouched log verifies: positions 1..n without gaps, each linked to the one before', async () => {
      const workspaceId = await chain(10);
      const report = await verify(workspaceId);
      assert.deepEqual(report.break, null);
      assert.equal(report.ok, true);
      assert.equal(report.checked, 10);
      assert.equal(report.head?.seq, 10);
      let prev = GENESIS.hash;
      for (let seq = 1; seq <= 10; seq++) {
        const row = await rowAt(store, workspaceId, seq);
        assert.equal(row.prevHash, prev);
        assert.equal(row.hash, chainHash(row));
        assert.match(row.hash, /^[0-9a-f]{64}$/);
        prev = row.hash;
      }
    });

    it('a batch of any size is stored whole and in order (split into insert statements of fixed sizes)', async () => {
      for (const size of [1, 255, 256, 511, 777]) {
        const workspaceId = `ws_chain_${++chains}`;
        const all = records(size, { workspaceId });
        await write(store, all);
        const report = await verify(workspaceId);
        assert.equal(report.ok, true, `batch of ${size}`);
        assert.equal(report.checked, size);
        assert.equal((await rowAt(store, workspaceId, size)).id, all.at(-1)?.id);
        assert.equal((await rowAt(store, workspaceId, 1)).id, all[0]?.id);
      }
    });

    it('each workspace has its own chain, and unattributed records (workspace "") one of their own', async () => {
      const mixed = [
        auditRecord({ workspaceId: 'ws_mixed_a' }),
        auditRecord({ workspaceId: '' }),
        auditRecord({ workspaceId: 'ws_mixed_b' }),
        auditRecord({ workspaceId: 'ws_mixed_a' }),
        auditRecord({ workspaceId: '' }),
      ];
      const before = (await store.audit.chainState('')).head?.seq ?? 0;
      await write(store, mixed);
      assert.equal((await store.audit.chainState('ws_mixed_a')).head?.seq, 2);
      assert.equal((await store.audit.chainState('ws_mixed_b')).head?.seq, 1);
      assert.equal((await store.audit.chainState('')).head?.seq, before + 2);
      for (const id of ['ws_mixed_a', 'ws_mixed_b', '']) assert.equal((await verify(id)).ok, true, id);
      const [first, second] = await store.audit.chainPage('ws_mixed_a', 0, 2, 10);
      assert.deepEqual([first?.id, second?.id], [mixed[0]?.id, mixed[3]?.id]);
    });

    it('a changed field is reported as altered, with its seq and id', async () => {
      const workspaceId = await chain();
      const target = await rowAt(store, workspaceId, 4);
      await updateAt(store, workspaceId, 4, { status: 204 });
      const report = await verify(workspaceId);
      assert.equal(report.ok, false);
      assert.deepEqual(
        { kind: report.break?.kind, seq: report.break?.seq, id: report.break?.id },
        { kind: 'altered', seq: 4, id: target.id },
      );
    });

    it('a changed ciphertext is reported as altered (the chain covers the sealed fields as stored)', async () => {
      const workspaceId = await chain();
      const target = await rowAt(store, workspaceId, 7);
      const other = await rowAt(store, workspaceId, 2);
      await updateAt(store, workspaceId, 7, { sealed: other.sealed });
      const report = await verify(workspaceId);
      assert.deepEqual([report.break?.kind, report.break?.seq, report.break?.id], ['altered', 7, target.id]);
    });

    it("a segment's sealed fields swapped for another's: altered at its first record", async () => {
      const workspaceId = await chain();
      const first = await rowAt(store, workspaceId, 5);
      const segment = first.sealed.split(':')[1] as string;
      const other = (await rowAt(store, workspaceId, 1)).sealed.split(':')[1] as string;
      await exec(
        store,
        sql`update audit_segments set sealed = (select sealed from audit_segments where id = ${other}) where id = ${segment}`,
      );
      const report = await verify(workspaceId);
      assert.deepEqual([report.break?.kind, report.break?.seq, report.break?.id], ['altered', 5, first.id]);
    });

    it("a segment's sealed fields emptied: altered at its first record", async () => {
      const workspaceId = await chain();
      const first = await rowAt(store, workspaceId, 9);
      await exec(
        store,
        sql`update audit_segments set sealed = '' where id = ${first.sealed.split(':')[1] as string}`,
      );
      const report = await verify(workspaceId);
      assert.deepEqual([report.break?.kind, report.break?.seq, report.break?.id], ['altered', 9, first.id]);
    });

    it('a changed record whose hash was recomputed is still caught: the next one no longer follows it', async () => {
      const workspaceId = await chain();
      const target = await rowAt(store, workspaceId, 5);
      await rewriteAndRehash(store, workspaceId, 5, 500);
      const report = await verify(workspaceId);
      assert.deepEqual([report.break?.kind, report.break?.seq, report.break?.id], ['altered', 5, target.id]);
    });

    it('a deleted record leaves a gap: reported as deleted at the first missing seq', async () => {
      const workspaceId = await chain();
      await deleteAt(store, workspaceId, 6);
      const report = await verify(workspaceId);
      assert.deepEqual([report.break?.kind, report.break?.seq, report.break?.id], ['deleted', 6, null]);
      assert.match(report.break?.detail ?? '', /entry 6 is missing/);
    });

    it('records cut off the end are reported as deleted (the chain head remembers them)', async () => {
      const workspaceId = await chain();
      await deleteAt(store, workspaceId, 10);
      await deleteAt(store, workspaceId, 9);
      const report = await verify(workspaceId);
      assert.deepEqual([report.break?.kind, report.break?.seq], ['deleted', 9]);
    });

    it('the first record deleted is reported as deleted at seq 1', async () => {
      const workspaceId = await chain();
      await deleteAt(store, workspaceId, 1);
      const report = await verify(workspaceId);
      assert.deepEqual([report.break?.kind, report.break?.seq], ['deleted', 1]);
    });

    it('two records swapped (all their data exchanged) are reported as reordered at the first', async () => {
      const workspaceId = await chain();
      const moved = await rowAt(store, workspaceId, 8);
      await swapPositions(store, workspaceId, 3, 8);
      const report = await verify(workspaceId);
      assert.deepEqual(
        [report.break?.kind, report.break?.seq, report.break?.id],
        ['reordered', 3, moved.id],
        JSON.stringify(report.break),
      );
      assert.match(report.break?.detail ?? '', /after entry 7/);
    });

    it('two neighbours swapped are reported as reordered', async () => {
      const workspaceId = await chain();
      const moved = await rowAt(store, workspaceId, 3);
      await swapPositions(store, workspaceId, 2, 3);
      const report = await verify(workspaceId);
      assert.deepEqual([report.break?.kind, report.break?.seq, report.break?.id], ['reordered', 2, moved.id]);
    });

    it('only the first break is reported', async () => {
      const workspaceId = await chain();
      await deleteAt(store, workspaceId, 8);
      await updateAt(store, workspaceId, 3, { method: 'DELETE' });
      const report = await verify(workspaceId);
      assert.deepEqual([report.break?.kind, report.break?.seq], ['altered', 3]);
    });

    it("two nodes' audit writers (worker threads) append to one chain without gaps or forks", async () => {
      const nodes = [auditWriter(a), auditWriter(a), auditWriter(a)];
      const workspaceId = 'ws_concurrent';
      const written = records(600, { workspaceId });
      // Interleaved: every writer's batches race every other's for the same chain.
      for (const [i, r] of written.entries()) {
        (nodes[i % nodes.length] as (typeof nodes)[number]).record(r);
        if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(nodes.map((w) => w.flush()));
      const report = await verify(workspaceId);
      assert.equal(report.ok, true, JSON.stringify(report.break));
      assert.equal(report.checked, 600);
      assert.equal(await store.audit.count(workspaceId), 600);
      // Every writer's records open with this connection's sealer (same master key, keys in audit_keys).
      const page = await store.audit.list(workspaceId, {}, { limit: 1000 });
      const byId = new Map(written.map((r) => [r.id, r]));
      for (const r of page.data) assert.deepEqual(r, byId.get(r.id));
    });

    it('a batch sent again after a crash is not chained twice', async () => {
      const workspaceId = 'ws_resent';
      const batch = records(5, { workspaceId });
      await write(store, batch);
      await store.transaction((tx) =>
        tx.audit.insertMany([...batch, ...records(2, { workspaceId })], { resent: true }),
      );
      assert.equal(await store.audit.count(workspaceId), 7);
      assert.equal((await verify(workspaceId)).ok, true);
    });

    it('list, filters and cursors read the sealed records back exactly as recorded', async () => {
      const workspaceId = 'ws_roundtrip';
      const written = [
        auditRecord({ workspaceId, path: '/a,b"c\nd', query: null, userAgent: null }),
        auditRecord({
          workspaceId,
          decision: 'blocked',
          reason: 'scope_denied',
          status: 403,
          query: 'x=1&y=é',
        }),
        auditRecord({ workspaceId, ip: '2001:db8::1', upstreamMs: null, durationMs: 0.1 + 0.2 }),
      ];
      await write(store, written);
      const all = await store.audit.list(workspaceId, {}, { limit: 10 });
      assert.deepEqual(all.data, written);
      const blocked = await store.audit.list(workspaceId, { decision: 'blocked' }, { limit: 10 });
      assert.deepEqual(blocked.data, [written[1]]);
      const first = await store.audit.list(workspaceId, {}, { limit: 2 });
      assert.ok(first.nextCursor);
      const rest = await store.audit.list(workspaceId, {}, { limit: 2, cursor: first.nextCursor });
      assert.deepEqual([...first.data, ...rest.data], written);
    });
  });
}

describe('audit chain encoding', () => {
  it('hashes a fixed record as every earlier version did, so stored chains keep verifying', () => {
    const r = {
      workspaceId: 'ws_golden',
      id: 'evt_0Golden0000000000',
      at: '2030-01-01T00:00:00.000Z',
      requestId: 'req_1',
      connectionId: 'conn_a',
      credentialId: 'cred_b',
      recipientId: null,
      method: 'POST',
      path: '',
      query: null,
      decision: 'allowed' as const,
      reason: null,
      status: 201,
      durationMs: 1.5,
      upstreamMs: 0.25,
      bytesIn: 10,
      bytesOut: 20,
      ip: '',
      userAgent: null,
      keyId: 'akey_x',
      sealed: 'c2VhbGVk',
    };
    const [first, second] = chainAfter(GENESIS, [r, { ...r, id: 'evt_0Golden0000000001' }]);
    assert.equal(first?.seq, 1);
    assert.equal(first?.prevHash, GENESIS.hash);
    assert.equal(first?.hash, '22f0426b00a116496582dd6e1a11cfed060c18d3f73b84258a237b89495a593d');
    assert.equal(second?.seq, 2);
    assert.equal(second?.prevHash, first?.hash);
    assert.equal(second?.hash, 'ba4dc22c13bf168c1aee418723e3a4017b4d21cc1ccf900959fef384bd1e9a39');
    assert.equal(chainHash(second as NonNullable<typeof second>), second?.hash);
  });
});
