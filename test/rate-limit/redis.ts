import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisRateLimiter } from '../../src/adapters/redis/redis-rate-limiter.ts';
import type { StoreDialect } from '../../src/ports/store.ts';
import { onCleanup, skipFor } from '../harness.ts';

/**
 * Redis for the limiter suites. Runs are skipped with a visible notice when no
 * server answers, unless RELAY_REQUIRE_POSTGRES=true: CI sets that flag to
 * demand the cluster shape's services, and the cluster shape is PostgreSQL
 * *and* Redis (SPEC §1), so the same flag also turns a missing Redis into a failure.
 */
export const REDIS_URL = process.env.RELAY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const requireRedis = /^(1|true|yes)$/i.test(process.env.RELAY_REQUIRE_POSTGRES ?? '');

async function probeRedis(): Promise<string | undefined> {
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return (error as Error).message || String(error);
  } finally {
    client.disconnect();
  }
}

const redisProblem = await probeRedis();
if (redisProblem !== undefined) {
  if (requireRedis)
    throw new Error(
      `RELAY_REQUIRE_POSTGRES is set but Redis is unreachable at ${REDIS_URL}: ${redisProblem}`,
    );
  process.stderr.write(
    `\n*** NOTICE: Redis unreachable (${redisProblem}); Redis test runs are SKIPPED ***\n\n`,
  );
}

/** `skip` option for a suite that needs Redis. */
export function skipWithoutRedis(): string | false {
  return redisProblem === undefined ? false : `Redis unreachable: ${redisProblem}`;
}

/** A client for direct inspection and cleanup, closed after the file. */
export function redisClient(): Redis {
  const client = new Redis(REDIS_URL);
  onCleanup(() => client.quit().catch(() => client.disconnect()));
  return client;
}

/** A key prefix of its own, so concurrent runs never share buckets; its keys are deleted afterwards. */
export function testPrefix(): string {
  const prefix = `relay:rl:test:${process.pid}:${randomBytes(4).toString('hex')}:`;
  onCleanup(() => deleteKeys(`${prefix}*`));
  return prefix;
}

/** A Redis limiter on its own connection, closed after the file. */
export function redisLimiter(prefix: string): RedisRateLimiter {
  const limiter = new RedisRateLimiter(new Redis(REDIS_URL), { prefix });
  onCleanup(() => limiter.close());
  return limiter;
}

/** Deletes every key matching `pattern` (SCAN, not KEYS: never blocks the server). */
export async function deleteKeys(pattern: string): Promise<void> {
  if (redisProblem !== undefined) return;
  const client = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
}

/**
 * The two deployment shapes of SPEC §1, for suites that start a whole Relay:
 * single node (SQLite, in-process limiter) and cluster (PostgreSQL, Redis).
 */
export interface Shape {
  readonly name: string;
  readonly dialect: StoreDialect;
  /** Extra environment for startTestRelay. */
  readonly env: Readonly<Record<string, string>>;
  readonly skip: string | false;
}

export const SHAPES: readonly Shape[] = [
  { name: 'single node (sqlite, memory limiter)', dialect: 'sqlite', env: {}, skip: skipFor('sqlite') },
  {
    name: 'cluster (postgres, redis limiter)',
    dialect: 'postgres',
    env: { RELAY_REDIS_URL: REDIS_URL },
    skip: skipFor('postgres') || skipWithoutRedis(),
  },
];
