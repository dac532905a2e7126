import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { auditKeyRef, UNREADABLE_PLACEHOLDER } from '../../src/core/audit-seal.ts';
import { associatedDataById, Vault } from '../../src/core/vault.ts';
import { DIALECTS, skipFor } from '../harness.ts';
import { exec, openAuditStore, records, rowAt, write } from './helpers.ts';

/**
 * How the audit writer seals (core/audit-seal.ts): the sensitive fields of a
 * batch as one message, stored once; each record naming its place in it and a
 * digest of it. What binds a record to its own fields, and that records sealed
 * one by one before batches still open.
 */

const REFERENCE = /^batch:aseal_[A-Za-z0-9]{20}:\d+:[A-Za-z0-9_-]{22}$/;

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const a = await openAuditStore(dialect);
    const { store } = a;
    let n = 0;
    const fresh = () => `ws_sealed_${++n}`;

    it('one sealed message per batch; each record names its batch, its place and a digest', async () => {
      const workspaceId = fresh();
      const all = records(7, { workspaceId });
      await write(store, all.slice(0, 4));
      await write(store, all.slice(4));
      const batches = await sql<{ id: string; last_seq: string | number }>`
        select id, last_seq from audit_sealed_batches where workspace_id = ${workspaceId} order by last_seq`.execute(
        store.db,
      );
      assert.deepEqual(
        batches.rows.map((b) => Number(b.last_seq)),
        [4, 7],
      );
      for (let seq = 1; seq <= 7; seq++) {
        const row = await rowAt(store, workspaceId, seq);
        assert.match(row.sealed, REFERENCE);
        const [, batchId, index] = row.sealed.split(':');
        assert.equal(batchId, batches.rows[seq <= 4 ? 0 : 1]?.id);
        assert.equal(Number(index), seq <= 4 ? seq - 1 : seq - 5);
        assert.deepEqual([row.path, row.query, row.ip, row.userAgent], ['', null, '', null]);
      }
      const page = await store.audit.list(workspaceId, {}, { limit: 10 });
      assert.deepEqual(page.data, all);
    });

    it('a batch copied over another does not open there (the AAD names the batch)', async () => {
      const workspaceId = fresh();
      const [first, second] = [records(2, { workspaceId }), records(2, { workspaceId })];
      await write(store, first);
      await write(store, second);
      const victim = (await rowAt(store, workspaceId, 3)).sealed.split(':')[1] as string;
      const donor = (await rowAt(store, workspaceId, 1)).sealed.split(':')[1] as string;
      await exec(
        store,
        sql`update audit_sealed_batches set sealed = (select sealed from audit_sealed_batches where id = ${donor}) where id = ${victim}`,
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
      const [one, two] = [await rowAt(store, workspaceId, 1), await rowAt(store, workspaceId, 2)];
      await exec(store, sql`update audit_events set sealed = ${one.sealed} where id = ${two.id}`);
      const page = await store.audit.list(workspaceId, {}, { limit: 10 });
      assert.deepEqual(page.data[0], all[0]);
      assert.equal(page.data[1]?.ip, UNREADABLE_PLACEHOLDER);
    });

    it('records sealed one by one (before migration 0006) still open', async () => {
      const workspaceId = fresh();
      const [record] = records(1, { workspaceId });
      if (record === undefined) throw new Error('no record');
      await write(store, [record]);
      const row = await rowAt(store, workspaceId, 1);
      // What the writer stored before batches: the record's own message under the same data key.
      const keyRow = await sql<{ key_sealed: string }>`
        select key_sealed from audit_keys where workspace_id = ${workspaceId} and id = ${row.keyId}`.execute(
        store.db,
      );
      const vault = new Vault(a.keys);
      const raw = Buffer.from(
        await vault.open(keyRow.rows[0]?.key_sealed as string, auditKeyRef(workspaceId, row.keyId)),
        'base64',
      );
      const aad = associatedDataById({
        table: 'audit_events',
        workspaceId,
        field: 'path,query,ip,user_agent',
      })(record.id);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', raw, iv);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const body = Buffer.concat([
        cipher.update(JSON.stringify([record.path, record.query, record.ip, record.userAgent]), 'utf8'),
        cipher.final(),
      ]);
      const legacy = Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
      await exec(store, sql`update audit_events set sealed = ${legacy} where id = ${record.id}`);
      const page = await store.audit.list(workspaceId, {}, { limit: 10 });
      assert.deepEqual(page.data[0], record);
    });
  });
}
