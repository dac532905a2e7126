import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { DIALECTS, skipFor } from '../harness.ts';
import { type RecordedRequest, startFakeUpstream } from './fake-upstream.ts';
import {
  assertDecision,
  assertPassedThrough,
  everythingUpstreamSaw,
  exchangeRaw,
  fullGrant,
  send,
  startProxyFixture,
} from './proxy-helpers.ts';

/**
 * SPEC §4 step 6: the real key in each of the five styles, the caller's own
 * credentials removed first, hop-by-hop fields dropped (RFC 9110 §7.6.1) and
 * X-Forwarded-* as configured.
 */
const basic = (user: string, pass: string) =>
  `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;

/** A token endpoint (RFC 6749 §4.4) that counts its calls and issues at-1, at-2, … with `expires_in`. */
function tokenEndpoint(expiresIn: number, calls: RecordedRequest[]) {
  return (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      recorded.body = Buffer.concat(chunks);
      calls.push(recorded);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ access_token: `at-${calls.length}`, token_type: 'bearer', expires_in: expiresIn }),
      );
    });
  };
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream);
    const connect = (id: string, auth: Record<string, unknown>) =>
      fx.connection({ id, name: id, base_url: upstream.url, auth });
    await connect('conn_inj_bearer', { type: 'bearer', secret: 'REAL-bearer-1' });
    await connect('conn_inj_basic_up', { type: 'basic', username: 'acct_42', secret: 'REAL-basic-pass' });
    await connect('conn_inj_basic_key', { type: 'basic', secret: 'REAL-basic-user' });
    await connect('conn_inj_header', { type: 'header', header_name: 'xi-api-key', secret: 'REAL-header-1' });
    await connect('conn_inj_query', { type: 'query', query_param: 'api_key', secret: 'REAL q&=1' });

    const tokens = await startFakeUpstream();
    const oauth = {
      long: [] as RecordedRequest[],
      short: [] as RecordedRequest[],
      margin: [] as RecordedRequest[],
      concurrent: [] as RecordedRequest[],
    };
    tokens.route('/oauth/long', tokenEndpoint(3600, oauth.long));
    tokens.route('/oauth/concurrent', tokenEndpoint(3600, oauth.concurrent));
    tokens.route('/oauth/short', tokenEndpoint(2, oauth.short));
    tokens.route('/oauth/margin', tokenEndpoint(300, oauth.margin));
    tokens.route('/oauth/broken', (_req, res) => {
      res.writeHead(500);
      res.end('nope');
    });
    for (const name of ['long', 'short', 'margin', 'concurrent', 'broken']) {
      await connect(`conn_oauth_${name}`, {
        type: 'oauth2_client_credentials',
        token_url: `${tokens.url}/oauth/${name}`,
        client_id: 'client-7',
        secret: 'CLIENT-SECRET-7',
        scope: 'read:all',
      });
    }
    const ids = [
      'conn_inj_bearer',
      'conn_inj_basic_up',
      'conn_inj_basic_key',
      'conn_inj_header',
      'conn_inj_query',
      'conn_oauth_long',
      'conn_oauth_short',
      'conn_oauth_margin',
      'conn_oauth_concurrent',
      'conn_oauth_broken',
    ];
    const { token } = await fx.credential({ grants: ids.map(fullGrant) });

    const through = async (path: string, headers: Record<string, string> = {}): Promise<RecordedRequest> => {
      const hits = upstream.hits;
      const res = await send(fx.relay.proxyUrl, {
        path,
        headers: { authorization: `Bearer ${token}`, ...headers },
      });
      assertPassedThrough(res);
      assert.equal(upstream.hits, hits + 1);
      const seen = upstream.requests.at(-1) as RecordedRequest;
      assert.ok(!everythingUpstreamSaw([seen]).includes(token), 'the token never reaches the upstream');
      return seen;
    };

    describe('the five styles', () => {
      it('bearer: Authorization: Bearer <key>', async () => {
        const seen = await through('/conn_inj_bearer/v1/a');
        assert.equal(seen.headers.authorization, 'Bearer REAL-bearer-1');
      });

      it('basic with a username: user:key', async () => {
        const seen = await through('/conn_inj_basic_up/v1/a');
        assert.equal(seen.headers.authorization, basic('acct_42', 'REAL-basic-pass'));
      });

      it('basic, key as user: key:', async () => {
        const seen = await through('/conn_inj_basic_key/v1/a');
        assert.equal(seen.headers.authorization, basic('REAL-basic-user', ''));
      });

      it('custom header: xi-api-key, and no Authorization', async () => {
        const seen = await through('/conn_inj_header/v1/a', { 'xi-api-key': 'caller-own' });
        assert.equal(seen.headers['xi-api-key'], 'REAL-header-1');
        assert.equal(seen.headers.authorization, undefined);
      });

      it('query: the key percent-encoded; a caller parameter of that name is replaced, not duplicated', async () => {
        const seen = await through('/conn_inj_query/v1/a?x=1&api_key=caller&api%5Fkey=again&y=%20');
        assert.equal(seen.url, '/v1/a?x=1&y=%20&api_key=REAL%20q%26%3D1');
        const params = new URL(seen.url, 'http://x').searchParams;
        assert.deepEqual(params.getAll('api_key'), ['REAL q&=1']);
      });
    });

    describe('OAuth 2.0 client credentials', () => {
      it('fetches one access token (client authenticated by Basic) and reuses it', async () => {
        const a = await through('/conn_oauth_long/v1/a');
        const b = await through('/conn_oauth_long/v1/b');
        assert.equal(oauth.long.length, 1, 'two proxied calls, one token fetch');
        assert.equal(a.headers.authorization, 'Bearer at-1');
        assert.equal(b.headers.authorization, 'Bearer at-1');
        const fetch = oauth.long[0] as RecordedRequest;
        assert.equal(fetch.method, 'POST');
        assert.equal(fetch.headers.authorization, basic('client-7', 'CLIENT-SECRET-7'));
        assert.match(String(fetch.headers['content-type']), /^application\/x-www-form-urlencoded/);
        const form = new URLSearchParams(fetch.body.toString('utf8'));
        assert.equal(form.get('grant_type'), 'client_credentials');
        assert.equal(form.get('scope'), 'read:all');
        assert.ok(!everythingUpstreamSaw(upstream.requests).includes('CLIENT-SECRET-7'));
      });

      it('concurrent first calls share one token fetch', async () => {
        const responses = await Promise.all(
          Array.from({ length: 6 }, () =>
            send(fx.relay.proxyUrl, {
              path: '/conn_oauth_concurrent/v1/a',
              headers: { authorization: `Bearer ${token}` },
            }),
          ),
        );
        for (const res of responses) assertPassedThrough(res);
        assert.equal(oauth.concurrent.length, 1, 'six concurrent first calls, one token fetch');
        for (const seen of upstream.requests.slice(-6))
          assert.equal(seen.headers.authorization, 'Bearer at-1');
      });

      it('refreshes 60 s before expiry (expires_in 300: reused at 239 s, refetched at 241 s)', async (t) => {
        // Date is mocked (only Date: sockets and timers run normally), so the margin is
        // tested exactly, without waiting: the token source reads Date.now().
        t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
        try {
          assert.equal((await through('/conn_oauth_margin/v1/a')).headers.authorization, 'Bearer at-1');
          assert.equal(oauth.margin.length, 1);
          t.mock.timers.tick(239_000);
          assert.equal((await through('/conn_oauth_margin/v1/a')).headers.authorization, 'Bearer at-1');
          assert.equal(oauth.margin.length, 1);
          t.mock.timers.tick(2_000); // 241 s: 59 s of validity left, inside the 60 s margin
          assert.equal((await through('/conn_oauth_margin/v1/a')).headers.authorization, 'Bearer at-2');
          assert.equal(oauth.margin.length, 2);
        } finally {
          t.mock.timers.reset();
        }
      });

      it('a short-lived token (expires_in 2) is refreshed at half its life, while still valid', async (t) => {
        t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
        try {
          assert.equal((await through('/conn_oauth_short/v1/a')).headers.authorization, 'Bearer at-1');
          t.mock.timers.tick(900);
          assert.equal((await through('/conn_oauth_short/v1/a')).headers.authorization, 'Bearer at-1');
          t.mock.timers.tick(200); // 1.1 s: the token is valid for 0.9 s more, but is renewed now
          assert.equal((await through('/conn_oauth_short/v1/a')).headers.authorization, 'Bearer at-2');
          assert.equal(oauth.short.length, 2);
        } finally {
          t.mock.timers.reset();
        }
      });

      it('a failing token endpoint: 502 upstream_unreachable, the API is not contacted', async () => {
        const hits = upstream.hits;
        const res = await send(fx.relay.proxyUrl, {
          path: '/conn_oauth_broken/v1/a',
          headers: { authorization: `Bearer ${token}` },
        });
        assertDecision(res, 502, 'upstream_unreachable');
        assert.equal(upstream.hits, hits);
      });
    });

    describe('hop-by-hop and forwarding headers', () => {
      it('request hop-by-hop fields, and fields named in Connection, are not forwarded', async () => {
        const hits = upstream.hits;
        // node:http will not send Trailer without a chunked body: write the request by hand.
        const res = await exchangeRaw(fx.relay.proxyUrl, [
          'GET /conn_inj_bearer/v1/hop HTTP/1.1',
          'Host: relay.test',
          `Authorization: Bearer ${token}`,
          'Connection: keep-alive, X-Secret-Hop',
          'Keep-Alive: timeout=5',
          'TE: trailers',
          'Trailer: x-checksum',
          'Upgrade: h2c',
          `Proxy-Authorization: ${basic('proxy-user', 'proxy-pass')}`,
          'Proxy-Connection: keep-alive',
          'X-Secret-Hop: must-not-pass',
          'X-End-To-End: kept',
        ]);
        assert.equal(res.status, 200, res.head);
        assert.equal(upstream.hits, hits + 1);
        const seen = upstream.requests.at(-1) as RecordedRequest;
        for (const name of [
          'keep-alive',
          'te',
          'trailer',
          'upgrade',
          'proxy-authorization',
          'proxy-connection',
        ]) {
          assert.equal(seen.headers[name], undefined, `${name} was forwarded`);
        }
        assert.equal(seen.headers['x-secret-hop'], undefined);
        assert.ok(
          !String(seen.headers.connection ?? '')
            .toLowerCase()
            .includes('x-secret-hop'),
        );
        assert.ok(!everythingUpstreamSaw([seen]).includes('must-not-pass'));
        assert.ok(!everythingUpstreamSaw([seen]).includes(token));
        assert.equal(seen.headers['x-end-to-end'], 'kept');
        assert.equal(seen.headers.authorization, 'Bearer REAL-bearer-1');
      });

      it('response hop-by-hop fields named in the upstream Connection header are not relayed', async () => {
        upstream.route('/v1/resp-hop', (_req, res) => {
          res.writeHead(200, {
            connection: 'x-upstream-hop',
            'x-upstream-hop': 'internal',
            'x-kept': 'yes',
            'content-type': 'text/plain',
          });
          res.end('ok');
        });
        const res = await send(fx.relay.proxyUrl, {
          path: '/conn_inj_bearer/v1/resp-hop',
          headers: { authorization: `Bearer ${token}` },
        });
        assertPassedThrough(res);
        assert.equal(res.text, 'ok');
        assert.equal(res.headers['x-kept'], 'yes');
        assert.equal(res.headers['x-upstream-hop'], undefined);
      });

      it('X-Forwarded-* and Forwarded from the caller are stripped by default', async () => {
        const seen = await through('/conn_inj_bearer/v1/xff', {
          'x-forwarded-for': '203.0.113.9',
          'x-forwarded-host': 'evil.example',
          'x-forwarded-proto': 'https',
          forwarded: 'for=203.0.113.9',
          'x-real-ip': '203.0.113.9',
        });
        for (const name of [
          'x-forwarded-for',
          'x-forwarded-host',
          'x-forwarded-proto',
          'forwarded',
          'x-real-ip',
        ]) {
          assert.equal(seen.headers[name], undefined, `${name} was forwarded`);
        }
      });

      describe('RELAY_FORWARDED_HEADERS=set', async () => {
        const up2 = await startFakeUpstream();
        const fx2 = await startProxyFixture(dialect, up2, { RELAY_FORWARDED_HEADERS: 'set' });
        await fx2.connection({
          id: 'conn_xff',
          name: 'xff',
          base_url: up2.url,
          auth: { type: 'bearer', secret: 'k-xff' },
        });
        const cred = await fx2.credential({ grants: [fullGrant('conn_xff')] });

        it('the upstream sees X-Forwarded-For = the client as Relay saw it, not what the caller claimed', async () => {
          const res = await send(fx2.relay.proxyUrl, {
            path: '/conn_xff/v1/a',
            headers: {
              authorization: `Bearer ${cred.token}`,
              'x-forwarded-for': '203.0.113.9',
              forwarded: 'for=203.0.113.9',
              'x-real-ip': '203.0.113.9',
            },
          });
          assertPassedThrough(res);
          const seen = up2.requests.at(-1) as RecordedRequest;
          assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
          assert.equal(seen.headers['x-forwarded-proto'], 'http');
          assert.equal(seen.headers['x-forwarded-host'], new URL(fx2.relay.proxyUrl).host);
          assert.equal(seen.headers.forwarded, undefined);
          assert.equal(seen.headers['x-real-ip'], undefined);
        });
      });
    });
  });
}
