import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { issueToken } from '../../src/core/tokens.ts';
import { insertManagementToken } from '../../src/services/management-tokens.ts';
import { type ApiResponse, DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import {
  assertProblem,
  createConnection,
  createRecipient,
  grant,
  issueCredential,
  rawApi,
  snapshot,
} from './helpers.ts';

/** SPEC §3: Bearer or X-API-Key; every failure is the same 401 except expiry, which says so. */

function assertUnauthenticated(res: ApiResponse): void {
  assertProblem(res, 401, 'unauthenticated');
  assert.equal(res.body.detail, 'Invalid or missing API key');
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const { store } = relay.running.relay;
    const connection = await createConnection(relay, { id: 'conn_hubspot' });
    const recipient = await createRecipient(relay, { name: 'svc', kind: 'service' });
    const credential = await issueCredential(relay, {
      recipient_id: recipient.id,
      grants: [grant('conn_hubspot')],
      ttl_seconds: 3600,
    });
    const get = (headers: Record<string, string>) => rawApi(relay, 'GET', '/api/v1/connections', headers);

    describe('authentication', () => {
      it('accepts Authorization: Bearer and X-API-Key', async () => {
        const bearer = await get({ authorization: `Bearer ${relay.adminToken}` });
        assert.equal(bearer.status, 200);
        const apiKey = await get({ 'x-api-key': relay.adminToken });
        assert.equal(apiKey.status, 200);
        assert.deepEqual(apiKey.body, bearer.body);
        assert.equal((await get({ authorization: `bearer ${relay.adminToken}` })).status, 200);
      });

      const refused: ReadonlyArray<readonly [string, () => Record<string, string>]> = [
        ['no token', () => ({})],
        ['an empty Bearer', () => ({ authorization: 'Bearer ' })],
        ['garbage', () => ({ authorization: 'Bearer nope' })],
        ['garbage in X-API-Key', () => ({ 'x-api-key': 'nope' })],
        [
          'another scheme',
          () => ({ authorization: `Basic ${Buffer.from(`x:${relay.adminToken}`).toString('base64')}` }),
        ],
        ['the token without a scheme', () => ({ authorization: relay.adminToken })],
        [
          'a well-formed token that was never issued',
          () => ({ authorization: `Bearer ${issueToken('management').token}` }),
        ],
        [
          'the admin token with one character changed',
          // A different last character (the token's own may be an `x` already).
          () => ({
            authorization: `Bearer ${relay.adminToken.slice(0, -1)}${relay.adminToken.endsWith('x') ? 'y' : 'x'}`,
          }),
        ],
        ['a proxy credential', () => ({ authorization: `Bearer ${credential.token}` })],
      ];
      for (const [label, headers] of refused) {
        it(`${label}: 401 "Invalid or missing API key"`, async () => {
          assertUnauthenticated(await get(headers()));
        });
      }

      it('authentication comes before the body is read: no token means 401 whatever the body', async () => {
        const path = '/api/v1/connections';
        assertUnauthenticated(await rawApi(relay, 'POST', path, {}));
        assertUnauthenticated(
          await rawApi(relay, 'POST', path, { 'content-type': 'application/json' }, '{}'),
        );
        assertUnauthenticated(
          await rawApi(relay, 'POST', path, { 'content-type': 'application/json' }, '{oops'),
        );
        assertUnauthenticated(await rawApi(relay, 'POST', path, { 'content-type': 'text/xml' }, '<x/>'));
        assertUnauthenticated(
          await rawApi(
            relay,
            'PATCH',
            `${path}/conn_hubspot`,
            { 'content-type': 'application/json' },
            '{"nope":1}',
          ),
        );
      });

      it('a revoked token is refused at once with the same 401', async () => {
        const created = await relay.api('POST', '/api/v1/tokens', { name: 'short-lived', role: 'admin' });
        assert.equal(created.status, 201);
        assert.equal(
          (await relay.api('GET', '/api/v1/connections', undefined, created.body.token)).status,
          200,
        );
        const revoked = await relay.api('POST', `/api/v1/tokens/${created.body.id}/revoke`);
        assert.equal(revoked.status, 200);
        assert.equal(revoked.body.status, 'revoked');
        const res = await relay.api('GET', '/api/v1/connections', undefined, created.body.token);
        assertUnauthenticated(res);
        const unknown = await relay.api(
          'GET',
          '/api/v1/connections',
          undefined,
          issueToken('management').token,
        );
        const strip = (b: Record<string, unknown>) => ({ ...b, request_id: undefined });
        assert.deepEqual(
          strip(res.body),
          strip(unknown.body),
          'a revoked token and an unknown one answer alike',
        );
      });

      it('an expired token answers 401 "API key expired"', async () => {
        const now = Date.now();
        const { token } = await insertManagementToken(
          store,
          { workspaceId: relay.workspaceId, actor: 'test', ip: null },
          now - 7_200_000,
          { name: 'expired', role: 'admin', expires_at: new Date(now - 3_600_000).toISOString() },
        );
        const res = await relay.api('GET', '/api/v1/connections', undefined, token);
        assertProblem(res, 401, 'token_expired');
        assert.equal(res.body.detail, 'API key expired');
        const viaHeader = await get({ 'x-api-key': token });
        assertProblem(viaHeader, 401, 'token_expired');
      });

      it('management tokens are shown once: never in the token list', async () => {
        const created = await relay.api('POST', '/api/v1/tokens', { name: 'listed', role: 'viewer' });
        assert.match(created.body.token, /^rk_mgmt_[0-9A-Za-z]{38}$/);
        assert.equal(created.body.token_prefix, created.body.token.slice(0, 'rk_mgmt_'.length + 8));
        const list = await relay.api('GET', '/api/v1/tokens?limit=200');
        const text = JSON.stringify(list.body);
        assert.ok(!text.includes(created.body.token));
        assert.ok(!text.includes(relay.adminToken));
        for (const t of list.body.data) assert.equal('token' in t, false);
      });

      it('an expires_at in the past for a new token is 400', async () => {
        const res = await relay.api('POST', '/api/v1/tokens', {
          name: 'late',
          role: 'admin',
          expires_at: '2020-01-01T00:00:00Z',
        });
        assertProblem(res, 400, 'invalid_expiry');
      });
    });

    describe('roles', async () => {
      const viewer = (await relay.api('POST', '/api/v1/tokens', { name: 'auditor', role: 'viewer' })).body
        .token;
      const provisioner = await relay.api('POST', '/api/v1/tokens', {
        name: 'ci provisioner',
        role: 'provisioner',
        bounds: {
          connections: ['conn_hubspot'],
          max_ttl_seconds: 3600,
          allowed_methods: ['GET'],
          allowed_paths: ['/crm/**'],
        },
      });

      it('a viewer reads', async () => {
        for (const path of [
          '/api/v1/connections',
          `/api/v1/connections/${connection.id}`,
          '/api/v1/recipients',
          `/api/v1/recipients/${recipient.id}`,
          '/api/v1/credentials',
          `/api/v1/credentials/${credential.id}`,
          '/api/v1/workspace',
        ]) {
          const res = await relay.api('GET', path, undefined, viewer);
          assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
        }
      });

      const mutations = (): ReadonlyArray<readonly [string, string, unknown]> => [
        [
          'POST',
          '/api/v1/connections',
          { name: 'x', base_url: 'https://a.example.com', auth: { type: 'bearer', secret: 'abcdefghijkl' } },
        ],
        ['PATCH', `/api/v1/connections/${connection.id}`, { name: 'renamed by viewer' }],
        ['PUT', `/api/v1/connections/${connection.id}/secret`, { secret: 'viewer-chosen-secret' }],
        ['DELETE', `/api/v1/connections/${connection.id}`, undefined],
        ['POST', '/api/v1/recipients', { name: 'x', kind: 'agent' }],
        ['POST', `/api/v1/recipients/${recipient.id}/revoke`, undefined],
        ['POST', '/api/v1/credentials', { name: 'x', grants: [grant('conn_hubspot')] }],
        [
          'POST',
          '/api/v1/delegated-credentials',
          {
            connection_id: 'conn_hubspot',
            name: 'x',
            allowed_methods: ['GET'],
            allowed_paths: ['/x'],
            ttl_seconds: 60,
          },
        ],
        ['POST', `/api/v1/credentials/${credential.id}/revoke`, undefined],
        ['POST', '/api/v1/tokens', { name: 'escalate', role: 'admin' }],
        ['POST', `/api/v1/tokens/${provisioner.body.id}/revoke`, undefined],
        ['PATCH', '/api/v1/workspace', { settings: { require_2fa: true } }],
      ];

      it('a viewer gets 403 forbidden on every mutation, and nothing changes', async () => {
        const before = await snapshot(relay);
        for (const [method, path, body] of mutations()) {
          const res = await relay.api(method, path, body, viewer);
          assertProblem(res, 403, 'forbidden');
        }
        assert.deepEqual(await snapshot(relay), before);
      });

      it('a viewer gets 403 before its body is validated', async () => {
        assertProblem(await relay.api('POST', '/api/v1/connections', {}, viewer), 403, 'forbidden');
        assertProblem(
          await relay.api('POST', '/api/v1/recipients', { bogus: true }, viewer),
          403,
          'forbidden',
        );
      });

      it('a provisioner is refused (403) everywhere but its own routes, reads included; there it stays in bounds', async () => {
        assert.equal(provisioner.status, 201, JSON.stringify(provisioner.body));
        const token = provisioner.body.token;
        for (const path of [
          '/api/v1/connections',
          `/api/v1/connections/${connection.id}`,
          '/api/v1/credentials',
        ]) {
          assertProblem(await relay.api('GET', path, undefined, token), 403, 'forbidden');
        }
        // The provisioner's own routes: these requests fall outside its bounds, or touch what it did not mint.
        const own: Record<string, readonly [number, string]> = {
          'POST /api/v1/credentials': [403, 'outside_bounds'], // no expiry
          'POST /api/v1/delegated-credentials': [403, 'outside_bounds'], // "/x" is not under "/crm/**"
          [`POST /api/v1/credentials/${credential.id}/revoke`]: [404, 'not_found'], // minted by the admin
        };
        const before = await snapshot(relay);
        for (const [method, path, body] of mutations()) {
          const [status, code] = own[`${method} ${path}`] ?? [403, 'forbidden'];
          assertProblem(await relay.api(method, path, body, token), status, code);
        }
        assert.deepEqual(await snapshot(relay), before);
      });

      it("a token's ip_allowlist is enforced: a caller outside it is refused, inside it is served", async () => {
        const outside = await relay.api('POST', '/api/v1/tokens', {
          name: 'office only',
          role: 'admin',
          ip_allowlist: ['203.0.113.0/24'],
        });
        assert.equal(outside.status, 201, JSON.stringify(outside.body));
        const refused = await relay.api('GET', '/api/v1/connections', undefined, outside.body.token);
        assert.equal(
          refused.status,
          403,
          `a token limited to 203.0.113.0/24 was served from 127.0.0.1: ${refused.status}`,
        );
        assert.ok(['ip_not_allowed', 'forbidden'].includes(refused.body.code), refused.body.code);
        const inside = await relay.api('POST', '/api/v1/tokens', {
          name: 'loopback',
          role: 'admin',
          ip_allowlist: ['127.0.0.0/8', '::1/128'],
        });
        assert.equal(
          (await relay.api('GET', '/api/v1/connections', undefined, inside.body.token)).status,
          200,
        );
      });

      it("a token's api_scope is enforced: methods and paths outside it are 403", async () => {
        const scoped = await relay.api('POST', '/api/v1/tokens', {
          name: 'connections reader',
          role: 'admin',
          api_scope: { methods: ['GET'], paths: ['/api/v1/connections', '/api/v1/connections/*'] },
        });
        assert.equal(scoped.status, 201, JSON.stringify(scoped.body));
        const token = scoped.body.token;
        assert.equal((await relay.api('GET', '/api/v1/connections', undefined, token)).status, 200);
        assert.equal(
          (await relay.api('GET', `/api/v1/connections/${connection.id}`, undefined, token)).status,
          200,
        );
        assertProblem(await relay.api('GET', '/api/v1/credentials', undefined, token), 403, 'forbidden');
        assertProblem(
          await relay.api('POST', '/api/v1/recipients', { name: 'x', kind: 'agent' }, token),
          403,
          'forbidden',
        );
      });

      it('a provisioner token needs bounds', async () => {
        assertProblem(
          await relay.api('POST', '/api/v1/tokens', { name: 'p', role: 'provisioner' }),
          400,
          'validation_failed',
        );
      });
    });
  });
}
