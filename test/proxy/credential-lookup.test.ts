import assert from 'node:assert/strict';
import type { OutgoingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { DIALECTS, skipFor } from '../harness.ts';
import { type RecordedRequest, startFakeUpstream } from './fake-upstream.ts';
import {
  assertDecision,
  assertPassedThrough,
  everythingUpstreamSaw,
  fullGrant,
  send,
  startProxyFixture,
} from './proxy-helpers.ts';

/**
 * SPEC §13 "Proxy": the credential may come in Authorization: Bearer,
 * Proxy-Authorization, X-Relay-Token, or the place where the connection injects
 * its real key. Wherever it came from, the upstream gets the real key in the
 * connection's style and never the rk_proxy_ token.
 */
const REAL = {
  bearer: 'sk-live-bearer-REAL-0001',
  header: 'hdr-REAL-key-0002',
  query: 'qry-REAL-key-0003',
  basic: 'basic-REAL-key-0004',
  basicUser: 'basic-REAL-pass-0005',
};

const basic = (user: string, pass: string) =>
  `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream);
    const base = `${upstream.url}/up`;
    await fx.connection({
      id: 'conn_bearer',
      name: 'b',
      base_url: base,
      auth: { type: 'bearer', secret: REAL.bearer },
    });
    await fx.connection({
      id: 'conn_header',
      name: 'h',
      base_url: base,
      auth: { type: 'header', header_name: 'x-api-key', secret: REAL.header },
    });
    await fx.connection({
      id: 'conn_query',
      name: 'q',
      base_url: base,
      auth: { type: 'query', query_param: 'api_key', secret: REAL.query },
    });
    await fx.connection({
      id: 'conn_basic',
      name: 'ba',
      base_url: base,
      auth: { type: 'basic', secret: REAL.basic },
    });
    const grants = ['conn_bearer', 'conn_header', 'conn_query', 'conn_basic'].map(fullGrant);
    const { token } = await fx.credential({ grants });
    const { token: other } = await fx.credential({ name: 'another', grants });

    /** Sends, expects the upstream's 200, and returns exactly what the upstream received. */
    const through = async (path: string, headers: OutgoingHttpHeaders): Promise<RecordedRequest> => {
      const before = upstream.hits;
      const res = await send(fx.relay.proxyUrl, { path, headers });
      assertPassedThrough(res);
      assert.equal(upstream.hits, before + 1);
      const seen = upstream.requests.at(-1) as RecordedRequest;
      assert.ok(!everythingUpstreamSaw([seen]).includes('rk_proxy_'), 'the token never reaches the upstream');
      return seen;
    };

    const refused = async (path: string, headers: OutgoingHttpHeaders, status: number, code: string) => {
      const before = upstream.hits;
      const res = await send(fx.relay.proxyUrl, { path, headers });
      assertDecision(res, status, code);
      assert.equal(upstream.hits, before, 'the upstream was not contacted');
      return res;
    };

    describe('where the token is read from', () => {
      it('Authorization: Bearer', async () => {
        const seen = await through('/conn_bearer/v1/me', { authorization: `Bearer ${token}` });
        assert.equal(seen.headers.authorization, `Bearer ${REAL.bearer}`);
        assert.equal(seen.url, '/up/v1/me');
      });

      it('Proxy-Authorization: Bearer', async () => {
        const seen = await through('/conn_bearer/v1/me', { 'proxy-authorization': `Bearer ${token}` });
        assert.equal(seen.headers.authorization, `Bearer ${REAL.bearer}`);
        assert.equal(seen.headers['proxy-authorization'], undefined);
      });

      it('X-Relay-Token', async () => {
        const seen = await through('/conn_bearer/v1/me', { 'x-relay-token': token });
        assert.equal(seen.headers.authorization, `Bearer ${REAL.bearer}`);
        assert.equal(seen.headers['x-relay-token'], undefined);
      });

      it("the header connection's own header (x-api-key)", async () => {
        const seen = await through('/conn_header/v1/me', { 'x-api-key': token });
        assert.equal(seen.headers['x-api-key'], REAL.header);
        assert.equal(seen.headers.authorization, undefined);
      });

      it("the query connection's own parameter (api_key)", async () => {
        const seen = await through(`/conn_query/v1/me?limit=5&api_key=${token}`, {});
        assert.equal(seen.url, `/up/v1/me?limit=5&api_key=${REAL.query}`);
        assert.equal(seen.headers.authorization, undefined);
      });

      it('the basic-auth username', async () => {
        const seen = await through('/conn_basic/v1/me', { authorization: basic(token, '') });
        assert.equal(seen.headers.authorization, basic(REAL.basic, ''));
      });

      it('the basic-auth password', async () => {
        const seen = await through('/conn_basic/v1/me', { authorization: basic('anything', token) });
        assert.equal(seen.headers.authorization, basic(REAL.basic, ''));
      });

      it('Bearer works on every connection style', async () => {
        const h = await through('/conn_header/v1/me', { authorization: `Bearer ${token}` });
        assert.equal(h.headers['x-api-key'], REAL.header);
        const q = await through('/conn_query/v1/me', { authorization: `Bearer ${token}` });
        assert.equal(q.url, `/up/v1/me?api_key=${REAL.query}`);
        const b = await through('/conn_basic/v1/me', { authorization: `Bearer ${token}` });
        assert.equal(b.headers.authorization, basic(REAL.basic, ''));
      });
    });

    describe('refusals', () => {
      it('no token: 401', async () => {
        await refused('/conn_bearer/v1/me', {}, 401, 'unauthenticated');
      });

      it('a malformed token (bad checksum): 401', async () => {
        const forged = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
        await refused('/conn_bearer/v1/me', { authorization: `Bearer ${forged}` }, 401, 'unauthenticated');
      });

      it('the token in a header this connection does not read (x-foo on bearer): 401', async () => {
        await refused('/conn_bearer/v1/me', { 'x-foo': token }, 401, 'unauthenticated');
      });

      it('the token in another header than the header connection reads: 401', async () => {
        await refused('/conn_header/v1/me', { 'x-other-key': token }, 401, 'unauthenticated');
      });

      it('the token in the query of a bearer connection: 401', async () => {
        await refused(`/conn_bearer/v1/me?api_key=${token}`, {}, 401, 'unauthenticated');
      });

      it('the token in another query parameter than the query connection reads: 401', async () => {
        await refused(`/conn_query/v1/me?key=${token}`, {}, 401, 'unauthenticated');
      });

      it('two different tokens (headers): 400 ambiguous_request', async () => {
        await refused(
          '/conn_bearer/v1/me',
          { authorization: `Bearer ${token}`, 'x-relay-token': other },
          400,
          'ambiguous_request',
        );
      });

      it('two different tokens (header and query): 400 ambiguous_request', async () => {
        await refused(
          `/conn_query/v1/me?api_key=${other}`,
          { authorization: `Bearer ${token}` },
          400,
          'ambiguous_request',
        );
      });
    });

    describe('what the caller sent as credentials is not forwarded', () => {
      it('the same token twice is one credential; neither copy is forwarded', async () => {
        const seen = await through('/conn_bearer/v1/me', {
          authorization: `Bearer ${token}`,
          'x-relay-token': token,
        });
        assert.equal(seen.headers.authorization, `Bearer ${REAL.bearer}`);
      });

      it('a caller Authorization that is not a Relay token is dropped, not forwarded', async () => {
        const seen = await through('/conn_header/v1/me', {
          'x-relay-token': token,
          authorization: basic('caller', 'own-password'),
        });
        assert.equal(seen.headers.authorization, undefined);
        assert.equal(seen.headers['x-api-key'], REAL.header);
      });

      it("a caller value in the connection's own header is replaced by the real key", async () => {
        const seen = await through('/conn_header/v1/me', {
          authorization: `Bearer ${token}`,
          'x-api-key': 'caller-supplied-key',
        });
        assert.equal(seen.headers['x-api-key'], REAL.header);
        assert.ok(!seen.rawHeaders.includes('caller-supplied-key'));
      });

      it("a caller value in the connection's query parameter is replaced, not duplicated", async () => {
        const seen = await through('/conn_query/v1/me?api_key=caller-junk&x=1', {
          authorization: `Bearer ${token}`,
        });
        assert.equal(seen.url, `/up/v1/me?x=1&api_key=${REAL.query}`);
      });

      it('the token repeated in another header is stripped there too', async () => {
        const seen = await through('/conn_bearer/v1/me', {
          authorization: `Bearer ${token}`,
          'x-foo': token,
          'x-debug': `Bearer ${token}`,
          'x-kept': 'yes',
        });
        assert.equal(seen.headers.authorization, `Bearer ${REAL.bearer}`);
        assert.equal(seen.headers['x-kept'], 'yes');
      });

      it('the token repeated in the query is stripped there too', async () => {
        const seen = await through(`/conn_bearer/v1/me?a=1&token=${token}&b=2`, {
          authorization: `Bearer ${token}`,
        });
        assert.equal(seen.url, '/up/v1/me?a=1&b=2');
      });
    });
  });
}
