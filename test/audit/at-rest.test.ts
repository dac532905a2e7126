import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openStore } from '../../src/adapters/db/open-store.ts';
import { keyIdFor, LocalKeyProvider } from '../../src/adapters/local-key/local-key-provider.ts';
import { AuditSealer, SEALED_PLACEHOLDER, UNREADABLE_PLACEHOLDER } from '../../src/core/audit-seal.ts';
import { systemClock } from '../../src/core/clock.ts';
import { Vault } from '../../src/core/vault.ts';
import { writeAuditBatch } from '../../src/services/audit-batch.ts';
import { verifyAuditChain } from '../../src/services/audit-verify.ts';
import { rewrapAll } from '../../src/services/bootstrap.ts';
import { DIALECTS, onCleanup, skipFor } from '../harness.ts';
import { startFakeUpstream } from '../proxy/fake-upstream.ts';
import { fullGrant, send, startProxyFixture, waitForAudit } from '../proxy/proxy-helpers.ts';
import { auditRecord, rowAt, updateAt } from './helpers.ts';

/**
 * SPEC §7, §9: an audit record's path, query, client IP and user agent are
 * encrypted at rest with the envelope scheme. The raw SQLite files and a
 * pg_dump hold none of them; the API and the store's list read them back;
 * a store without the master key cannot; rotate-master re-wraps their keys.
 */

const run = promisify(execFile);
const MARKER = `atrest${randomBytes(5).toString('hex')}`;

