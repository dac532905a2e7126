import assert from 'node:assert/strict';
import type { OutgoingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { issueToken } from '../../src/core/tokens.ts';
import { DIALECTS, skipFor } from '../harness.ts';
import { startFakeUpstream } from './fake-upstream.ts';
import { assertDecision, assertPassedThrough, fullGrant, send, startProxyFixture } from './proxy-helpers.ts';

/**
 * SPEC §4 step 4, default deny: each rule refuses with its own 403 code and the
 * upstream is never contacted; each has an allowed counterpart, so removing the
 * rule (or breaking it into a blanket refusal) fails a test.
 */
for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream);
    for (const id of ['conn_scope', 'conn_ungranted']) {
      await fx.connection({
        id,
        name: id,
        base_url: upstream.url,
        auth: { type: 'bearer', secret: 'sk-scope-REAL' },
      });
    }
    const { token } = await fx.credential({
      grants: [
        {
          connection_id: 'conn_scope',
          allowed_methods: ['GET', 'POST'],
          allowed_paths: ['/v1/items/*', '/v1/files/**', '/v1/exact', '/v2/*/notes'],
          deny_query_params: ['secret', 'Expand'],
        },
      ],
    });

    const call = (method: string, path: string, headers: OutgoingHttpHeaders = {}) =>
      send(fx.relay.proxyUrl, { method, path, headers: { authorization: `Bearer ${token}`, ...headers } });

    const refused = async (method: string, path: string, code: string, headers: OutgoingHttpHeaders = {}) => {
      const hits = upstream.hits;
      const res = await call(method, path, headers);
      assertDecision(res, code === 'connection_not_found' ? 404 : 403, code);
      assert.equal(upstream.hits, hits, 'the upstream was not contacted');
    };

    const allowed = async (method: string, path: string) => {
      const hits = upstream.hits;
      const res = await call(method, path);
      assertPassedThrough(res);
      assert.equal(upstream.hits, hits + 1);
      assert.equal(upstream.requests.at(-1)?.url, path.slice('/conn_scope'.length));
    };

    it('a connection not granted: 403 connection_not_granted', async () => {
      await refused('GET', '/conn_ungranted/v1/items/1', 'connection_not_granted');
    });

    it('an unknown connection: 404 for a valid credential, 401 otherwise', async () => {
      await refused('GET', '/conn_nowhere/v1/items/1', 'connection_not_found');
      const unknown = await send(fx.relay.proxyUrl, {
        path: '/conn_nowhere/v1/items/1',
        headers: { authorization: `Bearer ${issueToken('proxy').token}` },
      });
      assertDecision(unknown, 401, 'unauthenticated');
      assertDecision(
        await send(fx.relay.proxyUrl, { path: '/conn_nowhere/v1/items/1' }),
        401,
        'unauthenticated',
      );
    });

    it('methods: listed ones pass, others are refused', async () => {
      await allowed('GET', '/conn_scope/v1/items/1');
      await allowed('POST', '/conn_scope/v1/items/1');
      await refused('DELETE', '/conn_scope/v1/items/1', 'method_not_allowed');
      await refused('PUT', '/conn_scope/v1/items/1', 'method_not_allowed');
      await refused('OPTIONS', '/conn_scope/v1/items/1', 'method_not_allowed');
    });

    it('HEAD is not implied by GET', async () => {
      await refused('HEAD', '/conn_scope/v1/items/1', 'method_not_allowed');
    });

    for (const header of ['x-http-method-override', 'x-http-method', 'x-method-override']) {
      it(`${header}: DELETE is refused (method_override_refused)`, async () => {
        await refused('GET', '/conn_scope/v1/items/1', 'method_override_refused', { [header]: 'DELETE' });
      });
    }

    it('the _method query parameter is refused (method_override_refused)', async () => {
      await refused('POST', '/conn_scope/v1/items/1?_method=DELETE', 'method_override_refused');
    });

    it('"*" matches exactly one non-empty segment', async () => {
      await allowed('GET', '/conn_scope/v1/items/42');
      await allowed('GET', '/conn_scope/v2/abc/notes');
      await refused('GET', '/conn_scope/v1/items', 'path_not_allowed');
      await refused('GET', '/conn_scope/v1/items/42/children', 'path_not_allowed');
      await refused('GET', '/conn_scope/v2/notes', 'path_not_allowed');
      await refused('GET', '/conn_scope/v2/a/b/notes', 'path_not_allowed');
    });

    it('"**" matches zero or more whole segments', async () => {
      await allowed('GET', '/conn_scope/v1/files');
      await allowed('GET', '/conn_scope/v1/files/a');
      await allowed('GET', '/conn_scope/v1/files/a/b/c');
      await refused('GET', '/conn_scope/v1/filesystem', 'path_not_allowed');
      await refused('GET', '/conn_scope/v1', 'path_not_allowed');
    });

    it('everything else is literal (case, prefixes, extensions)', async () => {
      await allowed('GET', '/conn_scope/v1/exact');
      await allowed('GET', '/conn_scope/v1/exact/');
      await refused('GET', '/conn_scope/v1/Exact', 'path_not_allowed');
      await refused('GET', '/conn_scope/v1/exac', 'path_not_allowed');
      await refused('GET', '/conn_scope/v1/exact.json', 'path_not_allowed');
      await refused('GET', '/conn_scope/v1/exact/more', 'path_not_allowed');
      await refused('GET', '/conn_scope/', 'path_not_allowed');
    });

    const deniedQueries = [
      'secret=1',
      'a=1&secret=2',
      'SECRET=1',
      'Secret=1',
      'secret[]=1',
      'secret[x]=1',
      'secret[x][y]=1',
      '%73ecret=1',
      'sec%72et=1',
      '%53ECRET=1',
      'secret',
      'expand=all',
      'EXPAND[]=a',
      'a=1;secret=2',
    ];
    for (const query of deniedQueries) {
      it(`a denied query parameter: ?${query} → 403 query_param_denied`, async () => {
        await refused('GET', `/conn_scope/v1/items/1?${query}`, 'query_param_denied');
      });
    }

    it('names that only resemble a denied one pass', async () => {
      await allowed('GET', '/conn_scope/v1/items/1?secrets=1&q=secret&not_secret=1&expandable=1');
    });

    describe('ip_mode allowlist', () => {
      it('a client outside the allowlist: 403 ip_not_allowed', async () => {
        const far = await fx.credential({
          grants: [fullGrant('conn_scope')],
          ip_mode: 'allowlist',
          ip_allowlist: ['10.0.0.0/8'],
        });
        const hits = upstream.hits;
        assertDecision(await fx.get('/conn_scope/v1/items/1', far.token), 403, 'ip_not_allowed');
        assert.equal(upstream.hits, hits);
      });

      it('a client inside the allowlist passes', async () => {
        const near = await fx.credential({
          grants: [fullGrant('conn_scope')],
          ip_mode: 'allowlist',
          ip_allowlist: ['127.0.0.1/32'],
        });
        assertPassedThrough(await fx.get('/conn_scope/v1/items/1', near.token));
      });
    });
  });
}
