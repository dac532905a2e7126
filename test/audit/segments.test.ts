import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { moveChainedRowsToSegments } from '../../src/adapters/db/audit-repo.ts';
import { chainSegment, decodeSegment, encodeSegment } from '../../src/adapters/db/audit-segments.ts';
import { encodedAuditRecord } from '../../src/core/audit-batch-encoding.ts';
import { chainAfter, chainHash, GENESIS } from '../../src/core/audit-chain.ts';
import { auditKeyRef, batchDigest, batchPlace, UNREADABLE_PLACEHOLDER } from '../../src/core/audit-seal.ts';
import { associatedDataById, Vault } from '../../src/core/vault.ts';
import { verifyAuditChain } from '../../src/services/audit-verify.ts';
import { DIALECTS, skipFor } from '../harness.ts';
import { exec, openAuditStore, records, rowAt, updateAt, write } from './helpers.ts';

/**
 * How chained audit records are stored (adapters/db/audit-segments.ts,
 * core/audit-seal.ts): a segment per written batch, its records' sensitive
 * fields sealed as one message; each record naming its place in it. What binds a
 * record to its own fields, what is derived rather than stored, and that records
 * from before segments (rows, migration 0006) still open and verify.
 */

const REFERENCE = /^batch:aseal_[A-Za-z0-9]{20}:\d+:[A-Za-z0-9_-]{22}$/;

