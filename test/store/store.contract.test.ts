import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { KyselyStore } from '../../src/adapters/db/kysely-store.ts';
import { openStore } from '../../src/adapters/db/open-store.ts';
import type { Page } from '../../src/ports/store.ts';
import { DIALECTS, freshDatabaseUrl, skipFor, tempDir } from '../harness.ts';
import {
  AT,
  adminAudit,
  connection,
  credential,
  managementToken,
  recipient,
  timestamps,
  workspace,
} from './fixtures.ts';

/**
 * The contract every Store adapter keeps, run against both dialects over one
 * Kysely schema. Each test makes its own workspaces, so tests share one store.
 */

async function openFresh(dialect: (typeof DIALECTS)[number]): Promise<KyselyStore> {
  const dir = tempDir();
  return openStore(await freshDatabaseUrl(dialect, dir), dir);
}

/** Walks every page of a list with `limit`, returning the pages. */
async function allPages<T>(
  list: (cursor: string | undefined) => Promise<Page<T>>,
  maxPages = 100,
): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const page = await list(cursor);
    pages.push([...page.data]);
    if (page.nextCursor === null) return pages;
    assert.equal(typeof page.nextCursor, 'string');
    cursor = page.nextCursor;
  }
  throw new Error('pagination did not end');
}

const byCreatedThenId = (a: { createdAt: string; id: string }, b: { createdAt: string; id: string }) =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

