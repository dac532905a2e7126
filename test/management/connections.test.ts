import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import {
  type AuthCase,
  assertProblem,
  authCases,
  connectionBody,
  createConnection,
  distinctSecret,
  grant,
  issueCredential,
} from './helpers.ts';

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const { store, services } = relay.running.relay;
    const ws = relay.workspaceId;
    /** Every secret this suite ever sent, and every response body it received. */
    const secrets: string[] = [];
    const bodies: string[] = [];
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await relay.api(method, path, body);
      bodies.push(typeof res.body === 'string' ? res.body : JSON.stringify(res.body ?? ''));
      return res;
    };
    const post = async (over: Record<string, unknown>) => {
      const body = connectionBody(over);
      secrets.push((body.auth as { secret: string }).secret);
      return api('POST', '/api/v1/connections', body);
    };
    const reveal = async (id: string) => {
      const connection = await store.connections.get(ws, id);
      assert.ok(connection, `${id} is stored`);
      return services.connections.revealSecret(connection);
    };

    it('creates a connection with a readable id such as conn_hubspot', async () => {
      const res = await post({ id: 'conn_hubspot', name: 'HubSpot', base_url: 'https://api.hubapi.com/' });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.id, 'conn_hubspot');
      assert.equal(res.body.name, 'HubSpot');
      assert.equal(res.body.base_url, 'https://api.hubapi.com');
      assert.deepEqual(res.body.options, {
        log_query_strings: false,
        secret_scanning: 'off',
        allow_insecure_upstream: false,
      });
      const got = await api('GET', '/api/v1/connections/conn_hubspot');
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, res.body);
    });

    it('a second connection with the same id is 409 conflict and the first is unchanged', async () => {
      const before = await api('GET', '/api/v1/connections/conn_hubspot');
      const res = await post({ id: 'conn_hubspot', name: 'Impostor', base_url: 'https://evil.example.com' });
      assertProblem(res, 409, 'conflict');
      const after = await api('GET', '/api/v1/connections/conn_hubspot');
      assert.deepEqual(after.body, before.body);
      assert.equal(await reveal('conn_hubspot'), secrets[0]);
    });

    it('without an id, one is generated: conn_ and 20 base62 characters', async () => {
      const res = await post({});
      assert.equal(res.status, 201);
      assert.match(res.body.id, /^conn_[0-9A-Za-z]{20}$/);
    });

    for (const id of ['conn_', 'conn_Hub', 'hubspot', 'conn_a b', 'conn_../x', `conn_${'a'.repeat(80)}`]) {
      it(`refuses the id ${JSON.stringify(id)} with 400`, async () => {
        assertProblem(await post({ id }), 400, 'validation_failed');
        assert.equal((await api('GET', `/api/v1/connections/${encodeURIComponent(id)}`)).status, 404);
      });
    }

    const cases: AuthCase[] = authCases();
    for (const c of cases) {
      it(`${c.type}: stored with its settings, shown with secret_last4 and never the secret`, async () => {
        secrets.push(c.secret);
        const res = await api('POST', '/api/v1/connections', {
          name: c.type,
          base_url: 'https://api.example.com/v1',
          auth: c.auth,
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.deepEqual(res.body.auth, c.shown);
        assert.equal(res.body.secret_last4, c.secret.slice(-4));
        assert.equal('secret' in res.body, false);
        assert.equal('secret' in res.body.auth, false);
        const got = await api('GET', `/api/v1/connections/${res.body.id}`);
        assert.deepEqual(got.body, res.body);
        assert.equal(await reveal(res.body.id), c.secret);
        const stored = await store.connections.get(ws, res.body.id);
        assert.equal(stored?.authType, c.type);
        assert.ok(
          !JSON.stringify(stored).includes(c.secret),
          'the stored record holds the secret sealed only',
        );
      });
    }

    it('a short secret shows no last four characters at all', async () => {
      const res = await post({ auth: { type: 'bearer', secret: 'abc12345' } });
      assert.equal(res.status, 201);
      assert.equal(res.body.secret_last4, '');
    });

    for (const [label, auth] of [
      ['header without header_name', { type: 'header', secret: 'x'.repeat(20) }],
      ['query without query_param', { type: 'query', secret: 'x'.repeat(20) }],
      [
        'oauth2 without token_url',
        { type: 'oauth2_client_credentials', secret: 'x'.repeat(20), client_id: 'c' },
      ],
      [
        'oauth2 without client_id',
        { type: 'oauth2_client_credentials', secret: 'x'.repeat(20), token_url: 'https://a.example.com/t' },
      ],
      ['a header Relay owns', { type: 'header', secret: 'x'.repeat(20), header_name: 'Host' }],
      ['a header name that is not a token', { type: 'header', secret: 'x'.repeat(20), header_name: 'x key' }],
      ['a blank secret', { type: 'bearer', secret: '   ' }],
    ] as const) {
      it(`refuses auth with ${label}: 400 invalid_auth_config`, async () => {
        assertProblem(await post({ auth: auth }), 400, 'invalid_auth_config');
      });
    }

    it('lists connections in pages', async () => {
      const all = await api('GET', '/api/v1/connections?limit=200');
      assert.equal(all.status, 200);
      assert.equal(all.body.next_cursor, null);
      const total = all.body.data.length;
      assert.ok(total >= 8);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await api(
          'GET',
          `/api/v1/connections?limit=3${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
        );
        assert.equal(page.status, 200);
        assert.ok(page.body.data.length <= 3);
        seen.push(...page.body.data.map((c: { id: string }) => c.id));
        cursor = page.body.next_cursor;
      } while (cursor !== null);
      assert.deepEqual(
        seen,
        all.body.data.map((c: { id: string }) => c.id),
      );
    });

    it('PATCH changes name, base URL, auth settings and options, and keeps the secret', async () => {
      const created = await createConnection(relay, { id: 'conn_patchme' });
      const secret = await reveal('conn_patchme');
      secrets.push(secret);
      const res = await api('PATCH', '/api/v1/connections/conn_patchme', {
        name: 'Renamed',
        base_url: 'https://api2.example.com/v2/',
        auth: { type: 'header', header_name: 'xi-api-key' },
        options: { log_query_strings: true, secret_scanning: 'redact' },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.name, 'Renamed');
      assert.equal(res.body.base_url, 'https://api2.example.com/v2');
      assert.deepEqual(res.body.auth, { type: 'header', header_name: 'xi-api-key' });
      assert.deepEqual(res.body.options, {
        log_query_strings: true,
        secret_scanning: 'redact',
        allow_insecure_upstream: false,
      });
      assert.equal(res.body.secret_last4, created.secret_last4);
      assert.equal(res.body.created_at, created.created_at);
      assert.equal(await reveal('conn_patchme'), secret);
      assert.deepEqual((await api('GET', '/api/v1/connections/conn_patchme')).body, res.body);
    });

    it('PATCH with auth.secret replaces the secret', async () => {
      const next = distinctSecret('patched');
      secrets.push(next);
      const res = await api('PATCH', '/api/v1/connections/conn_patchme', {
        auth: { type: 'bearer', secret: next },
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.secret_last4, next.slice(-4));
      assert.equal(await reveal('conn_patchme'), next);
    });

    it('PUT …/secret replaces the key; credentials on the connection stay active', async () => {
      await createConnection(relay, { id: 'conn_rotate' });
      const credential = await issueCredential(relay, { grants: [grant('conn_rotate')], ttl_seconds: 3600 });
      const next = distinctSecret('rotated');
      secrets.push(next);
      const res = await api('PUT', '/api/v1/connections/conn_rotate/secret', { secret: next });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.id, 'conn_rotate');
      assert.equal(res.body.secret_last4, next.slice(-4));
      assert.equal(await reveal('conn_rotate'), next);
      const cred = await api('GET', `/api/v1/credentials/${credential.id}`);
      assert.equal(cred.body.status, 'active');
      const listed = await api('GET', '/api/v1/credentials?limit=200');
      assert.equal(listed.body.data.find((c: { id: string }) => c.id === credential.id)?.status, 'active');
    });

    it('PUT …/secret on an unknown connection is 404; an empty secret is 400', async () => {
      assertProblem(
        await api('PUT', '/api/v1/connections/conn_nothere/secret', { secret: 'abcdefghijk' }),
        404,
        'not_found',
      );
      assertProblem(
        await api('PUT', '/api/v1/connections/conn_rotate/secret', { secret: '' }),
        400,
        'validation_failed',
      );
      assertProblem(
        await api('PUT', '/api/v1/connections/conn_rotate/secret', { secret: '   ' }),
        400,
        'invalid_auth_config',
      );
    });

    it('DELETE answers 204, then the connection is gone (404), and a second DELETE is 404', async () => {
      await createConnection(relay, { id: 'conn_gone' });
      const res = await api('DELETE', '/api/v1/connections/conn_gone');
      assert.equal(res.status, 204);
      assertProblem(await api('GET', '/api/v1/connections/conn_gone'), 404, 'not_found');
      assertProblem(await api('DELETE', '/api/v1/connections/conn_gone'), 404, 'not_found');
      assertProblem(await api('PATCH', '/api/v1/connections/conn_gone', { name: 'x' }), 404, 'not_found');
      const list = await api('GET', '/api/v1/connections?limit=200');
      assert.ok(!list.body.data.some((c: { id: string }) => c.id === 'conn_gone'));
    });

    it('refused requests that carry a secret do not echo it', async () => {
      const refused = [
        await post({ base_url: 'ftp://api.example.com' }),
        await post({ base_url: 'http://api.example.com' }),
        await post({ auth: { type: 'header', secret: distinctSecret('noheader') } }),
        await post({ id: 'conn_hubspot' }),
        await post({ name: 7 }),
        await post({ extra: true }),
      ];
      for (const res of refused) assert.ok(res.status >= 400 && res.status < 500, JSON.stringify(res.body));
    });

    it('no secret ever appears in a response body or in the logs', () => {
      const distinct = secrets.filter((s) => s.startsWith('SeCrEt-'));
      assert.ok(distinct.length >= 10);
      const logs = relay.logs.text;
      assert.ok(logs.length > 0, 'the relay logged something');
      for (const secret of distinct) {
        for (const body of bodies)
          assert.ok(!body.includes(secret), `a response carried the secret ${secret}`);
        assert.ok(!logs.includes(secret), `the logs carry the secret ${secret}`);
        assert.ok(!logs.includes(Buffer.from(secret).toString('base64')));
      }
    });
  });
}
