import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { issueToken } from '../../src/core/tokens.ts';
import { insertManagementToken } from '../../src/services/management-tokens.ts';
import { type ApiResponse, DIALECTS, skipFor, startTestRelay, type TestRelay } from '../harness.ts';
import { leakReportSigner } from '../security/helpers.ts';
import {
  connectionBody,
  createConnection,
  createRecipient,
  distinctSecret,
  grant,
  issueCredential,
  rawApi,
} from './helpers.ts';
import { workspaceState } from './state.ts';

/**
 * The authorization cases every management route shares (as Unkey's
 * `runCommonRouteTests`): each route of the OpenAPI document, run against every
 * kind of caller. A route added without a row in ROUTES fails this suite, and so
 * does a route whose `x-relay-access` changes without the table changing with it.
 */

type Access = 'public' | 'read' | 'admin' | 'provision';
type Expectation = 'allowed' | readonly [status: number, code: string];

interface Fixtures {
  readonly relay: TestRelay;
  readonly connectionId: string;
  readonly recipientId: string;
  readonly credentialId: string;
  readonly provisionerToken: string;
}

interface Prepared {
  readonly path: string;
  readonly body?: unknown;
  /** Headers the route itself needs (a leak report's signature), sent with the caller's. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Leak reports authenticate by signature: the matrix Relay trusts this test key. */
const leakSigner = leakReportSigner();

interface RouteCase {
  readonly access: Access;
  /** The route's first tag: the resource an API key's scopes name. */
  readonly resource: string;
  /** Builds one concrete request, creating (as admin) whatever throwaway object it acts on. */
  readonly prepare: (f: Fixtures, caller: Caller) => Promise<Prepared>;
}

/**
 * A network-pinned admin reaches every route, but cannot mint or rotate a token
 * that is not pinned as tightly (no escalation): the matrix bodies ask for
 * unpinned tokens, so those three answers are 403.
 */
const MINTS_TOKENS = new Set([
  'POST /api/v1/tokens',
  'POST /api/v1/tokens/{id}/rotate',
  'POST /api/v1/auth/api-keys',
]);
function pinnedCaller(_route: RouteCase, method: string, path: string): Expectation {
  return MINTS_TOKENS.has(`${method} ${path}`) ? [403, 'forbidden'] : 'allowed';
}

interface Caller {
  readonly label: string;
  readonly headers: Record<string, string>;
  readonly expect: (route: RouteCase, method: string, path: string) => Expectation;
}

const admin = async (f: Fixtures, method: string, path: string, body?: unknown): Promise<ApiResponse> => {
  const res = await f.relay.api(method, path, body);
  assert.ok(res.status < 300, `setup ${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res;
};
const throwawayConnection = async (f: Fixtures) => (await createConnection(f.relay)).id;
const throwawayToken = async (f: Fixtures) =>
  (await admin(f, 'POST', '/api/v1/tokens', { name: 'throwaway', role: 'viewer' })).body.id as string;
/** Within the provisioner's bounds, so that the same body is valid for every caller allowed to send it. */
const boundedCredential = (f: Fixtures) => ({
  name: 'matrix',
  grants: [grant(f.connectionId, { allowed_paths: ['/crm/v3/objects/contacts/*'] })],
  ttl_seconds: 900,
});
const seed004 = (f: Fixtures) => ({
  connection_id: f.connectionId,
  name: 'agent-run-2026-05-01',
  allowed_methods: ['GET'],
  allowed_paths: ['/crm/v3/objects/contacts/*'],
  ttl_seconds: 900,
});

const ROUTES: Readonly<Record<string, RouteCase>> = {
  'POST /api/v1/connections': {
    access: 'admin',
    resource: 'connections',
    prepare: async () => ({ path: '/api/v1/connections', body: connectionBody({ name: 'matrix' }) }),
  },
  'GET /api/v1/connections': {
    access: 'read',
    resource: 'connections',
    prepare: async () => ({ path: '/api/v1/connections' }),
  },
  'GET /api/v1/connections/{id}': {
    access: 'read',
    resource: 'connections',
    prepare: async (f) => ({ path: `/api/v1/connections/${f.connectionId}` }),
  },
  'PATCH /api/v1/connections/{id}': {
    access: 'admin',
    resource: 'connections',
    prepare: async (f) => ({
      path: `/api/v1/connections/${await throwawayConnection(f)}`,
      body: { name: 'x' },
    }),
  },
  'DELETE /api/v1/connections/{id}': {
    access: 'admin',
    resource: 'connections',
    prepare: async (f) => ({ path: `/api/v1/connections/${await throwawayConnection(f)}` }),
  },
  'PUT /api/v1/connections/{id}/secret': {
    access: 'admin',
    resource: 'connections',
    prepare: async (f) => ({
      path: `/api/v1/connections/${await throwawayConnection(f)}/secret`,
      body: { secret: distinctSecret('replaced') },
    }),
  },
  'POST /api/v1/recipients': {
    access: 'admin',
    resource: 'recipients',
    prepare: async () => ({ path: '/api/v1/recipients', body: { name: 'matrix', kind: 'agent' } }),
  },
  'GET /api/v1/recipients': {
    access: 'read',
    resource: 'recipients',
    prepare: async () => ({ path: '/api/v1/recipients' }),
  },
  'GET /api/v1/recipients/{id}': {
    access: 'read',
    resource: 'recipients',
    prepare: async (f) => ({ path: `/api/v1/recipients/${f.recipientId}` }),
  },
  'POST /api/v1/recipients/{id}/revoke': {
    access: 'admin',
    resource: 'recipients',
    prepare: async (f) => ({ path: `/api/v1/recipients/${(await createRecipient(f.relay)).id}/revoke` }),
  },
  'POST /api/v1/credentials': {
    access: 'provision',
    resource: 'credentials',
    prepare: async (f) => ({ path: '/api/v1/credentials', body: boundedCredential(f) }),
  },
  'GET /api/v1/credentials': {
    access: 'read',
    resource: 'credentials',
    prepare: async () => ({ path: '/api/v1/credentials' }),
  },
  'POST /api/v1/delegated-credentials': {
    access: 'provision',
    resource: 'credentials',
    prepare: async (f) => ({ path: '/api/v1/delegated-credentials', body: seed004(f) }),
  },
  'GET /api/v1/credentials/{id}': {
    access: 'read',
    resource: 'credentials',
    prepare: async (f) => ({ path: `/api/v1/credentials/${f.credentialId}` }),
  },
  'POST /api/v1/credentials/{id}/revoke': {
    access: 'provision',
    resource: 'credentials',
    prepare: async (f, caller) => {
      // A provisioner may revoke only what it minted: give it one of its own.
      const minter = caller.label === 'provisioner' ? f.provisionerToken : f.relay.adminToken;
      const res = await f.relay.api('POST', '/api/v1/delegated-credentials', seed004(f), minter);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return { path: `/api/v1/credentials/${res.body.id}/revoke` };
    },
  },
  'POST /api/v1/tokens': {
    access: 'admin',
    resource: 'tokens',
    prepare: async () => ({ path: '/api/v1/tokens', body: { name: 'matrix', role: 'viewer' } }),
  },
  'GET /api/v1/tokens': {
    access: 'admin',
    resource: 'tokens',
    prepare: async () => ({ path: '/api/v1/tokens' }),
  },
  'POST /api/v1/tokens/{id}/revoke': {
    access: 'admin',
    resource: 'tokens',
    prepare: async (f) => ({ path: `/api/v1/tokens/${await throwawayToken(f)}/revoke` }),
  },
  'POST /api/v1/tokens/{id}/rotate': {
    access: 'admin',
    resource: 'tokens',
    prepare: async (f) => ({
      path: `/api/v1/tokens/${await throwawayToken(f)}/rotate`,
      body: { grace_period_seconds: 0 },
    }),
  },
  'POST /api/v1/auth/api-keys': {
    access: 'admin',
    resource: 'tokens',
    prepare: async () => ({ path: '/api/v1/auth/api-keys', body: { name: 'matrix' } }),
  },
  'GET /api/v1/auth/api-keys': {
    access: 'admin',
    resource: 'tokens',
    prepare: async () => ({ path: '/api/v1/auth/api-keys' }),
  },
  'DELETE /api/v1/auth/api-keys/{id}': {
    access: 'admin',
    resource: 'tokens',
    prepare: async (f) => {
      const key = await admin(f, 'POST', '/api/v1/auth/api-keys', { name: 'throwaway' });
      return { path: `/api/v1/auth/api-keys/${key.body.id}` };
    },
  },
  'GET /api/v1/workspace': {
    access: 'read',
    resource: 'workspace',
    prepare: async () => ({ path: '/api/v1/workspace' }),
  },
  'PATCH /api/v1/workspace': {
    access: 'admin',
    resource: 'workspace',
    prepare: async () => ({ path: '/api/v1/workspace', body: { settings: { audit_retention_days: 30 } } }),
  },
  'GET /api/v1/admin-audit': {
    access: 'admin',
    resource: 'audit',
    prepare: async () => ({ path: '/api/v1/admin-audit' }),
  },
  'GET /api/v1/audit': {
    access: 'read',
    resource: 'audit',
    prepare: async () => ({ path: '/api/v1/audit' }),
  },
  'GET /api/v1/presets': {
    access: 'read',
    resource: 'connections',
    prepare: async () => ({ path: '/api/v1/presets' }),
  },
  'GET /api/v1/recipients/{id}/trusted-ips': {
    access: 'read',
    resource: 'recipients',
    prepare: async (f) => ({ path: `/api/v1/recipients/${f.recipientId}/trusted-ips` }),
  },
  'DELETE /api/v1/recipients/{id}/trusted-ips/{ip}': {
    access: 'admin',
    resource: 'recipients',
    prepare: async (f) => {
      const recipient = await createRecipient(f.relay);
      await f.relay.running.relay.store.trustedIps.add({
        workspaceId: f.relay.workspaceId,
        recipientId: recipient.id,
        ipGroup: '203.0.113.9',
        firstIp: '203.0.113.9',
        source: 'confirmed',
        createdAt: new Date().toISOString(),
      });
      return { path: `/api/v1/recipients/${recipient.id}/trusted-ips/203.0.113.9` };
    },
  },
  'GET /api/v1/outbox': {
    access: 'admin',
    resource: 'outbox',
    prepare: async () => ({ path: '/api/v1/outbox' }),
  },
  'GET /api/v1/audit/export': {
    access: 'read',
    resource: 'audit',
    prepare: async () => ({ path: '/api/v1/audit/export?format=csv' }),
  },
  'GET /api/v1/audit/stream': {
    access: 'read',
    resource: 'audit',
    prepare: async () => ({ path: '/api/v1/audit/stream' }),
  },
  'GET /api/v1/openapi.json': {
    access: 'public',
    resource: 'meta',
    prepare: async () => ({ path: '/api/v1/openapi.json' }),
  },
  'GET /api/v1/security-events': {
    access: 'read',
    resource: 'security',
    prepare: async () => ({ path: '/api/v1/security-events' }),
  },
  'POST /api/v1/security-events/{id}/resolve': {
    access: 'admin',
    resource: 'security',
    prepare: async (f) => {
      const event = await f.relay.running.relay.securityEvents.raise({
        workspaceId: f.relay.workspaceId,
        kind: 'matrix',
        severity: 'low',
        subject: 'matrix',
      });
      return { path: `/api/v1/security-events/${event?.id}/resolve` };
    },
  },
  'POST /api/v1/workspace/lockdown/lift': {
    access: 'admin',
    resource: 'workspace',
    prepare: async () => ({ path: '/api/v1/workspace/lockdown/lift' }),
  },
  'PUT /api/v1/workspace/security-webhook': {
    access: 'admin',
    resource: 'workspace',
    prepare: async () => ({
      path: '/api/v1/workspace/security-webhook',
      body: { url: 'https://hooks.example.com/relay' },
    }),
  },
  'DELETE /api/v1/workspace/security-webhook': {
    access: 'admin',
    resource: 'workspace',
    prepare: async () => ({ path: '/api/v1/workspace/security-webhook' }),
  },
  'POST /api/v1/leak-reports/github': {
    access: 'public',
    resource: 'leak-reports',
    prepare: async () => {
      const body = [
        {
          token: issueToken('proxy').token,
          type: 'relay_proxy_token',
          url: 'https://github.com/x',
          source: 'content',
        },
      ];
      return {
        path: '/api/v1/leak-reports/github',
        body,
        headers: leakSigner.headers(JSON.stringify(body)),
      };
    },
  },
};

const READS = new Set(['GET', 'HEAD']);
const UNAUTHENTICATED = [401, 'unauthenticated'] as const;
const FORBIDDEN = [403, 'forbidden'] as const;

/** Public routes answer everyone; everything else is up to `rule`. */
const unlessPublic =
  (rule: (route: RouteCase, method: string, path: string) => Expectation) =>
  (route: RouteCase, method: string, path: string): Expectation =>
    route.access === 'public' ? 'allowed' : rule(route, method, path);

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface DocOperation {
  readonly key: string;
  readonly method: string;
  readonly path: string;
  readonly access: string;
  readonly tags: readonly string[];
}

async function documentedOperations(relay: TestRelay): Promise<DocOperation[]> {
  const res = await rawApi(relay, 'GET', '/api/v1/openapi.json', {});
  assert.equal(res.status, 200);
  const paths = res.body.paths as Record<
    string,
    Record<string, { 'x-relay-access': string; tags?: string[] }>
  >;
  return Object.entries(paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([m, op]) => ({
      key: `${m.toUpperCase()} ${path}`,
      method: m.toUpperCase(),
      path,
      access: op['x-relay-access'],
      tags: op.tags ?? [],
    })),
  );
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect, {
      RELAY_LEAK_REPORT_KEYS_FILE: leakSigner.keysFile,
      // Every route is called with bad tokens on purpose; the brute-force throttle has its own suite.
      RELAY_BRUTE_FORCE_MAX_FAILURES: '100000',
    });
    const { store } = relay.running.relay;
    const upstreamSecret = distinctSecret('matrix-upstream');
    const connection = await createConnection(relay, {
      id: 'conn_hubspot',
      auth: { type: 'bearer', secret: upstreamSecret },
    });
    const recipient = await createRecipient(relay, { name: 'svc', kind: 'service' });
    const credential = await issueCredential(relay, {
      recipient_id: recipient.id,
      grants: [grant(connection.id)],
      ttl_seconds: 3600,
    });
    const token = async (body: Record<string, unknown>): Promise<string> => {
      const res = await relay.api('POST', '/api/v1/tokens', { name: 'caller', role: 'admin', ...body });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.token;
    };
    const apiKey = async (scopes: string[]): Promise<string> => {
      const res = await relay.api('POST', '/api/v1/auth/api-keys', {
        name: `key ${scopes.join(' ')}`,
        scopes,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.key;
    };
    const provisionerToken = await token({
      name: 'provisioner',
      role: 'provisioner',
      bounds: {
        connections: [connection.id],
        max_ttl_seconds: 3600,
        allowed_methods: ['GET'],
        allowed_paths: ['/crm/**'],
      },
    });
    const revoked = await relay.api('POST', '/api/v1/tokens', { name: 'revoked', role: 'admin' });
    assert.equal((await relay.api('POST', `/api/v1/tokens/${revoked.body.id}/revoke`)).status, 200);
    const now = Date.now();
    const { token: expired } = await insertManagementToken(
      store,
      { workspaceId: relay.workspaceId, actor: 'test', ip: null },
      now - 7_200_000,
      { name: 'expired', role: 'admin', expires_at: new Date(now - 3_600_000).toISOString() },
    );
    const fixtures: Fixtures = {
      relay,
      connectionId: connection.id,
      recipientId: recipient.id,
      credentialId: credential.id,
      provisionerToken,
    };

    const callers: Caller[] = [
      { label: 'no token', headers: {}, expect: unlessPublic(() => UNAUTHENTICATED) },
      { label: 'a garbage token', headers: bearer('nope'), expect: unlessPublic(() => UNAUTHENTICATED) },
      {
        label: 'a well-formed token never issued',
        headers: { 'x-api-key': issueToken('management').token },
        expect: unlessPublic(() => UNAUTHENTICATED),
      },
      {
        label: 'a revoked token',
        headers: bearer(revoked.body.token),
        expect: unlessPublic(() => UNAUTHENTICATED),
      },
      {
        label: 'an expired token',
        headers: bearer(expired),
        expect: unlessPublic(() => [401, 'token_expired']),
      },
      { label: 'admin', headers: bearer(relay.adminToken), expect: () => 'allowed' },
      {
        label: 'viewer',
        headers: bearer(await token({ role: 'viewer' })),
        expect: unlessPublic((route, method) =>
          route.access === 'read' && READS.has(method) ? 'allowed' : FORBIDDEN,
        ),
      },
      {
        label: 'provisioner',
        headers: bearer(provisionerToken),
        expect: unlessPublic((route) => (route.access === 'provision' ? 'allowed' : FORBIDDEN)),
      },
      {
        label: 'api_scope GET /api/v1/connections/**',
        headers: bearer(
          await token({
            api_scope: { methods: ['GET'], paths: ['/api/v1/connections/**', '/api/v1/connections'] },
          }),
        ),
        expect: unlessPublic((_route, method, path) =>
          method === 'GET' && (path === '/api/v1/connections' || path.startsWith('/api/v1/connections/'))
            ? 'allowed'
            : FORBIDDEN,
        ),
      },
      {
        label: 'ip_allowlist 203.0.113.0/24 (called from 127.0.0.1)',
        headers: bearer(await token({ ip_allowlist: ['203.0.113.0/24'] })),
        expect: unlessPublic(() => [403, 'ip_not_allowed']),
      },
      {
        // Relay listens directly: a client-supplied X-Forwarded-For must not be believed.
        label: 'ip_allowlist 203.0.113.0/24 with a forged X-Forwarded-For',
        headers: {
          ...bearer(await token({ ip_allowlist: ['203.0.113.0/24'] })),
          'x-forwarded-for': '203.0.113.7',
          'x-real-ip': '203.0.113.7',
        },
        expect: unlessPublic(() => [403, 'ip_not_allowed']),
      },
      {
        label: 'ip_allowlist 127.0.0.1/32',
        headers: bearer(await token({ ip_allowlist: ['127.0.0.1/32'] })),
        expect: pinnedCaller,
      },
      {
        label: 'ip_allowlist ::1/128 and 127.0.0.1/32',
        headers: bearer(await token({ ip_allowlist: ['::1/128', '127.0.0.1/32'] })),
        expect: pinnedCaller,
      },
      {
        label: "API key ['connections:read'] (X-API-Key)",
        headers: { 'x-api-key': await apiKey(['connections:read']) },
        expect: unlessPublic((route, method) =>
          route.resource === 'connections' && READS.has(method) ? 'allowed' : FORBIDDEN,
        ),
      },
      {
        label: "API key ['credentials:*']",
        headers: { 'x-api-key': await apiKey(['credentials:*']) },
        expect: unlessPublic((route) => (route.resource === 'credentials' ? 'allowed' : FORBIDDEN)),
      },
      {
        label: "API key ['recipients:write'] (Bearer)",
        headers: bearer(await apiKey(['recipients:write'])),
        expect: unlessPublic((route, method) =>
          route.resource === 'recipients' && !READS.has(method) ? 'allowed' : FORBIDDEN,
        ),
      },
      {
        label: 'API key [] (full access)',
        headers: { 'x-api-key': await apiKey([]) },
        expect: () => 'allowed',
      },
    ];

    const operations = await documentedOperations(relay);
    /** Every answer this suite saw: no route may ever return the upstream key. */
    const seen: string[] = [];

    it('the table covers exactly the documented routes, with the access each declares', () => {
      assert.ok(operations.length >= 28, `only ${operations.length} documented operations`);
      const missing = operations.filter((o) => ROUTES[o.key] === undefined).map((o) => o.key);
      assert.deepEqual(missing, [], `add these routes to the authorization matrix: ${missing.join(', ')}`);
      const documented = new Set(operations.map((o) => o.key));
      const stale = Object.keys(ROUTES).filter((k) => !documented.has(k));
      assert.deepEqual(stale, [], `these routes are no longer documented: ${stale.join(', ')}`);
      for (const o of operations) {
        const route = ROUTES[o.key];
        assert.equal(o.access, route?.access, `${o.key}: x-relay-access ${o.access}`);
        assert.equal(o.tags[0], route?.resource, `${o.key}: first tag ${o.tags[0]}`);
      }
    });

    for (const caller of callers) {
      it(`${caller.label}: every route answers as its access rule says, and a refusal changes nothing`, async () => {
        const cases: Array<{ key: string; method: string; prepared: Prepared; expected: Expectation }> = [];
        for (const o of operations) {
          const route = ROUTES[o.key];
          assert.ok(route, `${o.key} is not in the authorization matrix`);
          const expected = caller.expect(route, o.method, o.path);
          cases.push({
            key: o.key,
            method: o.method,
            prepared: await route.prepare(fixtures, caller),
            expected,
          });
        }
        const send = async (method: string, prepared: Prepared) => {
          const headers: Record<string, string> = { ...caller.headers, ...prepared.headers };
          if (prepared.body !== undefined) headers['content-type'] = 'application/json';
          const body = prepared.body === undefined ? undefined : JSON.stringify(prepared.body);
          const res = await rawApi(relay, method, prepared.path, headers, body);
          seen.push(JSON.stringify(res.body ?? ''));
          return res;
        };
        const wrong: string[] = [];
        const before = await workspaceState(relay);
        for (const { key, method, prepared, expected } of cases) {
          if (expected === 'allowed') continue;
          const res = await send(method, prepared);
          const [status, code] = expected;
          if (res.status !== status || res.body?.code !== code) {
            wrong.push(`${key}: want ${status} ${code}, got ${res.status} ${JSON.stringify(res.body)}`);
          } else if (status === 401) {
            const detail = code === 'token_expired' ? 'API key expired' : 'Invalid or missing API key';
            if (res.body.detail !== detail) wrong.push(`${key}: 401 detail ${res.body.detail}`);
          }
        }
        assert.deepEqual(
          await workspaceState(relay),
          before,
          `${caller.label}: a refused request changed something`,
        );
        for (const { key, method, prepared, expected } of cases) {
          if (expected !== 'allowed') continue;
          const res = await send(method, prepared);
          if (res.status >= 300)
            wrong.push(`${key}: want 2xx, got ${res.status} ${JSON.stringify(res.body)}`);
        }
        assert.deepEqual(wrong, [], `${caller.label}:\n${wrong.join('\n')}`);
      });
    }

    it('no answer to any caller ever contained the upstream key', () => {
      assert.ok(seen.length > 100);
      for (const body of seen) assert.ok(!body.includes(upstreamSecret), body);
    });
  });

  describe(`${dialect}: a token's IPv6 allowlist`, { skip: skipFor(dialect) }, async () => {
    // Listening on :: so the same API is reached over ::1 and over 127.0.0.1 (seen as ::ffff:127.0.0.1).
    const relay = await startTestRelay(dialect, {
      RELAY_API_HOST: '::',
      RELAY_BRUTE_FORCE_MAX_FAILURES: '100000',
    });
    const port = relay.running.ports.api;
    const v6 = `http://[::1]:${port}`;
    const v4 = `http://127.0.0.1:${port}`;
    const token = async (ip_allowlist: string[]): Promise<string> => {
      const res = await relay.api('POST', '/api/v1/tokens', { name: 'ip', role: 'admin', ip_allowlist });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.token;
    };
    const status = async (base: string, t: string) =>
      (await fetch(`${base}/api/v1/connections`, { headers: { authorization: `Bearer ${t}` } })).status;

    it('::1/128 admits ::1 and nothing else; 127.0.0.1/32 admits the IPv4-mapped loopback', async () => {
      const loop6 = await token(['::1/128']);
      assert.equal(await status(v6, loop6), 200);
      assert.equal(await status(v4, loop6), 403);
      const loop4 = await token(['127.0.0.1/32']);
      assert.equal(await status(v4, loop4), 200);
      assert.equal(await status(v6, loop4), 403);
      const other6 = await token(['2001:db8::/32']);
      assert.equal(await status(v6, other6), 403);
      assert.equal(await status(v4, other6), 403);
    });
  });
}
