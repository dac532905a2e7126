import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { SHAPES } from '../rate-limit/redis.ts';
import { startFakeUpstream } from './fake-upstream.ts';
import {
  type ApiCaller,
  assertDecision,
  assertPassedThrough,
  fullGrant,
  type RawResponse,
  secondWorkspace,
  startProxyFixture,
  waitForAudit,
} from './proxy-helpers.ts';

/**
 * SPEC §4 step 3 and issue 5 point 6: token-bucket rate limits per credential,
 * with the credential's profile or the workspace default; a refusal is 429
 * `rate_limited` with `Retry-After`, `RateLimit-Policy` and `RateLimit`
 * (draft-ietf-httpapi-ratelimit-headers-08), is audited, and never reaches the upstream.
 * Runs in both deployment shapes: single node (memory limiter), cluster (Redis).
 */
for (const shape of SHAPES) {
  describe(shape.name, { skip: shape.skip }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(shape.dialect, upstream, { ...shape.env });
    const connection = (api?: ApiCaller, id = 'conn_rl') =>
      fx.connection(
        {
          id,
          name: 'rate limited',
          base_url: upstream.url,
          auth: { type: 'bearer', secret: 'sk-rl-REAL-0001' },
        },
        api,
      );
    await connection();
    const grants = [fullGrant('conn_rl')];

    /** Calls until the first refusal (at most `max`), returning the count allowed and the refusal. */
    const drain = async (token: string, max: number) => {
      for (let allowed = 0; allowed <= max; allowed++) {
        const res = await fx.get('/conn_rl/v1/x', token);
        if (res.status !== 200) return { allowed, refusal: res };
      }
      return { allowed: max + 1, refusal: undefined };
    };

    const assertRateLimited = (res: RawResponse | undefined, policy: string) => {
      assert.ok(res, 'a refusal was expected');
      assertDecision(res, 429, 'rate_limited');
      const retry = Number(res.headers['retry-after']);
      assert.ok(Number.isInteger(retry) && retry >= 1, `Retry-After ${res.headers['retry-after']}`);
      assert.equal(res.headers['ratelimit-policy'], policy);
      const name = policy.slice(0, policy.indexOf(';'));
      assert.match(String(res.headers.ratelimit), new RegExp(`^${name};r=0;t=\\d+$`));
    };

    it('after the burst: 429 with Retry-After and RateLimit headers, upstream not contacted, audited', async () => {
      const { id, token } = await fx.credential({ grants, rate_limit_profile: 'restricted' });
      const { allowed, refusal } = await drain(token, 10);
      assert.equal(allowed, 5, 'restricted admits a burst of 5');
      assertRateLimited(refusal, '"restricted";q=5;w=30');
      // restricted refills one token every 6 s.
      const retry = Number(refusal?.headers['retry-after']);
      assert.ok(retry >= 5 && retry <= 6, `Retry-After ${retry}`);
      assert.ok(Number(/t=(\d+)/.exec(String(refusal?.headers.ratelimit))?.[1]) <= 30);

      const hits = upstream.hits;
      for (let i = 0; i < 3; i++)
        assertRateLimited(await fx.get('/conn_rl/v1/x', token), '"restricted";q=5;w=30');
      assert.equal(upstream.hits, hits, 'a limited call never reaches the upstream');

      const events = await waitForAudit(
        fx.relay.api,
        { credential_id: id, status: '429' },
        (e) => e.length === 4,
      );
      for (const e of events) {
        assert.equal(e.decision, 'blocked');
        assert.equal(e.reason, 'rate_limited');
      }
    });

    it('refill lets calls through again (custom profile, 10 a second)', async () => {
      const res = await fx.relay.api('PATCH', '/api/v1/workspace', {
        settings: { rate_limit_profiles: { ten_per_second: { per_minute: 600, burst: 2 } } },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const { token } = await fx.credential({ grants, rate_limit_profile: 'ten_per_second' });
      const { allowed, refusal } = await drain(token, 20);
      // At 10 a second a slow call may see a token come back while draining: at least the burst passes.
      assert.ok(allowed >= 2, `allowed ${allowed}`);
      assertRateLimited(refusal, '"ten_per_second";q=2;w=1');
      assert.equal(refusal?.headers['retry-after'], '1');
      await delay(110); // one token every 100 ms
      assertPassedThrough(await fx.get('/conn_rl/v1/x', token));
    });

    it('each credential has its own bucket', async () => {
      const a = await fx.credential({ grants, rate_limit_profile: 'restricted' });
      const b = await fx.credential({ grants, rate_limit_profile: 'restricted' });
      assert.equal((await drain(a.token, 10)).allowed, 5);
      assertPassedThrough(await fx.get('/conn_rl/v1/x', b.token));
    });

    it('no profile, no workspace default: no limit', async () => {
      const { token } = await fx.credential({ grants });
      for (let i = 0; i < 12; i++) assertPassedThrough(await fx.get('/conn_rl/v1/x', token));
    });

    it('the workspace default applies; the credential’s own profile wins over it', async () => {
      const other = await secondWorkspace(fx.relay);
      await connection(other.api);
      const patch = await other.api('PATCH', '/api/v1/workspace', {
        settings: {
          rate_limit_profiles: { tiny: { per_minute: 1, burst: 2 } },
          default_rate_limit_profile: 'tiny',
        },
      });
      assert.equal(patch.status, 200, JSON.stringify(patch.body));
      const plain = await fx.credential({ grants }, other.api);
      const own = await fx.credential({ grants, rate_limit_profile: 'steady_stream' }, other.api);
      const d = await drain(plain.token, 5);
      assert.equal(d.allowed, 2, 'the default "tiny" profile applies');
      assertRateLimited(d.refusal, '"tiny";q=2;w=120');
      for (let i = 0; i < 6; i++) assertPassedThrough(await fx.get('/conn_rl/v1/x', own.token));
    });

    it('a profile name that no longer exists fails safe to "restricted"', async () => {
      const other = await secondWorkspace(fx.relay);
      await connection(other.api);
      const define = await other.api('PATCH', '/api/v1/workspace', {
        settings: { rate_limit_profiles: { roomy: { per_minute: 6000, burst: 1000 } } },
      });
      assert.equal(define.status, 200, JSON.stringify(define.body));
      const { token } = await fx.credential({ grants, rate_limit_profile: 'roomy' }, other.api);
      assertPassedThrough(await fx.get('/conn_rl/v1/x', token));
      const drop = await other.api('PATCH', '/api/v1/workspace', { settings: { rate_limit_profiles: {} } });
      assert.equal(drop.status, 200, JSON.stringify(drop.body));
      const d = await drain(token, 20);
      assert.equal(d.allowed, 5, 'restricted, not unlimited and not the vanished profile');
      assertRateLimited(d.refusal, '"restricted";q=5;w=30');
      assert.match(fx.relay.logs.text, /unknown rate-limit profile/);
    });
  });
}