describe('segment encoding', () => {
  const header = {
    workspaceId: 'ws_enc',
    id: 'aseal_0123456789abcdefghij',
    keyId: 'akey_1',
    sealed: 'c2VhbGVk',
  };

  it('round-trips records; the key id and a standard reference are derived, not stored', () => {
    const digest = batchDigest(header.sealed);
    const chained = chainAfter(
      GENESIS,
      records(3, { workspaceId: 'ws_enc', path: '', query: null, ip: '', userAgent: null }).map((r, i) => ({
        ...r,
        keyId: 'akey_1',
        sealed: `batch:${header.id}:${i}:${digest}`,
      })),
    );
    const text = encodeSegment(header, chained);
    assert.deepEqual(decodeSegment(header, text), chained);
    const stored = JSON.parse(text) as unknown[][];
    assert.ok(
      stored.every((r) => r[19] === null && r[20] === null),
      'derived values are not stored',
    );
  });

  it("the writer's one-pass chaining agrees with the reference encoding, record by record", () => {
    // The second header's values need JSON escaping: the writer's text is cut around them.
    const odd = {
      workspaceId: 'ws "q" \\ \u{1f600}',
      id: 'aseal_"a"\\:b',
      keyId: 'akey_"k"',
      sealed: 'c2VhbGVk',
    };
    for (const h of [header, odd]) {
      const head = { seq: 41, hash: 'ab'.repeat(32) };
      const raw = records(5, { workspaceId: h.workspaceId }).map((r, i) => ({
        ...r,
        requestId: `req "${i}" \\ caf\u00e9 \u{1f600}`,
        reason: i % 2 === 0 ? null : 'upstream_timeout',
        durationMs: 0.1 + 0.2 * i,
      }));
      const { data, last, minAt, maxAt } = chainSegment(h, raw.map(encodedAuditRecord), head);
      const decoded = decodeSegment(h, data);
      const digest = batchDigest(h.sealed);
      const expected = chainAfter(
        head,
        raw.map((r, i) => ({
          ...r,
          path: '',
          query: null,
          ip: '',
          userAgent: null,
          keyId: h.keyId,
          sealed: batchPlace(h.id, i, digest),
        })),
      );
      assert.deepEqual(decoded, expected);
      for (const r of decoded) assert.equal(r.hash, chainHash(r));
      assert.deepEqual(last, { seq: 46, hash: expected.at(-1)?.hash });
      assert.deepEqual([minAt, maxAt], [raw[0]?.at, raw[4]?.at]);
    }
  });

  it('values that differ from what would be derived are stored as they are', () => {
    const chained = chainAfter(
      GENESIS,
      records(2, { workspaceId: 'ws_enc' }).map((r) => ({
        ...r,
        keyId: 'akey_other',
        sealed: 'b3duIG1lc3NhZ2U',
      })),
    );
    assert.deepEqual(decodeSegment(header, encodeSegment(header, chained)), chained);
  });
});

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const a = await openAuditStore(dialect);
    const { store } = a;
    let n = 0;
    const fresh = () => `ws_segment_${++n}`;

    it('a segment per written batch, its sensitive fields sealed once; each record names its place', async () => {
      const workspaceId = fresh();
      const all = records(7, { workspaceId });
      await write(store, all.slice(0, 4));
      await write(store, all.slice(4));
      const segments = await sql<{ id: string; first_seq: string | number; last_seq: string | number }>`
        select id, first_seq, last_seq from audit_segments where workspace_id = ${workspaceId} order by first_seq`.execute(
        store.db,
      );
      assert.deepEqual(
        segments.rows.map((s) => [Number(s.first_seq), Number(s.last_seq)]),
        [
          [1, 4],
          [5, 7],
        ],
      );
      for (let seq = 1; seq <= 7; seq++) {
        const row = await rowAt(store, workspaceId, seq);
        assert.match(row.sealed, REFERENCE);
        const [, id, index] = row.sealed.split(':');
        assert.equal(id, segments.rows[seq <= 4 ? 0 : 1]?.id);
        assert.equal(Number(index), seq <= 4 ? seq - 1 : seq - 5);
        assert.deepEqual([row.path, row.query, row.ip, row.userAgent], ['', null, '', null]);
      }
      assert.deepEqual((await store.audit.list(workspaceId, {}, { limit: 10 })).data, all);
      assert.equal(await store.audit.count(workspaceId), 7);
    });

    it("a segment's sealed fields copied over another's do not open there (the AAD names the batch)", async () => {
      const workspaceId = fresh();
      const [first, second] = [records(2, { workspaceId }), records(2, { workspaceId })];
      await write(store, first);
      await write(store, second);
      const victim = (await rowAt(store, workspaceId, 3)).sealed.split(':')[1] as string;
      const donor = (await rowAt(store, workspaceId, 1)).sealed.split(':')[1] as string;
      await exec(
        store,
        sql`update audit_segments set sealed = (select sealed from audit_segments where id = ${donor}) where id = ${victim}`,
      );
      const page = await store.audit.list(workspaceId, {}, { limit: 10 });
      assert.deepEqual(page.data.slice(0, 2), first);
      for (const r of page.data.slice(2)) {
        assert.equal(r.path, UNREADABLE_PLACEHOLDER);
        assert.equal(r.userAgent, UNREADABLE_PLACEHOLDER);
      }
    });

    it("a record pointed at another record's place opens to nothing (each place carries its record id)", async () => {
      const workspaceId = fresh();
      const all = records(2, { workspaceId });
      await write(store, all);
      await updateAt(store, workspaceId, 2, { sealed: (await rowAt(store, workspaceId, 1)).sealed });
      const page = await store.audit.list(workspaceId, {}, { limit: 10 });
      assert.deepEqual(page.data[0], all[0]);
      assert.equal(page.data[1]?.ip, UNREADABLE_PLACEHOLDER);
    });

    it('records sealed one by one (before batches) still open', async () => {
      const workspaceId = fresh();
      const [record] = records(1, { workspaceId });
      if (record === undefined) throw new Error('no record');
      await write(store, [record]);
      const row = await rowAt(store, workspaceId, 1);
      await updateAt(store, workspaceId, 1, { sealed: await legacySeal(workspaceId, row.keyId, record) });
      assert.deepEqual((await store.audit.list(workspaceId, {}, { limit: 10 })).data[0], record);
    });

    it('chained rows from before segments are moved into segments whole: they open and verify', async () => {
      const workspaceId = fresh();
      // A data key, as the writer makes them, to seal the rows the way writers did before segments.
      const [seed] = records(1, { workspaceId });
      await write(store, [seed as never]);
      const keyId = (await rowAt(store, workspaceId, 1)).keyId;
      await exec(store, sql`delete from audit_segments where workspace_id = ${workspaceId}`);
      await exec(store, sql`delete from audit_segment_terms where workspace_id = ${workspaceId}`);
      const old = records(5, { workspaceId });
      const sealedRows = await Promise.all(
        old.map(async (r) => ({
          ...r,
          path: '',
          query: null,
          ip: '',
          userAgent: null,
          keyId,
          sealed: await legacySeal(workspaceId, keyId, r),
        })),
      );
      const chained = chainAfter(GENESIS, sealedRows);
      for (const r of chained) {
        await exec(
          store,
          sql`insert into audit_events (workspace_id, id, at, request_id, connection_id, credential_id, recipient_id,
            method, path, query, decision, reason, status, duration_ms, upstream_ms, bytes_in, bytes_out, ip, user_agent,
            seq, prev_hash, hash, key_id, sealed)
            values (${r.workspaceId}, ${r.id}, ${r.at}, ${r.requestId}, ${r.connectionId}, ${r.credentialId},
            ${r.recipientId}, ${r.method}, ${r.path}, ${r.query}, ${r.decision}, ${r.reason}, ${r.status},
            ${r.durationMs}, ${r.upstreamMs}, ${r.bytesIn}, ${r.bytesOut}, ${r.ip}, ${r.userAgent}, ${r.seq},
            ${r.prevHash}, ${r.hash}, ${r.keyId}, ${r.sealed})`,
        );
      }
      const last = chained.at(-1);
      await exec(
        store,
        sql`update audit_chains set head_seq = ${last?.seq}, head_hash = ${last?.hash} where workspace_id = ${workspaceId}`,
      );
      await moveChainedRowsToSegments(store.db);
      const remaining = await sql<{ n: string | number }>`
        select count(*) as n from audit_events where workspace_id = ${workspaceId}`.execute(store.db);
      assert.equal(Number(remaining.rows[0]?.n), 0);
      assert.equal((await verifyAuditChain(store.audit, workspaceId)).ok, true);
      assert.deepEqual((await store.audit.list(workspaceId, {}, { limit: 10 })).data, old);
      // The chain goes on from them.
      const next = records(2, { workspaceId });
      await write(store, next);
      assert.equal((await verifyAuditChain(store.audit, workspaceId)).checked, 7);
      assert.deepEqual((await store.audit.list(workspaceId, {}, { limit: 10 })).data, [...old, ...next]);
    });

    /** A record's four fields as writers sealed them before batches: a message of its own. */
    async function legacySeal(
      workspaceId: string,
      keyId: string,
      r: { id: string; path: string; query: string | null; ip: string; userAgent: string | null },
    ): Promise<string> {
      const keyRow = await sql<{ key_sealed: string }>`
        select key_sealed from audit_keys where workspace_id = ${workspaceId} and id = ${keyId}`.execute(
        store.db,
      );
      const raw = Buffer.from(
        await new Vault(a.keys).open(keyRow.rows[0]?.key_sealed as string, auditKeyRef(workspaceId, keyId)),
        'base64',
      );
      const aad = associatedDataById({
        table: 'audit_events',
        workspaceId,
        field: 'path,query,ip,user_agent',
      })(r.id);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', raw, iv);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const body = Buffer.concat([
        cipher.update(JSON.stringify([r.path, r.query, r.ip, r.userAgent]), 'utf8'),
        cipher.final(),
      ]);
      return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
    }
  });
}
