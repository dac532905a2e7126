import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { issueToken } from '../../src/core/tokens.ts';
import { SYSTEM_WORKSPACE } from '../../src/services/security-events.ts';
import { startTestRelay } from '../harness.ts';
import { callFrom } from '../new-ip/helpers.ts';
import { deleteKeys, SHAPES } from '../rate-limit/redis.ts';

/**
 * Issue 5 point 7 on the management API: failed authentication there counts
 * against the caller's address like on the proxy, with the same counters (one
 * guard for both listeners). At the threshold one `brute_force` event is raised
 * and the address is refused with 429 `too_many_auth_failures` on both
 * listeners, a valid token included; other addresses and the public health
 * checks are unaffected. Both deployment shapes; in the cluster shape the
 * counters and the block live in Redis.
 *
 * The attacker is 127.0.0.67 (its own loopback address, bound with
 * `localAddress`; the proxy's suite uses .66), so a shared Redis does not block
 * the address other suites use.
 */
const ATTACKER = '127.0.0.67';
const BYSTANDER = '127.0.0.1';
const MAX_FAILURES = 4;
const BLOCK_SECONDS = 60;

/** A GET from `localAddress` with `token` (if any), and the problem code of its answer. */
async function getFrom(baseUrl: string, localAddress: string, path: string, token?: string) {
  const res = await callFrom(baseUrl, localAddress, path, token);
  let code: string | undefined;
  try {
    code = (JSON.parse(res.text) as { code?: string }).code;
  } catch {
    code = undefined;
  }
  return { ...res, code };
}

const clearRedisState = () =>
  Promise.all([ATTACKER, BYSTANDER].map((ip) => deleteKeys(`relay:rl:{bf:${ip}}:*`)));

for (const shape of SHAPES) {
  describe(`management API brute-force throttle, ${shape.name}`, { skip: shape.skip }, async () => {
    if (shape.skip === false) await clearRedisState();
    after(clearRedisState);
    const relay = await startTestRelay(shape.dialect, {
      ...shape.env,
      RELAY_BRUTE_FORCE_MAX_FAILURES: String(MAX_FAILURES),
      RELAY_BRUTE_FORCE_WINDOW_SECONDS: '60',
      RELAY_BRUTE_FORCE_BLOCK_SECONDS: String(BLOCK_SECONDS),
    });
    const api = (ip: string, token?: string) => getFrom(relay.apiUrl, ip, '/api/v1/connections', token);
    const badToken = () => issueToken('management').token;
    const bruteForceEvents = async () => {
      const page = await relay.running.relay.store.securityEvents.list(SYSTEM_WORKSPACE, { limit: 10 });
      return page.data.filter((e) => e.kind === 'brute_force');
    };

    it('failures below the threshold are plain 401s', async () => {
      assert.equal((await api(ATTACKER, relay.adminToken)).status, 200);
      assert.equal((await api(ATTACKER, badToken())).code, 'unauthenticated');
      assert.equal((await api(ATTACKER)).code, 'unauthenticated', 'no token at all counts too');
      for (let i = 0; i < MAX_FAILURES - 3; i++) assert.equal((await api(ATTACKER, badToken())).status, 401);
      assert.equal((await api(ATTACKER, relay.adminToken)).status, 200);
      assert.equal((await bruteForceEvents()).length, 0);
    });

    it('the failure that reaches the threshold raises one event and blocks the address, a valid token included', async () => {
      assert.equal((await api(ATTACKER, badToken())).status, 401);
      let events = await bruteForceEvents();
      for (let i = 0; i < 250 && events.length === 0; i++) {
        await delay(20);
        events = await bruteForceEvents();
      }
      assert.equal(events.length, 1);
      assert.equal(events[0]?.subject, ATTACKER);
      assert.equal(events[0]?.severity, 'high');

      const refused = await api(ATTACKER, relay.adminToken);
      assert.equal(refused.status, 429);
      assert.equal(refused.code, 'too_many_auth_failures');
      const retry = Number(refused.headers['retry-after']);
      assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= BLOCK_SECONDS, `Retry-After ${retry}`);
    });

    it('the proxy refuses the blocked address too: one guard for both listeners', async () => {
      const proxied = await getFrom(relay.proxyUrl, ATTACKER, '/conn_any/v1/x', issueToken('proxy').token);
      assert.equal(proxied.status, 429);
      assert.equal(proxied.headers['relay-decision'], 'too_many_auth_failures');
    });

    it('other addresses and the public health checks are unaffected', async () => {
      assert.equal((await api(BYSTANDER, relay.adminToken)).status, 200);
      assert.equal((await getFrom(relay.apiUrl, ATTACKER, '/healthz')).status, 200);
    });

    it('hammering on while blocked raises no further events', async () => {
      for (let i = 0; i < 3 * MAX_FAILURES; i++) assert.equal((await api(ATTACKER, badToken())).status, 429);
      await delay(100);
      assert.equal((await bruteForceEvents()).length, 1);
    });
  });
}
