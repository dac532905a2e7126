import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { issueToken } from '../../src/core/tokens.ts';
import { DIALECTS, skipFor } from '../harness.ts';
import { startFakeUpstream } from './fake-upstream.ts';
import {
  assertDecision,
  assertPassedThrough,
  fullGrant,
  type RawResponse,
  secondWorkspace,
  startProxyFixture,
} from './proxy-helpers.ts';

/**
 * SPEC §3 and §4 step 2–3: revoked → 401 at once, no grace (the credential
 * cache is warmed first, so a stale cache would let the call through);
 * expired → 401 "API key expired"; unknown → the same 401 as revoked; and no
 * credential reaches another workspace's connections.
 */
const comparable = (res: RawResponse) => {
  const { type, title, status, code, detail } = JSON.parse(res.text);
  return { type, title, status, code, detail };
};

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream);
    await fx.connection({
      id: 'conn_rev',
      name: 'rev',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-rev-REAL-0001' },
    });
    const grants = [fullGrant('conn_rev')];

    /** The call is refused and the upstream is not contacted. */
    const refusedCall = async (token: string, status: number, code: string) => {
      const hits = upstream.hits;
      const res = await fx.get('/conn_rev/v1/x', token);
      const body = assertDecision(res, status, code);
      assert.equal(upstream.hits, hits);
      return { res, body };
    };

    let revokedResponse: RawResponse | undefined;

    it('a revoked credential is refused on the very next call', async () => {
      const { id, token } = await fx.credential({ grants });
      assertPassedThrough(await fx.get('/conn_rev/v1/x', token)); // warms the cache
      assertPassedThrough(await fx.get('/conn_rev/v1/x', token));
      const revoke = await fx.relay.api('POST', `/api/v1/credentials/${id}/revoke`);
      assert.equal(revoke.status, 200, JSON.stringify(revoke.body));
      const { res, body } = await refusedCall(token, 401, 'unauthenticated');
      assert.equal(body.detail, 'Invalid or missing API key');
      revokedResponse = res;
    });

    it('revoking a recipient stops all of its credentials at once', async () => {
      const rcp = await fx.relay.api('POST', '/api/v1/recipients', { name: 'svc', kind: 'service' });
      assert.equal(rcp.status, 201, JSON.stringify(rcp.body));
      const a = await fx.credential({ grants, recipient_id: rcp.body.id });
      const b = await fx.credential({ grants, recipient_id: rcp.body.id, name: 'second' });
      assertPassedThrough(await fx.get('/conn_rev/v1/x', a.token));
      assertPassedThrough(await fx.get('/conn_rev/v1/x', b.token));
      const revoke = await fx.relay.api('POST', `/api/v1/recipients/${rcp.body.id}/revoke`);
      assert.equal(revoke.status, 200, JSON.stringify(revoke.body));
      for (const token of [a.token, b.token]) {
        const { body } = await refusedCall(token, 401, 'unauthenticated');
        assert.equal(body.detail, 'Invalid or missing API key');
      }
    });

    it('an unknown (well-formed) token gets the same 401 as a revoked one: no existence oracle', async () => {
      assert.ok(revokedResponse, 'runs after the revocation test');
      const { res } = await refusedCall(issueToken('proxy').token, 401, 'unauthenticated');
      assert.deepEqual(comparable(res), comparable(revokedResponse));
      const missing = await refusedCall('', 401, 'unauthenticated');
      assert.deepEqual(comparable(missing.res), comparable(revokedResponse));
    });

    it('an expired credential is refused with 401 token_expired', async () => {
      // ttl_seconds has a one-second resolution: poll (bounded) until the second has passed.
      const { token } = await fx.credential({ grants, ttl_seconds: 1 });
      const deadline = Date.now() + 5000;
      let res = await fx.get('/conn_rev/v1/x', token);
      while (res.status === 200 && Date.now() < deadline) {
        await delay(50);
        res = await fx.get('/conn_rev/v1/x', token);
      }
      const body = assertDecision(res, 401, 'token_expired');
      assert.equal(body.detail, 'API key expired');
      await refusedCall(token, 401, 'token_expired');
    });

    it('a replaced upstream key is used from the next call on', async () => {
      const { token } = await fx.credential({ grants });
      assertPassedThrough(await fx.get('/conn_rev/v1/x', token));
      assert.equal(upstream.requests.at(-1)?.headers.authorization, 'Bearer sk-rev-REAL-0001');
      const put = await fx.relay.api('PUT', '/api/v1/connections/conn_rev/secret', {
        secret: 'sk-rev-REAL-0002',
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assertPassedThrough(await fx.get('/conn_rev/v1/x', token));
      assert.equal(upstream.requests.at(-1)?.headers.authorization, 'Bearer sk-rev-REAL-0002');
    });

    describe('workspaces are isolated', async () => {
      const otherUpstream = await startFakeUpstream();
      const ws2 = await secondWorkspace(fx.relay);
      // The same readable id in both workspaces, each pointing at its own upstream.
      await fx.connection({
        id: 'conn_shared',
        name: 'mine',
        base_url: upstream.url,
        auth: { type: 'bearer', secret: 'sk-ws1-REAL' },
      });
      await fx.connection(
        {
          id: 'conn_shared',
          name: 'theirs',
          base_url: otherUpstream.url,
          auth: { type: 'bearer', secret: 'sk-ws2-REAL' },
        },
        ws2.api,
      );
      const mine = await fx.credential({ grants: [fullGrant('conn_shared'), fullGrant('conn_rev')] });
      const theirs = await fx.credential({ grants: [fullGrant('conn_shared')] }, ws2.api);

      it("another workspace's credential cannot reach this workspace's connection: 404", async () => {
        const hits = upstream.hits + otherUpstream.hits;
        const res = await fx.get('/conn_rev/v1/x', theirs.token);
        assertDecision(res, 404, 'connection_not_found');
        assert.equal(upstream.hits + otherUpstream.hits, hits);
      });

      it('the same connection id resolves within the credential’s own workspace', async () => {
        assertPassedThrough(await fx.get('/conn_shared/v1/x', theirs.token));
        assert.equal(otherUpstream.requests.at(-1)?.headers.authorization, 'Bearer sk-ws2-REAL');
        const before = otherUpstream.hits;
        assertPassedThrough(await fx.get('/conn_shared/v1/x', mine.token));
        assert.equal(upstream.requests.at(-1)?.headers.authorization, 'Bearer sk-ws1-REAL');
        assert.equal(otherUpstream.hits, before);
      });

      it("a grant on another workspace's connection cannot be issued", async () => {
        const res = await ws2.api('POST', '/api/v1/credentials', {
          name: 'reach across',
          grants: [fullGrant('conn_rev')],
          ip_mode: 'none',
          acknowledge_risks: true,
        });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.code, 'invalid_scope');
      });
    });
  });
}
