import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId } from '../../src/core/ids.ts';
import { insertManagementToken } from '../../src/services/management-tokens.ts';
import { DEFAULT_WORKSPACE_SETTINGS } from '../../src/services/workspaces.ts';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import {
  assertProblem,
  createConnection,
  createRecipient,
  grant,
  issueCredential,
  snapshot,
} from './helpers.ts';

/** SPEC §12: no request ever sees another workspace's data; another tenant's object is 404, not 403. */

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const { store, services } = relay.running.relay;

    // Workspace A: the bootstrapped one, with one of everything.
    const connA = await createConnection(relay, { id: 'conn_hubspot' });
    const rcpA = await createRecipient(relay, { name: 'A agent' });
    const credA = await issueCredential(relay, {
      recipient_id: rcpA.id,
      grants: [grant('conn_hubspot')],
      ttl_seconds: 3600,
    });
    const tokenA = (await relay.api('POST', '/api/v1/tokens', { name: 'A viewer', role: 'viewer' })).body;

    // Workspace B: made directly in the store, with its own admin.
    const wsB = newId('workspace');
    await store.workspaces.insert({
      id: wsB,
      name: 'other',
      settings: DEFAULT_WORKSPACE_SETTINGS,
      createdAt: new Date().toISOString(),
    });
    const { token: adminB } = await insertManagementToken(
      store,
      { workspaceId: wsB, actor: 'test', ip: null },
      Date.now(),
      {
        name: 'B admin',
        role: 'admin',
      },
    );
    const asB = (method: string, path: string, body?: unknown) => relay.api(method, path, body, adminB);

    it("every operation on A's objects answers 404 to B's admin", async () => {
      const before = await snapshot(relay);
      const attempts: ReadonlyArray<readonly [string, string, unknown]> = [
        ['GET', `/api/v1/connections/${connA.id}`, undefined],
        ['PATCH', `/api/v1/connections/${connA.id}`, { name: 'hijacked' }],
        ['PUT', `/api/v1/connections/${connA.id}/secret`, { secret: 'attacker-chosen-secret' }],
        ['DELETE', `/api/v1/connections/${connA.id}`, undefined],
        ['GET', `/api/v1/recipients/${rcpA.id}`, undefined],
        ['POST', `/api/v1/recipients/${rcpA.id}/revoke`, undefined],
        ['GET', `/api/v1/credentials/${credA.id}`, undefined],
        ['POST', `/api/v1/credentials/${credA.id}/revoke`, undefined],
        ['POST', `/api/v1/tokens/${tokenA.id}/revoke`, undefined],
      ];
      for (const [method, path, body] of attempts) {
        const res = await asB(method, path, body);
        assertProblem(res, 404, 'not_found');
        assert.ok(!JSON.stringify(res.body).includes('hijacked'));
      }
      assert.deepEqual(await snapshot(relay), before, "A's workspace is unchanged");
      const a = await store.connections.get(relay.workspaceId, connA.id);
      assert.ok(a);
      assert.notEqual(await services.connections.revealSecret(a), 'attacker-chosen-secret');
      assert.equal((await relay.api('GET', `/api/v1/credentials/${credA.id}`)).body.status, 'active');
    });

    it("B's lists are empty", async () => {
      for (const path of [
        '/api/v1/connections',
        '/api/v1/recipients',
        '/api/v1/credentials',
        `/api/v1/credentials?recipient_id=${rcpA.id}`,
        '/api/v1/admin-audit',
      ]) {
        const res = await asB('GET', path);
        assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(res.body, { data: [], next_cursor: null }, path);
      }
      const tokens = await asB('GET', '/api/v1/tokens');
      assert.deepEqual(
        tokens.body.data.map((t: { name: string }) => t.name),
        ['B admin'],
      );
      const workspace = await asB('GET', '/api/v1/workspace');
      assert.equal(workspace.body.id, wsB);
    });

    it("B cannot reach A's objects by naming them in its own requests", async () => {
      assertProblem(
        await asB('POST', '/api/v1/credentials', { name: 'x', grants: [grant(connA.id)] }),
        400,
        'invalid_scope',
      );
      assertProblem(
        await asB('POST', '/api/v1/credentials', {
          name: 'x',
          recipient_id: rcpA.id,
          grants: [grant(connA.id)],
        }),
        404,
        'not_found',
      );
      assertProblem(
        await asB('POST', '/api/v1/delegated-credentials', {
          connection_id: connA.id,
          name: 'x',
          allowed_methods: ['GET'],
          allowed_paths: ['/x'],
          ttl_seconds: 60,
        }),
        400,
        'invalid_scope',
      );
    });

    it('readable ids are per workspace: B may have its own conn_hubspot, and each sees only its own', async () => {
      const res = await asB('POST', '/api/v1/connections', {
        id: 'conn_hubspot',
        name: 'B HubSpot',
        base_url: 'https://b.example.com',
        auth: { type: 'bearer', secret: 'b-secret-0123456789' },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal((await asB('GET', '/api/v1/connections/conn_hubspot')).body.name, 'B HubSpot');
      assert.equal((await relay.api('GET', '/api/v1/connections/conn_hubspot')).body.name, connA.name);
      const b = await store.connections.get(wsB, 'conn_hubspot');
      assert.ok(b);
      assert.equal(await services.connections.revealSecret(b), 'b-secret-0123456789');
      // B's admin audit holds B's action only, A's holds none of it
      const auditB = await asB('GET', '/api/v1/admin-audit');
      assert.deepEqual(
        auditB.body.data.map((e: { action: string }) => e.action),
        ['connection.create'],
      );
      const auditA = await relay.api('GET', '/api/v1/admin-audit?limit=200');
      assert.ok(!JSON.stringify(auditA.body).includes('B HubSpot'));
    });

    it("a sealed secret copied from B's row into A's row does not open", async () => {
      const a = await store.connections.get(relay.workspaceId, 'conn_hubspot');
      const b = await store.connections.get(wsB, 'conn_hubspot');
      assert.ok(a && b);
      const swapped = { ...a, secretSealed: b.secretSealed };
      await assert.rejects(services.connections.revealSecret(swapped));
    });
  });
}
