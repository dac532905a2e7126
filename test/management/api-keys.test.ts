import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashToken, isWellFormedToken } from '../../src/core/tokens.ts';
import { insertManagementToken } from '../../src/services/management-tokens.ts';
import { type ApiResponse, DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { assertProblem, rawApi } from './helpers.ts';
import { workspaceState } from './state.ts';

/** Seed 003: API keys over X-API-Key, with exactly the documented shapes (SPEC §3, §13). */

const CREATED_FIELDS = [
  'created_at',
  'expires_at',
  'id',
  'key',
  'key_prefix',
  'last_used_at',
  'name',
  'scopes',
];
const LISTED_FIELDS = CREATED_FIELDS.filter((f) => f !== 'key');

function assertInvalidKey(res: ApiResponse): void {
  assertProblem(res, 401, 'unauthenticated');
  assert.equal(res.body.detail, 'Invalid or missing API key');
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const { store } = relay.running.relay;
    const withKey = (key: string, path = '/api/v1/connections') =>
      rawApi(relay, 'GET', path, { 'x-api-key': key });
    const withBearer = (key: string, path = '/api/v1/connections') =>
      rawApi(relay, 'GET', path, { authorization: `Bearer ${key}` });
    const expiresAt = new Date(Date.now() + 90 * 86_400_000);
    expiresAt.setUTCMilliseconds(0);

    it('POST creates a key: 201 with exactly the seed 003 fields, the key shown this once', async () => {
      const res = await relay.api('POST', '/api/v1/auth/api-keys', {
        name: 'Production Server',
        expires_at: expiresAt.toISOString().replace('.000Z', 'Z'),
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.deepEqual(Object.keys(res.body).sort(), CREATED_FIELDS);
      assert.equal(res.body.name, 'Production Server');
      assert.ok(isWellFormedToken(res.body.key, 'management'), res.body.key);
      assert.equal(res.body.key_prefix, res.body.key.slice(0, 'rk_mgmt_'.length + 8));
      assert.deepEqual(res.body.scopes, []);
      assert.equal(Date.parse(res.body.expires_at), expiresAt.getTime());
      assert.equal(res.body.last_used_at, null);
      assert.ok(Math.abs(Date.parse(res.body.created_at) - Date.now()) < 60_000);
      const stored = await store.managementTokens.findByHash(hashToken(res.body.key));
      assert.equal(stored?.id, res.body.id);
      assert.ok(!JSON.stringify(stored).includes(res.body.key), 'only the hash is stored');
    });

    it('without expires_at the key does not expire', async () => {
      const res = await relay.api('POST', '/api/v1/auth/api-keys', { name: 'CI/CD Pipeline' });
      assert.equal(res.status, 201);
      assert.equal(res.body.expires_at, null);
    });

    it('GET lists the keys as a JSON array, never with the key itself', async () => {
      const created = await relay.api('POST', '/api/v1/auth/api-keys', { name: 'Monitoring Service' });
      const res = await relay.api('GET', '/api/v1/auth/api-keys');
      assert.equal(res.status, 200);
      assert.ok(Array.isArray(res.body), 'seed 003 lists a bare array');
      for (const item of res.body) assert.deepEqual(Object.keys(item).sort(), LISTED_FIELDS);
      const listed = res.body.find((k: { id: string }) => k.id === created.body.id);
      const { key: _key, ...shown } = created.body;
      assert.deepEqual(listed, shown);
      assert.ok(!JSON.stringify(res.body).includes(created.body.key));
      // management tokens are not API keys, and the bootstrap admin token is not listed here
      const tokens = await relay.api('POST', '/api/v1/tokens', { name: 'a token', role: 'viewer' });
      const again = await relay.api('GET', '/api/v1/auth/api-keys');
      assert.ok(!again.body.some((k: { id: string }) => k.id === tokens.body.id));
    });

    it('the key works in X-API-Key and as a Bearer token, and last_used_at follows', async () => {
      const created = await relay.api('POST', '/api/v1/auth/api-keys', { name: 'Local Development' });
      const viaHeader = await withKey(created.body.key);
      assert.equal(viaHeader.status, 200, JSON.stringify(viaHeader.body));
      assert.equal((await withBearer(created.body.key)).status, 200);
      assert.equal((await withKey(` ${created.body.key} `)).status, 200, 'surrounding spaces are trimmed');
      // last_used_at is written off the request path: wait for it rather than sleep a fixed time
      let listed: { last_used_at: string | null } | undefined;
      for (let i = 0; i < 50 && !listed?.last_used_at; i++) {
        const res = await relay.api('GET', '/api/v1/auth/api-keys');
        listed = res.body.find((k: { id: string }) => k.id === created.body.id);
        if (!listed?.last_used_at) await new Promise((resolve) => setImmediate(resolve));
      }
      assert.ok(listed?.last_used_at, 'last_used_at is set once the key is used');
    });

    it('no key, a garbage key or an unknown key: 401 "Invalid or missing API key"', async () => {
      assertInvalidKey(await rawApi(relay, 'GET', '/api/v1/connections', {}));
      assertInvalidKey(await withKey('rl_live_a1b2c3d4e5f6g7h8i9j0'));
      assertInvalidKey(await withKey(''));
    });

    it('DELETE revokes at once: 204, then the key answers 401 and is no longer listed', async () => {
      const created = await relay.api('POST', '/api/v1/auth/api-keys', { name: 'Contractor Access' });
      assert.equal((await withKey(created.body.key)).status, 200);
      const res = await relay.api('DELETE', `/api/v1/auth/api-keys/${created.body.id}`);
      assert.equal(res.status, 204);
      assert.equal(res.body, undefined);
      assertInvalidKey(await withKey(created.body.key));
      assertInvalidKey(await withBearer(created.body.key));
      const listed = await relay.api('GET', '/api/v1/auth/api-keys');
      assert.ok(!listed.body.some((k: { id: string }) => k.id === created.body.id));
      const audit = await relay.api('GET', '/api/v1/admin-audit?limit=200');
      const actions = audit.body.data
        .filter((r: { subject: string }) => r.subject === created.body.id)
        .map((r: { action: string }) => r.action);
      assert.deepEqual(actions, ['api_key.create', 'api_key.revoke']);
    });

    it('DELETE of an unknown key, or of a management token through the key route, is 404', async () => {
      assertProblem(await relay.api('DELETE', '/api/v1/auth/api-keys/mtk_nothere'), 404, 'not_found');
      const token = await relay.api('POST', '/api/v1/tokens', { name: 'not a key', role: 'viewer' });
      assertProblem(await relay.api('DELETE', `/api/v1/auth/api-keys/${token.body.id}`), 404, 'not_found');
      assert.equal((await relay.api('GET', '/api/v1/workspace', undefined, token.body.token)).status, 200);
    });

    it('an expired key answers 401 "API key expired" in either header', async () => {
      const now = Date.now();
      const { token: key } = await insertManagementToken(
        store,
        { workspaceId: relay.workspaceId, actor: 'test', ip: null },
        now - 7_200_000,
        {
          name: 'expired key',
          role: 'admin',
          kind: 'api_key',
          expires_at: new Date(now - 60_000).toISOString(),
        },
      );
      for (const res of [await withKey(key), await withBearer(key)]) {
        assertProblem(res, 401, 'token_expired');
        assert.equal(res.body.detail, 'API key expired');
      }
    });

    it('scopes are kept as given and enforced: connections:read reads connections only', async () => {
      const res = await relay.api('POST', '/api/v1/auth/api-keys', {
        name: 'reader',
        scopes: ['connections:read'],
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.deepEqual(res.body.scopes, ['connections:read']);
      const key = res.body.key;
      assert.equal((await withKey(key)).status, 200);
      const post = await rawApi(
        relay,
        'POST',
        '/api/v1/connections',
        { 'x-api-key': key, 'content-type': 'application/json' },
        JSON.stringify({
          name: 'x',
          base_url: 'https://a.example.com',
          auth: { type: 'bearer', secret: 'abcdefghij' },
        }),
      );
      assertProblem(post, 403, 'forbidden');
      assertProblem(await withKey(key, '/api/v1/recipients'), 403, 'forbidden');
      const many = await relay.api('POST', '/api/v1/auth/api-keys', {
        name: 'many',
        scopes: ['connections:read', 'credentials:*', 'audit:write', '*'],
      });
      assert.equal(many.status, 201, JSON.stringify(many.body));
      assert.deepEqual(many.body.scopes, ['connections:read', 'credentials:*', 'audit:write', '*']);
    });

    for (const scope of [
      'connections',
      'connections:admin',
      'nothing:read',
      '*:read',
      'Connections:read',
      ' *',
      '',
    ]) {
      it(`an invalid scope ${JSON.stringify(scope)} is 400 and creates nothing`, async () => {
        const before = await workspaceState(relay);
        assertProblem(
          await relay.api('POST', '/api/v1/auth/api-keys', { name: 'bad', scopes: [scope] }),
          400,
          'validation_failed',
        );
        assert.deepEqual(await workspaceState(relay), before);
      });
    }

    it('a past expires_at, a missing name or an unknown field is 400', async () => {
      const before = await workspaceState(relay);
      assertProblem(
        await relay.api('POST', '/api/v1/auth/api-keys', { name: 'old', expires_at: '2024-03-31T23:59:59Z' }),
        400,
        'invalid_expiry',
      );
      assertProblem(await relay.api('POST', '/api/v1/auth/api-keys', {}), 400, 'validation_failed');
      assertProblem(
        await relay.api('POST', '/api/v1/auth/api-keys', { name: 'x', role: 'admin' }),
        400,
        'validation_failed',
      );
      assert.deepEqual(await workspaceState(relay), before);
    });

    it('a scoped API key cannot mint a key or token wider than itself', {}, async () => {
      const created = await relay.api('POST', '/api/v1/auth/api-keys', {
        name: 'key manager',
        scopes: ['tokens:*'],
      });
      const key = created.body.key;
      const post = (path: string, body: unknown) =>
        rawApi(
          relay,
          'POST',
          path,
          { 'x-api-key': key, 'content-type': 'application/json' },
          JSON.stringify(body),
        );
      const tokens = await relay.api('GET', '/api/v1/tokens?limit=200');
      const bootstrap = tokens.body.data.find((t: { token_prefix: string }) =>
        relay.adminToken.startsWith(t.token_prefix),
      );
      const before = await workspaceState(relay);
      const unscoped = await post('/api/v1/auth/api-keys', { name: 'full access', scopes: [] });
      const wider = await post('/api/v1/auth/api-keys', { name: 'everything', scopes: ['*'] });
      const admin = await post('/api/v1/tokens', { name: 'plain admin', role: 'admin' });
      // rotating the unscoped admin token would hand its new secret to this key
      const takeover = await post(`/api/v1/tokens/${bootstrap.id}/rotate`, { grace_period_seconds: 0 });
      for (const res of [unscoped, wider, admin, takeover]) assertProblem(res, 403, 'forbidden');
      assert.deepEqual(await workspaceState(relay), before);
    });
  });
}
