import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { issueToken } from '../../src/core/tokens.ts';
import { SYSTEM_WORKSPACE } from '../../src/services/security-events.ts';
import { callFrom } from '../new-ip/helpers.ts';
import { deleteKeys, SHAPES } from '../rate-limit/redis.ts';
import { startFakeUpstream } from './fake-upstream.ts';
import { assertDecision, assertPassedThrough, fullGrant, startProxyFixture } from './proxy-helpers.ts';

/**
 * SPEC §4 step 2 and §8, issue 5 point 7: authentication failures from one
 * address raise ONE `brute_force` security event and block that address (429
 * `too_many_auth_failures`, valid credentials included) for a while, without
 * locking out anyone else. Both deployment shapes; in the cluster shape the
 * counters and the block live in Redis.
 *
 * The attacker is 127.0.0.66 (its own loopback address, bound with
 * `localAddress`): blocking 127.0.0.1 in a shared Redis would also block the
 * other suites running at the same time.
 */
const ATTACKER = '127.0.0.66';
const BYSTANDER = '127.0.0.1';
const MAX_FAILURES = 5;
const BLOCK_SECONDS = 60;

const clearRedisState = () =>
  Promise.all([ATTACKER, BYSTANDER].map((ip) => deleteKeys(`relay:rl:{bf:${ip}}:*`)));

for (const shape of SHAPES) {
  describe(shape.name, { skip: shape.skip }, async () => {
    if (shape.skip === false) await clearRedisState();
    after(clearRedisState);
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(shape.dialect, upstream, {
      ...shape.env,
      RELAY_BRUTE_FORCE_MAX_FAILURES: String(MAX_FAILURES),
      RELAY_BRUTE_FORCE_WINDOW_SECONDS: '60',
      RELAY_BRUTE_FORCE_BLOCK_SECONDS: String(BLOCK_SECONDS),
    });
    await fx.connection({
      id: 'conn_bf',
      name: 'bf',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-bf-REAL-0001' },
    });
    const valid = await fx.credential({ grants: [fullGrant('conn_bf')] });
    const from = (ip: string, token: string) => callFrom(fx.relay.proxyUrl, ip, '/conn_bf/v1/x', token);
    const badToken = () => issueToken('proxy').token;
    const bruteForceEvents = async () => {
      const page = await fx.relay.running.relay.store.securityEvents.list(SYSTEM_WORKSPACE, { limit: 10 });
      return page.data.filter((e) => e.kind === 'brute_force');
    };
    const waitForEvent = async () => {
      for (let i = 0; i < 250; i++) {
        const events = await bruteForceEvents();
        if (events.length > 0) return events;
        await delay(20);
      }
      assert.fail('no brute_force security event was raised');
    };

    it('failures below the threshold are plain 401s', async () => {
      assertPassedThrough(await from(ATTACKER, valid.token));
      for (let i = 0; i < MAX_FAILURES - 1; i++)
        assertDecision(await from(ATTACKER, badToken()), 401, 'unauthenticated');
      assertPassedThrough(await from(ATTACKER, valid.token));
      assert.equal((await bruteForceEvents()).length, 0);
    });

    it('the failure that reaches the threshold raises one high-severity event and blocks the address', async () => {
      assertDecision(await from(ATTACKER, badToken()), 401, 'unauthenticated');
      const [event, ...more] = await waitForEvent();
      assert.equal(more.length, 0);
      assert.equal(event?.severity, 'high');
      assert.equal(event?.subject, ATTACKER);
      assert.equal(event?.workspaceId, SYSTEM_WORKSPACE);

      const refused = await from(ATTACKER, badToken());
      assertDecision(refused, 429, 'too_many_auth_failures');
      const retry = Number(refused.headers['retry-after']);
      assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= BLOCK_SECONDS, `Retry-After ${retry}`);
    });

    it('a valid credential from the blocked address is refused too, before the upstream', async () => {
      const hits = upstream.hits;
      assertDecision(await from(ATTACKER, valid.token), 429, 'too_many_auth_failures');
      assert.equal(upstream.hits, hits);
    });

    it('other addresses are unaffected', async () => {
      assertPassedThrough(await from(BYSTANDER, valid.token));
      assertDecision(await from(BYSTANDER, badToken()), 401, 'unauthenticated');
    });

    it('hammering on while blocked raises no further events', async () => {
      for (let i = 0; i < 3 * MAX_FAILURES; i++)
        assertDecision(await from(ATTACKER, badToken()), 429, 'too_many_auth_failures');
      await delay(100);
      assert.equal((await bruteForceEvents()).length, 1);
    });
  });
}
