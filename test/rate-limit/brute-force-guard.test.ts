import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { MemoryRateLimiter } from '../../src/adapters/memory/memory-rate-limiter.ts';
import type { RedisRateLimiter } from '../../src/adapters/redis/redis-rate-limiter.ts';
import { createLogger } from '../../src/logger.ts';
import { BruteForceGuard, throttledAddress } from '../../src/planes/proxy/brute-force.ts';
import type { RateLimiter } from '../../src/ports/rate-limiter.ts';
import type { RaiseInput } from '../../src/services/security-events.ts';
import { redisLimiter, skipWithoutRedis, testPrefix } from './redis.ts';

/**
 * The brute-force guard over both limiters, on a clock the test steps. With
 * Redis, two guards stand for two nodes sharing one Redis.
 */
interface Node {
  readonly guard: BruteForceGuard;
  readonly limiter: RateLimiter;
}

const silent = createLogger('silent');

function cluster(limiters: readonly RateLimiter[], clock: { now(): number }) {
  const events: RaiseInput[] = [];
  const nodes: Node[] = limiters.map((limiter) => ({
    limiter,
    guard: new BruteForceGuard({
      limiter,
      clock,
      logger: silent,
      raise: async (event) => {
        events.push(event);
      },
      maxFailures: 5,
      windowSeconds: 60,
      blockSeconds: 300,
    }),
  }));
  return { nodes, events };
}

/** Lets strikes settle: memory answers in a microtask, Redis in a round trip plus its pub/sub notice. */
async function settle(until: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !until(); i++) await delay(5);
}

interface Impl {
  readonly name: string;
  readonly skip: string | false;
  limiters(): Promise<RateLimiter[]>;
}

const IMPLS: readonly Impl[] = [
  { name: 'memory', skip: false, limiters: async () => [new MemoryRateLimiter()] },
  {
    name: 'redis, two nodes',
    skip: skipWithoutRedis(),
    limiters: async () => {
      const prefix = testPrefix();
      const pair = [redisLimiter(prefix), redisLimiter(prefix)];
      return pair;
    },
  },
];

