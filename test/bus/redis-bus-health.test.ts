import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { openRedisBus, type RedisBus, type RedisBusOptions } from '../../src/adapters/redis/redis-bus.ts';
import type { Invalidation } from '../../src/ports/bus.ts';
import { onCleanup } from '../harness.ts';
import { skipWithoutRedisServer, startOwnRedis } from './redis-server.ts';

/**
 * Health of the Redis bus (issue 7, point 1): it is healthy only while its
 * subscriber is connected and subscribed, so a node that may be missing
 * invalidations knows it and its caches fail closed.
 */

const CHANNEL = 'relay:invalidate';

function bus(url: string, options: RedisBusOptions = {}): RedisBus {
  const b = openRedisBus(url, { publishTimeoutMs: 200, ...options });
  onCleanup(() => b.close());
  return b;
}

/** Every health change, and a way to wait for the next one to a given value. */
function healthLog(b: RedisBus) {
  const changes: boolean[] = [];
  const waiters = new Set<() => void>();
  b.onHealth((healthy) => {
    changes.push(healthy);
    for (const wake of waiters) wake();
  });
  return {
    changes,
    until(value: boolean, timeoutMs = 5000): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (b.healthy !== value) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`bus not ${value ? 'healthy' : 'unhealthy'} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

const m = (id: string): Invalidation => ({ kind: 'credential', workspaceId: 'ws_health', id });

describe('RedisBus health', { skip: skipWithoutRedisServer(), timeout: 30_000 }, () => {
  it('turns unhealthy as soon as Redis dies, and healthy again only once re-subscribed', async () => {
    const redis = await startOwnRedis();
    const node = bus(redis.url);
    const health = healthLog(node);
    await node.ready();
    const received: Invalidation[] = [];
    node.onInvalidation((x) => received.push(x));

    const cutAt = performance.now();
    await redis.kill();
    await health.until(false);
    const detectedMs = performance.now() - cutAt;
    assert.ok(detectedMs < 1000, `noticed the cut after ${detectedMs.toFixed(0)} ms`);

    // With Redis away a node still applies its own changes at once, and the API call is not held up for long.
    const started = performance.now();
    const published = node.publishInvalidation(m('cred_during_outage'));
    assert.deepEqual(received, [m('cred_during_outage')]);
    await published;
    assert.ok(performance.now() - started < 1000, 'publishing waited at most the publish timeout');

    await redis.start();
    await health.until(true);
    assert.deepEqual(health.changes, [true, false, true]);
    // Subscribed again: another node's messages arrive.
    const peer = bus(redis.url);
    await peer.ready();
    await peer.publishInvalidation(m('cred_after_reconnect'));
    const deadline = Date.now() + 2000;
    while (!received.some((x) => x.id === 'cred_after_reconnect') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(
      received.some((x) => x.id === 'cred_after_reconnect'),
      JSON.stringify(received),
    );
  });

  it('a connection that stops answering (no FIN: a silent partition) counts as lost', async () => {
    const redis = await startOwnRedis();
    const node = bus(redis.url, { heartbeatMs: 100 });
    const health = healthLog(node);
    await node.ready();
    const admin = new Redis(redis.url);
    onCleanup(() => admin.disconnect());
    // Redis answers nobody for 1.5 s: the socket stays open, the heartbeat goes unanswered.
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const pausedAt = performance.now();
    await health.until(false, 1000);
    assert.ok(performance.now() - pausedAt < 1000, 'noticed within a few heartbeats');
    await health.until(true, 5000);
    assert.deepEqual(health.changes, [true, false, true]);
  });

  it('a busy event loop is not a lost connection (the answer waiting unread counts)', async () => {
    const redis = await startOwnRedis();
    const node = bus(redis.url, { heartbeatMs: 50 });
    const health = healthLog(node);
    await node.ready();
    // Busy spells longer than the heartbeat, with only a turn of the loop between them: each
    // turn's timers send a ping, whose answer is still unread when the next turn's timers run.
    for (let i = 0; i < 6; i++) {
      const end = Date.now() + 150;
      while (Date.now() < end);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(health.changes, [true]);
  });

  it('ignores (and reports) a message that is not an invalidation', async () => {
    const redis = await startOwnRedis();
    const errors: string[] = [];
    const node = bus(redis.url, { onError: (e) => errors.push(e.message) });
    await node.ready();
    const received: Invalidation[] = [];
    node.onInvalidation((x) => received.push(x));
    const raw = new Redis(redis.url);
    onCleanup(() => raw.disconnect());
    await raw.publish(CHANNEL, 'not json');
    await raw.publish(CHANNEL, JSON.stringify({ kind: 'everything', workspaceId: 'w', id: 'x' }));
    await raw.publish(CHANNEL, JSON.stringify({ kind: 'credential', workspaceId: 'w' }));
    await raw.publish(CHANNEL, JSON.stringify(m('cred_valid')));
    const deadline = Date.now() + 2000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(received, [m('cred_valid')]);
    assert.ok(
      errors.some((e) => /malformed/.test(e)),
      JSON.stringify(errors),
    );
  });
});
