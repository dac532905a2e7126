import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { type Keyring, keyIdFor, LocalKeyProvider } from '../../src/adapters/local-key/local-key-provider.ts';
import { Vault } from '../../src/core/vault.ts';
import { rewrapAll, verifyMasterKey, WrongMasterKeyError } from '../../src/services/bootstrap.ts';
import { buildServices } from '../../src/services/index.ts';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { authCases } from '../management/helpers.ts';

/** `relay keys rotate-master`: every data key re-wrapped under the new master key; the old one no longer needed. */

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const { store, keys: oldProvider } = relay.running.relay;
    const cases = authCases();
    for (const [i, c] of cases.entries()) {
      const res = await relay.api('POST', '/api/v1/connections', {
        id: `conn_rotate${i}`,
        name: c.type,
        base_url: 'https://api.example.com',
        auth: c.auth,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const oldRing = oldProvider.keyring;
    const oldKid = oldRing.primary;
    const newKey = randomBytes(32);
    const newKid = keyIdFor(newKey);
    const only = (kid: string, key: Buffer): Keyring => ({ primary: kid, keys: new Map([[kid, key]]) });
    const rotating = new LocalKeyProvider({
      primary: newKid,
      keys: new Map([[newKid, newKey], ...oldRing.keys]),
    });
    const newOnly = new Vault(new LocalKeyProvider(only(newKid, newKey)));
    const oldOnly = new Vault(new LocalKeyProvider(only(oldKid, oldRing.keys.get(oldKid) as Buffer)));

    it('before: every sealed field is under the old key', async () => {
      const fields = await store.sealedFields.listAll();
      assert.ok(fields.length >= cases.length);
      for (const f of fields) assert.equal(Vault.keyIdOf(f.sealed), oldKid);
      assert.equal(await verifyMasterKey(store, oldOnly), 'verified');
    });

    it('rewrapAll moves every sealed field and the key check to the new key', async () => {
      const total = (await store.sealedFields.listAll()).length + 1;
      const result = await rewrapAll(store, rotating);
      assert.deepEqual(result, { rewrapped: total, total });
      for (const f of await store.sealedFields.listAll()) {
        assert.equal(Vault.keyIdOf(f.sealed), newKid, `${f.table}.${f.field} ${f.id}`);
      }
    });

    it('the secrets open with only the new key', async () => {
      const services = buildServices({ ...relay.running.relay.services.deps, vault: newOnly });
      for (const [i, c] of cases.entries()) {
        const connection = await store.connections.get(relay.workspaceId, `conn_rotate${i}`);
        assert.ok(connection);
        assert.equal(await services.connections.revealSecret(connection), c.secret);
      }
    });

    it('the key check verifies with the new key only; the old key alone is refused', async () => {
      assert.equal(await verifyMasterKey(store, newOnly), 'verified');
      await assert.rejects(verifyMasterKey(store, oldOnly), WrongMasterKeyError);
      const services = buildServices({ ...relay.running.relay.services.deps, vault: oldOnly });
      const connection = await store.connections.get(relay.workspaceId, 'conn_rotate0');
      assert.ok(connection);
      await assert.rejects(services.connections.revealSecret(connection));
    });

    it('a second rewrapAll changes nothing', async () => {
      const before = await store.sealedFields.listAll();
      const result = await rewrapAll(store, rotating);
      assert.equal(result.rewrapped, 0);
      assert.deepEqual(await store.sealedFields.listAll(), before);
    });
  });
}
