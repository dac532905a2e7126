import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DIALECTS, skipFor } from '../harness.ts';
import { startFakeUpstream } from './fake-upstream.ts';
import { assertDecision, assertPassedThrough, fullGrant, send, startProxyFixture } from './proxy-helpers.ts';

/**
 * SPEC §4 step 1 through the real listener: every target that could be read two
 * ways is refused with 400 `ambiguous_request` before authentication, and nothing
 * reaches the upstream, even for a credential that may call any path.
 */
const AMBIGUOUS: ReadonlyArray<readonly [string, string]> = [
  ['encoded slash', '/conn_canon/v1/a%2Fb'],
  ['encoded slash, lowercase', '/conn_canon/v1/a%2fb'],
  ['encoded backslash', '/conn_canon/v1/a%5Cb'],
  ['raw backslash', '/conn_canon/v1/a\\b'],
  ['raw dot-dot segment', '/conn_canon/v1/../admin'],
  ['raw dot segment', '/conn_canon/v1/./items'],
  ['trailing raw dot-dot', '/conn_canon/v1/..'],
  ['encoded dot-dot segment', '/conn_canon/v1/%2e%2e/admin'],
  ['half-encoded dot-dot segment', '/conn_canon/v1/.%2E/admin'],
  ['encoded dot segment', '/conn_canon/v1/%2E/items'],
  ['encoded NUL', '/conn_canon/v1/a%00b'],
  ['malformed percent-encoding', '/conn_canon/v1/a%zzb'],
  ['truncated percent-encoding', '/conn_canon/v1/a%2'],
  ['invalid UTF-8', '/conn_canon/v1/%C3%28'],
  ['overlong UTF-8 for "/"', '/conn_canon/v1/%C0%AF'],
  ['double percent-encoding', '/conn_canon/v1/a%252Fb'],
  ['absolute-form target', 'http://x/conn_canon/v1'],
  ['absolute-form target, https', 'https://relay.example/conn_canon/v1'],
  ['network-path "//"', '//conn_canon/v1'],
  ['empty segment', '/conn_canon/v1//items'],
  ['path parameter ";"', '/conn_canon/v1;jsessionid=1'],
  ['path parameter ";" mid-path', '/conn_canon/v1;x/items'],
  ['encoded ";"', '/conn_canon/v1/a%3Bb'],
  ['fragment', '/conn_canon/v1#frag'],
  ['fragment after query', '/conn_canon/v1?a=1#frag'],
  ['malformed percent-encoding in the query', '/conn_canon/v1?a=%zz'],
  ['NUL in the query', '/conn_canon/v1?a=%00'],
  ['invalid UTF-8 in the query', '/conn_canon/v1?a=%C3%28'],
];

for (const dialect of DIALECTS) {
  // Async suite bodies: the harness registers its cleanup with after(), which must run in the suite.
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const fx = await startProxyFixture(dialect, await startFakeUpstream());
    await fx.connection({
      id: 'conn_canon',
      name: 'canon',
      base_url: `${fx.upstream.url}/base`,
      auth: { type: 'bearer', secret: 'sk-canon-real-key-0001' },
    });
    const { token } = await fx.credential({ grants: [fullGrant('conn_canon')] });

    for (const [name, target] of AMBIGUOUS) {
      it(`refuses ${name} (${target}) with 400 before authentication`, async () => {
        const hits = fx.upstream.hits;
        const anonymous = await send(fx.relay.proxyUrl, { path: target });
        assertDecision(anonymous, 400, 'ambiguous_request');
        const authorized = await send(fx.relay.proxyUrl, {
          path: target,
          headers: { authorization: `Bearer ${token}` },
        });
        assertDecision(authorized, 400, 'ambiguous_request');
        assert.equal(fx.upstream.hits, hits, 'the upstream received nothing');
      });
    }

    it('forwards a canonical target byte for byte (control case)', async () => {
      const target = "/conn_canon/v1/caf%C3%A9/a%20b/~x!$&'()*+,=:@?q=%2F&r=a+b";
      const res = await send(fx.relay.proxyUrl, {
        path: target,
        headers: { authorization: `Bearer ${token}` },
      });
      assertPassedThrough(res);
      const last = fx.upstream.requests.at(-1);
      assert.equal(last?.url, `/base${target.slice('/conn_canon'.length)}`);
    });

    it('forwards the connection root as the base path', async () => {
      const res = await send(fx.relay.proxyUrl, {
        path: '/conn_canon',
        headers: { authorization: `Bearer ${token}` },
      });
      assertPassedThrough(res);
      assert.equal(fx.upstream.requests.at(-1)?.url, '/base/');
    });
  });
}