/** Forms a value could take if it leaked: as is, base64, base64url, hex. */
function encodings(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  return [value, bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')];
}

async function databaseText(dialect: string, databaseUrl: string): Promise<string> {
  if (dialect === 'postgres') {
    const { stdout } = await run('pg_dump', ['--no-owner', databaseUrl], { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  }
  const path = databaseUrl.slice('sqlite:'.length);
  const parts = [readFileSync(path)];
  for (const suffix of ['-wal', '-journal'])
    if (existsSync(path + suffix)) parts.push(readFileSync(path + suffix));
  return Buffer.concat(parts).toString('latin1');
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream);
    const { relay } = fx;
    const { store, keys } = relay.running.relay;
    await fx.connection({
      id: 'conn_rest',
      name: `${MARKER}-connection-name`,
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-at-rest-0001' },
      options: { log_query_strings: true },
    });
    const credential = await fx.credential({ grants: [fullGrant('conn_rest')] });
    const proxied = {
      path: `/v1/${MARKER}-path`,
      query: `q=${MARKER}-query`,
      agent: `${MARKER}-agent/1.0`,
    };
    const res = await send(relay.proxyUrl, {
      path: `/conn_rest${proxied.path}?${proxied.query}`,
      headers: { authorization: `Bearer ${credential.token}`, 'user-agent': proxied.agent },
    });
    assert.equal(res.status, 200, res.text);
    const unattributed = `${MARKER}-unattributed-agent`;
    await send(relay.proxyUrl, {
      path: '/conn_rest/v1/x',
      headers: { authorization: 'Bearer rk_proxy_nope', 'user-agent': unattributed },
    });
    const direct = auditRecord({
      workspaceId: relay.workspaceId,
      path: `/direct/${MARKER}-direct-path`,
      query: `${MARKER}-direct-query`,
      ip: '203.0.113.199',
      userAgent: `${MARKER}-direct-agent`,
    });
    await writeAuditBatch(store, [direct]);
    const [event] = await waitForAudit(relay.api, { credential_id: credential.id }, (e) => e.length === 1);
    const deadline = Date.now() + 5000;
    while (
      (await store.audit.list('', {}, { limit: 1000 })).data.every((r) => r.userAgent !== unattributed)
    ) {
      assert.ok(Date.now() < deadline, 'the unattributed request was never audited');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const plaintexts = [
      `${MARKER}-path`,
      `${MARKER}-query`,
      `${MARKER}-agent`,
      unattributed,
      `${MARKER}-direct-path`,
      `${MARKER}-direct-query`,
      `${MARKER}-direct-agent`,
      '203.0.113.199',
    ];

    it('the API reads sealed fields back as recorded', () => {
      assert.equal(event.path, proxied.path);
      assert.equal(event.query, proxied.query);
      assert.equal(event.user_agent, proxied.agent);
      assert.equal(event.ip, '127.0.0.1');
    });

    it("the store's list opens them too (the proxy's writer thread sealed them)", async () => {
      const page = await store.audit.list(relay.workspaceId, {}, { limit: 1000 });
      const stored = page.data.find((r) => r.id === direct.id);
      assert.deepEqual(stored, direct);
      assert.ok(page.data.some((r) => r.userAgent === proxied.agent));
    });

    it('no sensitive field is in the database in any encoding (SQLite files, pg_dump)', async () => {
      const text = await databaseText(dialect, relay.config.databaseUrl);
      // The check can see plaintext: the connection's name is stored as is.
      assert.ok(text.includes(`${MARKER}-connection-name`), 'the dump reader found no plaintext at all');
      for (const value of plaintexts)
        for (const form of encodings(value)) assert.ok(!text.includes(form), `${value} is in the database`);
    });

    it('a store opened without the master key shows the sealed fields as [sealed], the rest as stored', async () => {
      const bare = openStore(relay.config.databaseUrl, relay.config.dataDir);
      onCleanup(() => bare.close());
      const page = await bare.audit.list(relay.workspaceId, {}, { limit: 1000 });
      const stored = page.data.find((r) => r.id === direct.id);
      assert.deepEqual(stored, {
        ...direct,
        path: SEALED_PLACEHOLDER,
        query: SEALED_PLACEHOLDER,
        ip: SEALED_PLACEHOLDER,
        userAgent: SEALED_PLACEHOLDER,
      });
      await assert.rejects(writeAuditBatch(bare, [auditRecord()]), /master key/);
    });

    it('a sealed value copied to another record does not open there (the AAD names the record)', async () => {
      const [a, b] = [auditRecord({ workspaceId: 'ws_aad' }), auditRecord({ workspaceId: 'ws_aad' })];
      await writeAuditBatch(store, [a, b]);
      await updateAt(store, 'ws_aad', 2, { sealed: (await rowAt(store, 'ws_aad', 1)).sealed });
      const page = await store.audit.list('ws_aad', {}, { limit: 10 });
      assert.deepEqual(page.data[0], a);
      assert.equal(page.data[1]?.path, UNREADABLE_PLACEHOLDER);
      assert.equal(page.data[1]?.status, b.status);
      assert.equal((await verifyAuditChain(store.audit, 'ws_aad')).break?.kind, 'altered');
    });

    it('rotate-master re-wraps the audit data keys; the records then open with the new key alone', async () => {
      const listed = await store.sealedFields.listAll();
      const auditKeys = listed.filter((f) => f.table === 'audit_keys');
      assert.ok(
        auditKeys.length >= 2,
        'both the worker and this test sealed records under keys of their own',
      );
      const newKey = randomBytes(32);
      const newKid = keyIdFor(newKey);
      const old = keys.keyring;
      const result = await rewrapAll(
        store,
        new LocalKeyProvider({ primary: newKid, keys: new Map([[newKid, newKey], ...old.keys]) }),
      );
      assert.ok(result.rewrapped >= auditKeys.length);
      for (const f of await store.sealedFields.listAll()) assert.equal(Vault.keyIdOf(f.sealed), newKid);

      const reopened = openStore(relay.config.databaseUrl, relay.config.dataDir);
      onCleanup(() => reopened.close());
      const only = new LocalKeyProvider({ primary: newKid, keys: new Map([[newKid, newKey]]) });
      reopened.useAuditSealer(new AuditSealer(new Vault(only), systemClock));
      const page = await reopened.audit.list(relay.workspaceId, {}, { limit: 1000 });
      assert.deepEqual(
        page.data.find((r) => r.id === direct.id),
        direct,
      );
      assert.ok(page.data.some((r) => r.path === proxied.path && r.userAgent === proxied.agent));
      const unattributedPage = await reopened.audit.list('', {}, { limit: 1000 });
      assert.ok(unattributedPage.data.some((r) => r.userAgent === unattributed));
    });
  });
}
