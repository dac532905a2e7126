import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Bus } from '../../src/ports/bus.ts';
import { skipWithoutRedisServer, startOwnRedis } from '../bus/redis-server.ts';
import { startFakeUpstream } from '../proxy/fake-upstream.ts';
import { assertDecision, assertPassedThrough, fullGrant, startProxyFixture } from '../proxy/proxy-helpers.ts';

/**
 * Issue 7, point 1: a node that loses Redis can no longer hear invalidations,
 * so it fails closed: nothing is served from its caches (every request reads
 * the store) until it has subscribed again, and then nothing cached before is
 * trusted. The changes below are made straight in the store, behind the bus's
 * back, as another node's change would look to a node that missed its message.
 * The cache TTL is ten minutes, so only the bus state can explain what is seen.
 */

function until(bus: Bus, healthy: boolean, timeoutMs = 5000): Promise<void> {
  if (bus.healthy === healthy) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`bus not ${healthy ? 'healthy' : 'unhealthy'} after ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = bus.onHealth((now) => {
      if (now !== healthy) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

describe('a node that loses Redis fails closed', {
  skip: skipWithoutRedisServer(),
  timeout: 60_000,
}, async () => {
  const redis = await startOwnRedis();
  const upstream = await startFakeUpstream();
  const moved = await startFakeUpstream();
  const fx = await startProxyFixture('sqlite', upstream, {
    RELAY_REDIS_URL: redis.url,
    RELAY_CREDENTIAL_CACHE_TTL_MS: '600000',
  });
  const { relay } = fx.relay.running;
  const { store, bus, clock } = relay;
  const workspaceId = fx.relay.workspaceId;
  await until(bus, true);
  await fx.connection({
    id: 'conn_outage',
    name: 'Outage API',
    base_url: upstream.url,
    auth: { type: 'bearer', secret: 'sk-outage-REAL-0001' },
  });
  const grants = [fullGrant('conn_outage')];
  const victim = await fx.credential({ grants });
  const control = await fx.credential({ grants });
  const bystander = await fx.credential({ grants });
  const person = await fx.relay.api('POST', '/api/v1/recipients', {
    name: 'Olive',
    kind: 'human',
    email: 'olive@example.test',
  });
  assert.equal(person.status, 201, JSON.stringify(person.body));
  const human = await fx.credential({ grants, recipient_id: person.body.id, ip_mode: 'confirm_new_ip' });
  const revokeInStore = (id: string) =>
    store.credentials.markRevoked(workspaceId, id, new Date(clock.now()).toISOString());

  it('while Redis is up, the cache serves (a change behind the bus is not seen: the cache is real)', async () => {
    for (const c of [victim, control, bystander])
      assertPassedThrough(await fx.get('/conn_outage/v1/x', c.token));
    assert.equal(await revokeInStore(control.id), true);
    assertPassedThrough(await fx.get('/conn_outage/v1/x', control.token));
    // The same for a trusted network: trusted on first use, then removed behind the bus.
    assertPassedThrough(await fx.get('/conn_outage/v1/x', human.token));
    const [trusted] = await store.trustedIps.list(workspaceId, person.body.id);
    assert.ok(trusted);
    assert.equal(await store.trustedIps.remove(workspaceId, person.body.id, trusted.ipGroup), true);
    assertPassedThrough(await fx.get('/conn_outage/v1/x', human.token));
  });

  it('Redis cut: a credential revoked meanwhile is refused at once by the node that had it cached', async () => {
    await redis.kill();
    await until(bus, false);
    // Still live: allowed, read from the store (and not kept: the next request reads it again).
    assertPassedThrough(await fx.get('/conn_outage/v1/x', victim.token));
    assert.equal(await revokeInStore(victim.id), true);
    assertDecision(await fx.get('/conn_outage/v1/x', victim.token), 401, 'unauthenticated');
    // The stale entry from before is not served either.
    assertDecision(await fx.get('/conn_outage/v1/x', control.token), 401, 'unauthenticated');
    // A live credential still works: read from the store on every request.
    assertPassedThrough(await fx.get('/conn_outage/v1/x', bystander.token));
    // A network no longer trusted is not believed from memory: 423, a confirmation is needed.
    assertDecision(await fx.get('/conn_outage/v1/x', human.token), 423, 'new_ip_confirmation_required');
  });

  it('Redis cut: a connection changed meanwhile is read again (its new base URL is used)', async () => {
    const connection = await store.connections.get(workspaceId, 'conn_outage');
    assert.ok(connection);
    const before = moved.hits;
    assert.equal(await store.connections.update({ ...connection, baseUrl: moved.url }), true);
    assertPassedThrough(await fx.get('/conn_outage/v1/moved', bystander.token));
    assert.equal(moved.hits, before + 1, 'the request went to the new base URL');
  });

  it('Redis cut: a workspace allowlist set meanwhile applies to the next request', async () => {
    const workspace = await store.workspaces.get(workspaceId);
    assert.ok(workspace);
    await store.workspaces.updateSettings(workspaceId, {
      ...workspace.settings,
      ip_allowlist: ['192.0.2.0/24'],
    });
    assertDecision(await fx.get('/conn_outage/v1/x', bystander.token), 403, 'ip_not_allowed');
    await store.workspaces.updateSettings(workspaceId, workspace.settings);
    assertPassedThrough(await fx.get('/conn_outage/v1/x', bystander.token));
  });

  it('Redis back: healthy again only once subscribed, and nothing cached before is trusted', async () => {
    await redis.start();
    await until(bus, true);
    assertDecision(await fx.get('/conn_outage/v1/x', victim.token), 401, 'unauthenticated');
    assertDecision(await fx.get('/conn_outage/v1/x', control.token), 401, 'unauthenticated');
    assertPassedThrough(await fx.get('/conn_outage/v1/x', bystander.token));
    // Invalidations flow again: a revocation through the API is seen at once.
    const res = await fx.relay.api('POST', `/api/v1/credentials/${bystander.id}/revoke`);
    assert.ok(res.status === 200 || res.status === 204, JSON.stringify(res.body));
    assertDecision(await fx.get('/conn_outage/v1/x', bystander.token), 401, 'unauthenticated');
    const logs = fx.relay.logs.text;
    assert.match(logs, /invalidation bus unhealthy: caches bypassed/);
    assert.match(logs, /invalidation bus healthy: caches in use/);
  });
});