for (const dialect of DIALECTS) {
  // Async body: the harness registers its cleanups with after(), which must run in the suite, not a hook.
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const store = await openFresh(dialect);
    after(() => store.close());
    const initialisedBefore = await store.isInitialised();
    const pendingBefore = await store.pendingMigrations();
    const firstRun = await store.migrate();

    const newWorkspace = async () => {
      const w = workspace();
      await store.workspaces.insert(w);
      return w.id;
    };

    describe('migrations', () => {
      it('a fresh database is not initialised; migrate applies every pending migration', () => {
        assert.equal(initialisedBefore, false);
        assert.ok(pendingBefore.length > 0);
        assert.deepEqual(firstRun.applied, pendingBefore);
      });

      it('report the schema as initialised, and a second migrate is a no-op', async () => {
        assert.equal(store.dialect, dialect);
        assert.equal(await store.isInitialised(), true);
        assert.deepEqual(await store.pendingMigrations(), []);
        const again = await store.migrate();
        assert.deepEqual(again.applied, []);
        assert.deepEqual(await store.pendingMigrations(), []);
      });

      if (dialect === 'postgres') {
        it('two nodes migrating a fresh database at once both succeed, each migration applied once', async () => {
          const dir = tempDir();
          const url = await freshDatabaseUrl(dialect, dir);
          const a = openStore(url, dir);
          const b = openStore(url, dir);
          try {
            const pending = await a.pendingMigrations();
            const [ra, rb] = await Promise.all([a.migrate(), b.migrate()]);
            assert.deepEqual([...ra.applied, ...rb.applied].sort(), [...pending].sort());
            assert.deepEqual(await a.pendingMigrations(), []);
            assert.deepEqual(await b.pendingMigrations(), []);
            await a.meta.set('k', 'v');
            assert.equal(await b.meta.get('k'), 'v');
          } finally {
            await Promise.all([a.close(), b.close()]);
          }
        });
      }
    });

    describe('workspaces', () => {
      it('insert, get, list and updateSettings', async () => {
        const w = workspace({ name: 'acme' });
        await store.workspaces.insert(w);
        assert.deepEqual(await store.workspaces.get(w.id), w);
        assert.ok((await store.workspaces.list()).some((x) => x.id === w.id));
        const settings = { ...w.settings, audit_retention_days: 7, require_2fa: true };
        await store.workspaces.updateSettings(w.id, settings);
        assert.deepEqual((await store.workspaces.get(w.id))?.settings, settings);
        assert.equal(await store.workspaces.get('ws_missing'), undefined);
      });
    });

    describe('connections', () => {
      it('insert and get round-trip every field', async () => {
        const ws = await newWorkspace();
        const c = connection(ws, {
          id: 'conn_hubspot',
          authType: 'oauth2_client_credentials',
          authConfig: { token_url: 'https://auth.example.com/token', client_id: 'abc', scope: 'read write' },
          preset: 'hubspot',
          options: { log_query_strings: true, secret_scanning: 'redact', allow_insecure_upstream: true },
        });
        await store.connections.insert(c);
        assert.deepEqual(await store.connections.get(ws, 'conn_hubspot'), c);
      });

      it('refuses a second row with the same id in a workspace, allows it in another', async () => {
        const [a, b] = [await newWorkspace(), await newWorkspace()];
        await store.connections.insert(connection(a, { id: 'conn_dup' }));
        await assert.rejects(store.connections.insert(connection(a, { id: 'conn_dup' })));
        await store.connections.insert(connection(b, { id: 'conn_dup' }));
        assert.equal((await store.connections.get(b, 'conn_dup'))?.workspaceId, b);
      });

      it('update replaces the mutable fields; delete removes; both report a missing row', async () => {
        const ws = await newWorkspace();
        const c = connection(ws);
        await store.connections.insert(c);
        const next = {
          ...c,
          name: 'renamed',
          baseUrl: 'https://api.example.com/v2',
          authType: 'query' as const,
          authConfig: { query_param: 'api_key' },
          secretSealed: 'v1.x.y.z',
          secretLast4: 'wxyz',
          updatedAt: '2031-01-01T00:00:00.000Z',
        };
        assert.equal(await store.connections.update(next), true);
        assert.deepEqual(await store.connections.get(ws, c.id), next);
        assert.equal(await store.connections.update({ ...next, id: 'conn_nothere' }), false);
        assert.equal(await store.connections.delete(ws, c.id), true);
        assert.equal(await store.connections.get(ws, c.id), undefined);
        assert.equal(await store.connections.delete(ws, c.id), false);
      });

      it('list pages by (created_at, id): more rows than a page, no overlap, nothing skipped', async () => {
        const ws = await newWorkspace();
        const rows = timestamps(23).map((createdAt) => connection(ws, { createdAt }));
        // insert out of order: the store orders, not the insertion
        for (const row of [...rows].reverse()) await store.connections.insert(row);
        const pages = await allPages((cursor) => store.connections.list(ws, { limit: 10, cursor }));
        assert.deepEqual(
          pages.map((p) => p.length),
          [10, 10, 3],
        );
        const ids = pages.flat().map((c) => c.id);
        assert.equal(new Set(ids).size, ids.length, 'pages overlap');
        assert.deepEqual(
          ids,
          [...rows].sort(byCreatedThenId).map((c) => c.id),
        );
      });

      it('an exact multiple of the page size ends without an empty page', async () => {
        const ws = await newWorkspace();
        for (const createdAt of timestamps(10)) await store.connections.insert(connection(ws, { createdAt }));
        const pages = await allPages((cursor) => store.connections.list(ws, { limit: 5, cursor }));
        assert.deepEqual(
          pages.map((p) => p.length),
          [5, 5],
        );
      });

      it('a row added before the cursor while paging is not returned, and nothing after it is skipped', async () => {
        const ws = await newWorkspace();
        const rows = timestamps(6).map((createdAt) => connection(ws, { createdAt: `${createdAt}` }));
        for (const row of rows) await store.connections.insert(row);
        const first = await store.connections.list(ws, { limit: 3 });
        await store.connections.insert(connection(ws, { createdAt: '2029-01-01T00:00:00.000Z' }));
        const second = await store.connections.list(ws, { limit: 3, cursor: first.nextCursor ?? undefined });
        const expected = [...rows].sort(byCreatedThenId).map((c) => c.id);
        assert.deepEqual(
          [...first.data, ...second.data].map((c) => c.id),
          expected,
        );
      });
    });

    describe('workspace scoping', () => {
      it('rows of workspace A are invisible and untouchable through workspace B', async () => {
        const [a, b] = [await newWorkspace(), await newWorkspace()];
        const conn = connection(a);
        const rcp = recipient(a);
        const cred = credential(a, { recipientId: rcp.id });
        const tok = managementToken(a);
        await store.connections.insert(conn);
        await store.recipients.insert(rcp);
        await store.credentials.insert(cred);
        await store.managementTokens.insert(tok);
        await store.adminAudit.insert(adminAudit(a));

        assert.equal(await store.connections.get(b, conn.id), undefined);
        assert.equal(await store.recipients.get(b, rcp.id), undefined);
        assert.equal(await store.credentials.get(b, cred.id), undefined);
        assert.equal(await store.managementTokens.get(b, tok.id), undefined);
        for (const page of [
          await store.connections.list(b, { limit: 50 }),
          await store.recipients.list(b, { limit: 50 }),
          await store.credentials.list(b, { limit: 50 }),
          await store.credentials.list(b, { limit: 50, recipientId: rcp.id }),
          await store.managementTokens.list(b, { limit: 50 }),
          await store.adminAudit.list(b, { limit: 50 }),
        ]) {
          assert.deepEqual(page.data, []);
          assert.equal(page.nextCursor, null);
        }
        assert.equal(await store.connections.update({ ...conn, workspaceId: b, name: 'hijacked' }), false);
        assert.equal(await store.connections.delete(b, conn.id), false);
        assert.equal(await store.recipients.markRevoked(b, rcp.id, AT), false);
        assert.equal(await store.credentials.markRevoked(b, cred.id, AT), false);
        assert.deepEqual(await store.credentials.revokeAllOfRecipient(b, rcp.id, AT), []);
        assert.equal(await store.managementTokens.markRevoked(b, tok.id, AT), false);
        await store.credentials.touch(b, cred.id, AT);
        await store.managementTokens.touch(b, tok.id, AT);

        assert.deepEqual(await store.connections.get(a, conn.id), conn);
        assert.deepEqual(await store.recipients.get(a, rcp.id), rcp);
        assert.deepEqual(await store.credentials.get(a, cred.id), cred);
        assert.deepEqual(await store.managementTokens.get(a, tok.id), tok);
        assert.equal((await store.connections.list(a, { limit: 50 })).data.length, 1);
        assert.equal((await store.adminAudit.list(a, { limit: 50 })).data.length, 1);
      });
    });

    describe('recipients', () => {
      it('insert, get, list pages and markRevoked once', async () => {
        const ws = await newWorkspace();
        const rows = timestamps(7).map((createdAt, i) =>
          recipient(ws, {
            createdAt,
            kind: (['human', 'service', 'agent'] as const)[i % 3],
            email: i % 3 === 0 ? `p${i}@example.com` : null,
          }),
        );
        for (const row of rows) await store.recipients.insert(row);
        assert.deepEqual(await store.recipients.get(ws, rows[1]?.id ?? ''), rows[1]);
        const pages = await allPages((cursor) => store.recipients.list(ws, { limit: 3, cursor }));
        assert.deepEqual(
          pages.flat().map((r) => r.id),
          [...rows].sort(byCreatedThenId).map((r) => r.id),
        );
        const id = rows[0]?.id ?? '';
        assert.equal(await store.recipients.markRevoked(ws, id, '2030-02-01T00:00:00.000Z'), true);
        assert.equal(await store.recipients.markRevoked(ws, id, '2030-03-01T00:00:00.000Z'), false);
        assert.equal((await store.recipients.get(ws, id))?.revokedAt, '2030-02-01T00:00:00.000Z');
      });
    });

    describe('credentials', () => {
      it('insert, get and findByHash; an unknown hash finds nothing; a hash is unique', async () => {
        const ws = await newWorkspace();
        const c = credential(ws, {
          expiresAt: '2031-01-01T00:00:00.000Z',
          ipMode: 'allowlist',
          ipAllowlist: ['10.0.0.0/8', '2001:db8::/32'],
          rateLimitProfile: 'standard',
          review: [{ severity: 'high', code: 'root_glob', message: 'covers everything' }],
        });
        await store.credentials.insert(c);
        assert.deepEqual(await store.credentials.get(ws, c.id), c);
        assert.deepEqual(await store.credentials.findByHash(c.tokenHash), c);
        assert.equal(await store.credentials.findByHash('0'.repeat(64)), undefined);
        await assert.rejects(store.credentials.insert(credential(ws, { tokenHash: c.tokenHash })));
      });

      it('markRevoked once; touch records last use', async () => {
        const ws = await newWorkspace();
        const c = credential(ws);
        await store.credentials.insert(c);
        assert.equal(await store.credentials.markRevoked(ws, c.id, '2030-05-05T00:00:00.000Z'), true);
        assert.equal(await store.credentials.markRevoked(ws, c.id, '2030-06-06T00:00:00.000Z'), false);
        await store.credentials.touch(ws, c.id, '2030-07-07T00:00:00.000Z');
        const stored = await store.credentials.get(ws, c.id);
        assert.equal(stored?.revokedAt, '2030-05-05T00:00:00.000Z');
        assert.equal(stored?.lastUsedAt, '2030-07-07T00:00:00.000Z');
      });

      it("revokeAllOfRecipient returns the ids it revoked and leaves other recipients' credentials alone", async () => {
        const ws = await newWorkspace();
        const [r1, r2] = [recipient(ws), recipient(ws)];
        await store.recipients.insert(r1);
        await store.recipients.insert(r2);
        const live1 = credential(ws, { recipientId: r1.id });
        const live2 = credential(ws, { recipientId: r1.id });
        const earlier = credential(ws, { recipientId: r1.id, revokedAt: '2029-12-31T00:00:00.000Z' });
        const other = credential(ws, { recipientId: r2.id });
        const standalone = credential(ws, { recipientId: null });
        for (const c of [live1, live2, earlier, other, standalone]) await store.credentials.insert(c);

        const at = '2030-04-04T00:00:00.000Z';
        const ids = await store.credentials.revokeAllOfRecipient(ws, r1.id, at);
        assert.deepEqual([...ids].sort(), [live1.id, live2.id].sort());
        assert.equal((await store.credentials.get(ws, live1.id))?.revokedAt, at);
        assert.equal((await store.credentials.get(ws, live2.id))?.revokedAt, at);
        assert.equal((await store.credentials.get(ws, earlier.id))?.revokedAt, '2029-12-31T00:00:00.000Z');
        assert.equal((await store.credentials.get(ws, other.id))?.revokedAt, null);
        assert.equal((await store.credentials.get(ws, standalone.id))?.revokedAt, null);
        assert.deepEqual(await store.credentials.revokeAllOfRecipient(ws, r1.id, at), []);
      });

      it('list pages, and filters by recipient across pages', async () => {
        const ws = await newWorkspace();
        const r = recipient(ws);
        await store.recipients.insert(r);
        const rows = timestamps(14).map((createdAt, i) =>
          credential(ws, { createdAt, recipientId: i % 2 === 0 ? r.id : null }),
        );
        for (const row of rows) await store.credentials.insert(row);
        const all = await allPages((cursor) => store.credentials.list(ws, { limit: 4, cursor }));
        assert.deepEqual(
          all.flat().map((c) => c.id),
          [...rows].sort(byCreatedThenId).map((c) => c.id),
        );
        const mine = await allPages((cursor) =>
          store.credentials.list(ws, { limit: 3, cursor, recipientId: r.id }),
        );
        assert.deepEqual(
          mine.flat().map((c) => c.id),
          rows
            .filter((c) => c.recipientId === r.id)
            .sort(byCreatedThenId)
            .map((c) => c.id),
        );
      });
    });

    describe('management tokens', () => {
      it('insert, get, findByHash, list, markRevoked and touch', async () => {
        const ws = await newWorkspace();
        const t = managementToken(ws, {
          role: 'provisioner',
          expiresAt: '2031-01-01T00:00:00.000Z',
          ipAllowlist: ['192.0.2.0/24'],
          apiScope: { methods: ['GET'], paths: ['/api/v1/**'] },
          bounds: {
            connections: ['conn_hubspot'],
            max_ttl_seconds: 3600,
            allowed_methods: ['GET'],
            allowed_paths: ['/crm/**'],
          },
        });
        const rows = [t, ...timestamps(4).map((createdAt) => managementToken(ws, { createdAt }))];
        for (const row of rows) await store.managementTokens.insert(row);
        assert.deepEqual(await store.managementTokens.get(ws, t.id), t);
        assert.deepEqual(await store.managementTokens.findByHash(t.tokenHash), t);
        assert.equal(await store.managementTokens.findByHash('f'.repeat(64)), undefined);
        const pages = await allPages((cursor) => store.managementTokens.list(ws, { limit: 2, cursor }));
        assert.deepEqual(
          pages.flat().map((x) => x.id),
          [...rows].sort(byCreatedThenId).map((x) => x.id),
        );
        assert.equal(await store.managementTokens.markRevoked(ws, t.id, AT), true);
        assert.equal(await store.managementTokens.markRevoked(ws, t.id, AT), false);
        await store.managementTokens.touch(ws, t.id, '2030-08-08T00:00:00.000Z');
        const stored = await store.managementTokens.get(ws, t.id);
        assert.equal(stored?.revokedAt, AT);
        assert.equal(stored?.lastUsedAt, '2030-08-08T00:00:00.000Z');
      });
    });

    describe('admin audit', () => {
      it('insert and list oldest first, paged, metadata intact', async () => {
        const ws = await newWorkspace();
        const rows = timestamps(8).map((at, i) =>
          adminAudit(ws, { at, action: `action.${i}`, metadata: { i, nested: { ok: true } }, ip: null }),
        );
        for (const row of [...rows].reverse()) await store.adminAudit.insert(row);
        const pages = await allPages((cursor) => store.adminAudit.list(ws, { limit: 3, cursor }));
        const listed = pages.flat();
        const expected = [...rows].sort((x, y) =>
          x.at < y.at ? -1 : x.at > y.at ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0,
        );
        assert.deepEqual(listed, expected);
      });
    });

    describe('transactions', () => {
      it('commit: every write lands and the result is returned', async () => {
        const ws = await newWorkspace();
        const c = connection(ws);
        const result = await store.transaction(async (tx) => {
          await tx.connections.insert(c);
          await tx.adminAudit.insert(adminAudit(ws, { subject: c.id }));
          return 'done';
        });
        assert.equal(result, 'done');
        assert.deepEqual(await store.connections.get(ws, c.id), c);
      });

      it('rollback: an error thrown inside leaves no row, and the error comes out unchanged', async () => {
        const ws = await newWorkspace();
        const c = connection(ws);
        const r = recipient(ws);
        const boom = new Error('boom');
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.connections.insert(c);
            await tx.recipients.insert(r);
            await tx.adminAudit.insert(adminAudit(ws));
            await tx.meta.set(`rollback-${ws}`, 'x');
            assert.deepEqual(await tx.connections.get(ws, c.id), c, 'visible inside the transaction');
            throw boom;
          }),
          (error) => error === boom,
        );
        assert.equal(await store.connections.get(ws, c.id), undefined);
        assert.equal(await store.recipients.get(ws, r.id), undefined);
        assert.deepEqual((await store.adminAudit.list(ws, { limit: 10 })).data, []);
        assert.equal(await store.meta.get(`rollback-${ws}`), undefined);
      });

      it('rollback of an update: the row keeps its old values', async () => {
        const ws = await newWorkspace();
        const c = connection(ws);
        await store.connections.insert(c);
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.connections.update({ ...c, name: 'changed' });
            await tx.connections.insert(c); // duplicate key: the database refuses
          }),
        );
        assert.deepEqual(await store.connections.get(ws, c.id), c);
      });
    });

    describe('meta', () => {
      it('get, set and upsert', async () => {
        const key = `test-${Math.random()}`;
        assert.equal(await store.meta.get(key), undefined);
        await store.meta.set(key, 'one');
        assert.equal(await store.meta.get(key), 'one');
        await store.meta.set(key, 'two');
        assert.equal(await store.meta.get(key), 'two');
      });
    });

    describe('sealed fields', () => {
      it('listAll finds every sealed connection secret across workspaces; replace rewrites one', async () => {
        const [a, b] = [await newWorkspace(), await newWorkspace()];
        const ca = connection(a, { id: 'conn_same', secretSealed: 'v1.k1.aaa.bbb' });
        const cb = connection(b, { id: 'conn_same', secretSealed: 'v1.k1.ccc.ddd' });
        await store.connections.insert(ca);
        await store.connections.insert(cb);
        const all = await store.sealedFields.listAll();
        const mine = all.filter((f) => f.workspaceId === a || f.workspaceId === b);
        assert.deepEqual(
          [...mine].sort((x, y) => (x.sealed < y.sealed ? -1 : 1)),
          [
            {
              table: 'connections',
              field: 'secret_sealed',
              workspaceId: a,
              id: 'conn_same',
              sealed: 'v1.k1.aaa.bbb',
            },
            {
              table: 'connections',
              field: 'secret_sealed',
              workspaceId: b,
              id: 'conn_same',
              sealed: 'v1.k1.ccc.ddd',
            },
          ],
        );
        const target = mine.find((f) => f.workspaceId === a);
        assert.ok(target);
        await store.sealedFields.replace(target, 'v1.k2.eee.fff');
        assert.equal((await store.connections.get(a, 'conn_same'))?.secretSealed, 'v1.k2.eee.fff');
        assert.equal((await store.connections.get(b, 'conn_same'))?.secretSealed, 'v1.k1.ccc.ddd');
        await assert.rejects(
          store.sealedFields.replace({ ...target, table: 'connections', field: 'name' }, 'x'),
          /not a sealed column/,
        );
      });
    });
  });
}
