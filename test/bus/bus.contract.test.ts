import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/adapters/memory/memory-bus.ts';
import { openRedisBus, type RedisBus } from '../../src/adapters/redis/redis-bus.ts';
import type { Bus, Invalidation } from '../../src/ports/bus.ts';
import { onCleanup } from '../harness.ts';
import { REDIS_URL, skipWithoutRedis } from '../rate-limit/redis.ts';

/**
 * One contract, both buses (as the store suites loop over DIALECTS). A "cluster"
 * is what the nodes of one deployment share: for the in-process bus that is one
 * process, so every node is the same bus; for Redis each node is a bus of its
 * own on its own connections, on a channel private to the test.
 */
interface Impl {
  readonly name: string;
  readonly skip: string | false;
  /** True when each node is an instance of its own (messages cross a network). */
  readonly separate: boolean;
  cluster(): { node(): Promise<Bus> };
}

const IMPLS: readonly Impl[] = [
  {
    name: 'memory',
    skip: false,
    separate: false,
    cluster() {
      const bus = new MemoryBus();
      return { node: async () => bus };
    },
  },
  {
    name: 'redis',
    skip: skipWithoutRedis(),
    separate: true,
    cluster() {
      const channel = `relay:invalidate:test:${process.pid}:${randomBytes(4).toString('hex')}`;
      return {
        async node() {
          const bus: RedisBus = openRedisBus(REDIS_URL, { channel });
          onCleanup(() => bus.close());
          await bus.ready();
          return bus;
        },
      };
    },
  },
];

let seq = 0;
const message = (kind: Invalidation['kind'] = 'credential'): Invalidation => ({
  kind,
  workspaceId: 'ws_contract',
  id: `${kind}_${++seq}`,
});

/** Collects what a node's handler receives; `next(n)` resolves once `n` messages have arrived. */
function recorder(bus: Bus) {
  const received: Invalidation[] = [];
  const waiters = new Set<() => void>();
  const stop = bus.onInvalidation((m) => {
    received.push(m);
    for (const wake of waiters) wake();
  });
  return {
    received,
    stop,
    count(n: number, timeoutMs = 2000): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (received.length < n) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${n} messages expected, ${received.length} arrived`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

for (const impl of IMPLS) {
  describe(`Bus contract: ${impl.name}`, { skip: impl.skip }, () => {
    it('is healthy once it carries messages', async () => {
      const bus = await impl.cluster().node();
      assert.equal(bus.healthy, true);
    });

    it('a node applies its own message synchronously, before publishing resolves (the API answers after)', async () => {
      const a = await impl.cluster().node();
      const own = recorder(a);
      const m = message();
      const published = a.publishInvalidation(m);
      assert.deepEqual(own.received, [m], 'handlers ran inside the call');
      await published;
    });

    it('another node receives every message, whole and in order', async () => {
      const cluster = impl.cluster();
      const [a, b] = [await cluster.node(), await cluster.node()];
      const other = recorder(b);
      const sent = [message('credential'), message('recipient'), message('connection'), message('workspace')];
      for (const m of sent) await a.publishInvalidation(m);
      await other.count(sent.length);
      // The node that sent them received them too (own messages come back as well on Redis).
      if (a === b) assert.deepEqual(other.received, sent);
      else assert.deepEqual(other.received.slice(0, sent.length), sent);
    });

    it('every handler gets it; one that unsubscribed does not', async () => {
      const cluster = impl.cluster();
      const [a, b] = [await cluster.node(), await cluster.node()];
      const first = recorder(b);
      const second = recorder(b);
      const gone = recorder(b);
      gone.stop();
      await a.publishInvalidation(message());
      await Promise.all([first.count(1), second.count(1)]);
      assert.equal(first.received.length, 1);
      assert.equal(gone.received.length, 0);
    });

    it('close stops delivery to that node, and publishing on it afterwards is a no-op', async () => {
      const cluster = impl.cluster();
      const [a, b, witness] = [await cluster.node(), await cluster.node(), await cluster.node()];
      const closed = recorder(b);
      const live = recorder(witness);
      await b.close();
      await a.publishInvalidation(message());
      await b.publishInvalidation(message());
      // On separate nodes the witness proves the message went out; in process it went nowhere.
      if (impl.separate) await live.count(1);
      assert.equal(closed.received.length, 0);
    });
  });
}