for (const impl of IMPLS) {
  describe(`brute-force guard: ${impl.name}`, { skip: impl.skip }, () => {
    const setup = async () => {
      let now = 1_700_000_000_000;
      const clock = { now: () => now };
      const limiters = await impl.limiters();
      const c = cluster(limiters, clock);
      // Redis: wait until every node hears hold notices before the first strike.
      for (const l of limiters) if ('ready' in l) await (l as RedisRateLimiter).ready();
      return { ...c, step: (ms: number) => (now += ms) };
    };

    it('blocks the address at the threshold, on every node, with one event; other addresses pass', async () => {
      const { nodes, events } = await setup();
      const node = (i: number) => (nodes[i % nodes.length] as Node).guard;
      for (let i = 0; i < 4; i++) node(i).failed('203.0.113.7', `req_${i}`);
      await delay(50);
      assert.ok(
        nodes.every((n) => n.guard.blocked('203.0.113.7') === undefined),
        'four failures do not block',
      );
      node(4).failed('203.0.113.7', 'req_4');
      await settle(() => nodes.every((n) => n.guard.blocked('203.0.113.7') !== undefined));
      for (const n of nodes) {
        const refusal = n.guard.blocked('203.0.113.7');
        assert.equal(refusal?.code, 'too_many_auth_failures');
        assert.equal(refusal?.headers?.['retry-after'], '300');
      }
      assert.equal(nodes[0]?.guard.blocked('203.0.113.8'), undefined, 'another address is not blocked');
      await settle(() => events.length > 0);
      assert.equal(events.length, 1);
      assert.deepEqual(
        { ...events[0], detail: undefined },
        {
          workspaceId: '',
          kind: 'brute_force',
          severity: 'high',
          subject: '203.0.113.7',
          detail: undefined,
        },
      );
    });

    it('a burst of failures past the threshold, across nodes, raises one event only', async () => {
      const { nodes, events } = await setup();
      for (let i = 0; i < 40; i++) (nodes[i % nodes.length] as Node).guard.failed('198.51.100.9', `req_${i}`);
      await settle(() => events.length > 0 && nodes.every((n) => n.guard.blocked('198.51.100.9')));
      await delay(50);
      assert.equal(events.length, 1);
    });

    it('the block ends after the block time, and counting starts afresh', async () => {
      const { nodes, events, step } = await setup();
      const guard = (nodes[0] as Node).guard;
      for (let i = 0; i < 5; i++) guard.failed('192.0.2.44', 'r');
      await settle(() => guard.blocked('192.0.2.44') !== undefined);
      step(299_000);
      assert.equal(guard.blocked('192.0.2.44')?.headers?.['retry-after'], '1');
      step(1_000);
      assert.equal(guard.blocked('192.0.2.44'), undefined);
      guard.failed('192.0.2.44', 'r');
      await delay(50);
      assert.equal(
        guard.blocked('192.0.2.44'),
        undefined,
        'one failure after the block does not block again',
      );
      for (let i = 0; i < 4; i++) guard.failed('192.0.2.44', 'r');
      await settle(() => events.length === 2);
      assert.equal(events.length, 2, 'a second episode is a second event');
    });

    it('failures spread beyond the window do not block', async () => {
      const { nodes, step } = await setup();
      const guard = (nodes[0] as Node).guard;
      for (let i = 0; i < 12; i++) {
        guard.failed('192.0.2.99', 'r');
        await delay(5);
        step(20_000); // 3 failures per 60 s window at most
      }
      await delay(50);
      assert.equal(guard.blocked('192.0.2.99'), undefined);
    });

    it('a guard made after a block knows of it at once: a node that starts later', async () => {
      const { nodes, events } = await setup();
      const first = (nodes[0] as Node).guard;
      for (let i = 0; i < 5; i++) first.failed('198.51.100.9', `req_${i}`);
      await settle(() => events.length === 1);
      const late = new BruteForceGuard({
        limiter: (nodes.at(-1) as Node).limiter,
        clock: { now: () => 1_700_000_000_000 },
        logger: silent,
        raise: async () => {},
        maxFailures: 5,
        windowSeconds: 60,
        blockSeconds: 300,
      });
      await late.loaded;
      assert.equal(late.blocked('198.51.100.9')?.code, 'too_many_auth_failures');
      assert.equal(late.blocked('198.51.100.10'), undefined);
      late.close();
    });

    it('an IPv6 /64 counts as one address', async () => {
      const { nodes } = await setup();
      const guard = (nodes[0] as Node).guard;
      for (let i = 1; i <= 5; i++) guard.failed(`2001:db8:5:6::${i.toString(16)}`, 'r');
      await settle(() => guard.blocked('2001:db8:5:6:ffff::1') !== undefined);
      assert.equal(guard.blocked('2001:db8:5:6:ffff::1')?.code, 'too_many_auth_failures');
      assert.equal(guard.blocked('2001:db8:5:7::1'), undefined, 'the next /64 is someone else');
    });
  });
}

describe('throttledAddress', () => {
  it('keeps IPv4 as is and groups IPv6 by /64', () => {
    assert.equal(throttledAddress('127.0.0.1'), '127.0.0.1');
    assert.equal(throttledAddress('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
    assert.equal(throttledAddress('::1'), '0:0:0:0::/64');
  });
});

describe('brute-force guard switched off', () => {
  it('RELAY_BRUTE_FORCE_MAX_FAILURES=0 counts nothing', async () => {
    const events: RaiseInput[] = [];
    const guard = new BruteForceGuard({
      limiter: new MemoryRateLimiter(),
      clock: { now: () => 0 },
      logger: silent,
      raise: async (e) => {
        events.push(e);
      },
      maxFailures: 0,
      windowSeconds: 60,
      blockSeconds: 300,
    });
    for (let i = 0; i < 100; i++) guard.failed('10.0.0.1', 'r');
    await delay(10);
    assert.equal(guard.blocked('10.0.0.1'), undefined);
    assert.equal(events.length, 0);
  });
});
