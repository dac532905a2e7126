import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isWellFormedToken } from '../../src/core/tokens.ts';
import { type ApiResponse, DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { assertProblem, createConnection, distinctSecret, grant, issueCredential } from './helpers.ts';
import { workspaceState } from './state.ts';

/**
 * SPEC §2, §5, seed 004: a provisioner mints credentials only inside the bounds
 * set on its token (connections, max TTL, methods, and paths checked as set
 * inclusion of globs), names no recipient, and can never read an upstream key,
 * list tokens, or widen anything.
 */

const BOUNDS = {
  connections: ['conn_hubspot'],
  max_ttl_seconds: 3600,
  allowed_methods: ['GET', 'HEAD'],
  allowed_paths: ['/v1/customers/**', '/crm/v3/objects/contacts/*'],
};

/** Seed 004's body, verbatim but for the connection id. */
const SEED_004 = {
  connection_id: 'conn_hubspot',
  name: 'agent-run-2026-05-01',
  allowed_methods: ['GET'],
  allowed_paths: ['/crm/v3/objects/contacts/*'],
  ttl_seconds: 900,
};

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const secrets = [distinctSecret('hubspot'), distinctSecret('other')];
    await createConnection(relay, { id: 'conn_hubspot', auth: { type: 'bearer', secret: secrets[0] } });
    await createConnection(relay, { id: 'conn_other', auth: { type: 'bearer', secret: secrets[1] } });
    const created = await relay.api('POST', '/api/v1/tokens', {
      name: 'ci provisioner',
      role: 'provisioner',
      bounds: BOUNDS,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const provisioner: { id: string; token: string } = created.body;
    /** Every answer the provisioner got: none may ever hold an upstream key. */
    const answers: ApiResponse[] = [];
    const asProvisioner = async (method: string, path: string, body?: unknown) => {
      const res = await relay.api(method, path, body, provisioner.token);
      answers.push(res);
      return res;
    };
    const delegated = (over: Record<string, unknown> = {}) =>
      asProvisioner('POST', '/api/v1/delegated-credentials', { ...SEED_004, ...over });

    it('mints with the seed 004 body: a standalone, expiring credential it is recorded as creating', async () => {
      const before = Date.now();
      const res = await delegated();
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.ok(isWellFormedToken(res.body.token, 'proxy'));
      assert.equal(res.body.recipient_id, null);
      assert.equal(res.body.created_by, provisioner.id);
      assert.deepEqual(res.body.grants, [
        {
          connection_id: 'conn_hubspot',
          allowed_methods: ['GET'],
          allowed_paths: ['/crm/v3/objects/contacts/*'],
          deny_query_params: [],
        },
      ]);
      const expires = Date.parse(res.body.expires_at);
      assert.ok(expires >= before + 899_000 && expires <= Date.now() + 901_000, res.body.expires_at);
      assert.equal(typeof res.body.agent_prompt, 'string');
      const audit = await relay.api('GET', '/api/v1/admin-audit?limit=200');
      const row = audit.body.data.find((r: { subject: string }) => r.subject === res.body.id);
      assert.equal(row?.action, 'credential.issue');
      assert.equal(row?.actor, provisioner.id);
    });

    it('mints through POST /api/v1/credentials too, within bounds', async () => {
      const res = await asProvisioner('POST', '/api/v1/credentials', {
        name: 'general route',
        grants: [
          grant('conn_hubspot', { allowed_methods: ['GET', 'HEAD'], allowed_paths: ['/v1/customers'] }),
        ],
        ttl_seconds: 600,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.created_by, provisioner.id);
    });

    // Set inclusion of globs: "/v1/customers/**" holds these, whatever their shape.
    for (const path of [
      '/v1/customers',
      '/v1/customers/',
      '/v1/customers/*',
      '/v1/customers/a/b',
      '/v1/customers/*/invoices/**',
      '/v1/customers/**',
    ]) {
      it(`paths covered by the bounds are minted: ${path}`, async () => {
        const res = await delegated({ allowed_paths: [path] });
        assert.equal(res.status, 201, JSON.stringify(res.body));
      });
    }

    it('a TTL exactly at max_ttl_seconds is within bounds', async () => {
      assert.equal((await delegated({ ttl_seconds: 3600 })).status, 201);
    });

    const outside: ReadonlyArray<readonly [string, () => Promise<ApiResponse>]> = [
      ['a connection outside the bounds', () => delegated({ connection_id: 'conn_other' })],
      ['a method outside the bounds', () => delegated({ allowed_methods: ['POST'] })],
      ['one method inside and one outside', () => delegated({ allowed_methods: ['GET', 'DELETE'] })],
      ['"/v1/**" (wider than the bound)', () => delegated({ allowed_paths: ['/v1/**'] })],
      [
        '"/v1/customersX/*" (a string prefix, not a sub-path)',
        () => delegated({ allowed_paths: ['/v1/customersX/*'] }),
      ],
      ['"/v1/*/customers"', () => delegated({ allowed_paths: ['/v1/*/customers'] })],
      ['"/**"', () => delegated({ allowed_paths: ['/**'] })],
      ['"/*/customers/**"', () => delegated({ allowed_paths: ['/*/customers/**'] })],
      [
        '"/crm/v3/objects/contacts/**" (the bound has "*")',
        () => delegated({ allowed_paths: ['/crm/v3/objects/contacts/**'] }),
      ],
      [
        'one path inside and one outside',
        () => delegated({ allowed_paths: ['/v1/customers/*', '/v2/customers'] }),
      ],
      ['a TTL above max_ttl_seconds', () => delegated({ ttl_seconds: 3601 })],
      [
        'an expires_at beyond max_ttl_seconds',
        () =>
          asProvisioner('POST', '/api/v1/credentials', {
            name: 'late',
            grants: [grant('conn_hubspot', { allowed_paths: ['/v1/customers'] })],
            expires_at: new Date(Date.now() + 7_200_000).toISOString(),
          }),
      ],
      [
        'no expiry at all',
        () =>
          asProvisioner('POST', '/api/v1/credentials', {
            name: 'forever',
            grants: [grant('conn_hubspot', { allowed_paths: ['/v1/customers'] })],
          }),
      ],
      [
        'no expiry at all, risks acknowledged',
        () =>
          asProvisioner('POST', '/api/v1/credentials', {
            name: 'forever',
            grants: [grant('conn_hubspot', { allowed_paths: ['/v1/customers'] })],
            acknowledge_risks: true,
          }),
      ],
      [
        'a recipient_id',
        () =>
          asProvisioner('POST', '/api/v1/credentials', {
            name: 'for someone',
            recipient_id: 'rcp_anyone',
            grants: [grant('conn_hubspot', { allowed_paths: ['/v1/customers'] })],
            ttl_seconds: 600,
          }),
      ],
      [
        'a second grant on a connection outside the bounds',
        () =>
          asProvisioner('POST', '/api/v1/credentials', {
            name: 'two',
            grants: [
              grant('conn_hubspot', { allowed_paths: ['/v1/customers'] }),
              grant('conn_other', { allowed_paths: ['/v1/customers'] }),
            ],
            ttl_seconds: 600,
          }),
      ],
    ];
    for (const [label, send] of outside) {
      it(`${label}: 403 outside_bounds, and nothing changes`, async () => {
        const before = await workspaceState(relay);
        assertProblem(await send(), 403, 'outside_bounds');
        assert.deepEqual(await workspaceState(relay), before);
      });
    }

    it('an invalid glob is 400 invalid_scope, not a bounds question', async () => {
      const before = await workspaceState(relay);
      assertProblem(await delegated({ allowed_paths: ['/v1/customers*'] }), 400, 'invalid_scope');
      assertProblem(await delegated({ allowed_paths: ['/v1/customers/../admin'] }), 400, 'invalid_scope');
      assertProblem(await delegated({ ttl_seconds: undefined }), 400, 'validation_failed');
      assert.deepEqual(await workspaceState(relay), before);
    });

    it('revokes what it minted; another caller’s credential is 404 to it and stays active', async () => {
      const mine = await delegated();
      assert.equal(mine.status, 201);
      const revoked = await asProvisioner('POST', `/api/v1/credentials/${mine.body.id}/revoke`);
      assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
      assert.equal(revoked.body.status, 'revoked');
      const theirs = await issueCredential(relay, {
        grants: [grant('conn_hubspot', { allowed_paths: ['/v1/customers'] })],
        ttl_seconds: 600,
      });
      const before = await workspaceState(relay);
      assertProblem(await asProvisioner('POST', `/api/v1/credentials/${theirs.id}/revoke`), 404, 'not_found');
      assertProblem(await asProvisioner('POST', '/api/v1/credentials/cred_nothere/revoke'), 404, 'not_found');
      assert.deepEqual(await workspaceState(relay), before);
      assert.equal((await relay.api('GET', `/api/v1/credentials/${theirs.id}`)).body.status, 'active');
    });

    it('another provisioner cannot revoke what this one minted', async () => {
      const other = await relay.api('POST', '/api/v1/tokens', {
        name: 'second provisioner',
        role: 'provisioner',
        bounds: BOUNDS,
      });
      const mine = await delegated();
      assertProblem(
        await relay.api('POST', `/api/v1/credentials/${mine.body.id}/revoke`, undefined, other.body.token),
        404,
        'not_found',
      );
      assert.equal((await relay.api('GET', `/api/v1/credentials/${mine.body.id}`)).body.status, 'active');
    });

    it('cannot list tokens, read connections or credentials, create tokens, or widen its own bounds', async () => {
      const before = await workspaceState(relay);
      for (const path of [
        '/api/v1/tokens',
        '/api/v1/auth/api-keys',
        '/api/v1/connections',
        '/api/v1/connections/conn_hubspot',
        '/api/v1/credentials',
        '/api/v1/admin-audit',
      ]) {
        assertProblem(await asProvisioner('GET', path), 403, 'forbidden');
      }
      assertProblem(
        await asProvisioner('POST', '/api/v1/tokens', {
          name: 'wider',
          role: 'provisioner',
          bounds: { ...BOUNDS, connections: ['conn_hubspot', 'conn_other'], allowed_paths: ['/**'] },
        }),
        403,
        'forbidden',
      );
      assertProblem(
        await asProvisioner('POST', '/api/v1/tokens', { name: 'up', role: 'admin' }),
        403,
        'forbidden',
      );
      assertProblem(await asProvisioner('POST', '/api/v1/auth/api-keys', { name: 'up' }), 403, 'forbidden');
      assertProblem(await asProvisioner('POST', `/api/v1/tokens/${provisioner.id}/rotate`), 403, 'forbidden');
      assertProblem(
        await asProvisioner('PUT', '/api/v1/connections/conn_hubspot/secret', { secret: 'mine-now-0000' }),
        403,
        'forbidden',
      );
      // There is no route to change a token: bounds are fixed at creation.
      const patch = await asProvisioner('PATCH', `/api/v1/tokens/${provisioner.id}`, { bounds: BOUNDS });
      assert.ok(patch.status === 403 || patch.status === 404, `${patch.status}`);
      assert.deepEqual(await workspaceState(relay), before);
      const listed = await relay.api('GET', '/api/v1/tokens?limit=200');
      const self = listed.body.data.find((t: { id: string }) => t.id === provisioner.id);
      assert.deepEqual(self.bounds, BOUNDS);
    });

    it('no answer it ever got contains an upstream key', () => {
      assert.ok(answers.length > 20);
      for (const res of answers) {
        const text = JSON.stringify(res.body ?? '');
        for (const secret of secrets) assert.ok(!text.includes(secret), text);
      }
    });
  });
}
