import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ApiResponse, callApi, startTestRelay } from '../harness.ts';
import { secondWorkspace } from '../proxy/proxy-helpers.ts';
import { SHAPES } from './redis.ts';

/**
 * Issue 5 point 6 on the management API: a token with
 * `policies.rate_limit_profile`, or in a workspace with a default profile, draws
 * from its own bucket; past it, 429 problem+json with the same headers as the proxy.
 */
for (const shape of SHAPES) {
  describe(shape.name, { skip: shape.skip }, async () => {
    const relay = await startTestRelay(shape.dialect, { ...shape.env });
    const as = (token: string) => (method: string, path: string, body?: unknown) =>
      callApi(relay.apiUrl, method, path, token, body);

    const createToken = async (body: Record<string, unknown>, api = relay.api) => {
      const res = await api('POST', '/api/v1/tokens', { name: 'limited', role: 'admin', ...body });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body as { id: string; token: string; policies: Record<string, unknown> };
    };

    /** GETs until the first non-200 (at most `max` + 1 calls). */
    const drain = async (token: string, max: number) => {
      for (let allowed = 0; allowed <= max; allowed++) {
        const res = await as(token)('GET', '/api/v1/connections');
        if (res.status !== 200) return { allowed, refusal: res };
      }
      return { allowed: max + 1, refusal: undefined };
    };

    const assertLimited = (res: ApiResponse | undefined, policy: string) => {
      assert.ok(res, 'a refusal was expected');
      assert.equal(res.status, 429, JSON.stringify(res.body));
      assert.match(String(res.headers.get('content-type')), /^application\/problem\+json/);
      assert.equal(res.body.code, 'rate_limited');
      assert.equal(res.body.status, 429);
      assert.equal(typeof res.body.request_id, 'string');
      const retry = Number(res.headers.get('retry-after'));
      assert.ok(Number.isInteger(retry) && retry >= 1, `Retry-After ${res.headers.get('retry-after')}`);
      assert.equal(res.headers.get('ratelimit-policy'), policy);
      assert.match(String(res.headers.get('ratelimit')), /;r=0;t=\d+$/);
    };

    it('a token with its own profile is limited per token; other tokens are not', async () => {
      const limited = await createToken({ rate_limit_profile: 'restricted' });
      assert.equal(limited.policies.rate_limit_profile, 'restricted');
      const { allowed, refusal } = await drain(limited.token, 10);
      assert.equal(allowed, 5);
      assertLimited(refusal, '"restricted";q=5;w=30');
      // Also refused for a route it has never called: the bucket is the token's.
      assertLimited(await as(limited.token)('GET', '/api/v1/workspace'), '"restricted";q=5;w=30');
      // The bootstrap admin token has no profile and no workspace default applies.
      for (let i = 0; i < 8; i++) assert.equal((await relay.api('GET', '/api/v1/connections')).status, 200);
    });

    it('the workspace default applies to tokens without a profile; a token’s own profile wins', async () => {
      const other = await secondWorkspace(relay);
      const roomy = await createToken({ rate_limit_profile: 'api_heavy' }, other.api);
      const plain = await createToken({}, other.api);
      const patch = await other.api('PATCH', '/api/v1/workspace', {
        settings: {
          rate_limit_profiles: { tiny: { per_minute: 1, burst: 2 } },
          default_rate_limit_profile: 'tiny',
        },
      });
      assert.equal(patch.status, 200, JSON.stringify(patch.body));
      const { allowed, refusal } = await drain(plain.token, 5);
      assert.equal(allowed, 2);
      assertLimited(refusal, '"tiny";q=2;w=120');
      for (let i = 0; i < 6; i++)
        assert.equal((await as(roomy.token)('GET', '/api/v1/connections')).status, 200);
    });

    it('an unauthenticated call is 401, never counted against anyone', async () => {
      const res = await callApi(relay.apiUrl, 'GET', '/api/v1/connections', 'rk_mgmt_nope');
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('ratelimit'), null);
    });
  });
}
