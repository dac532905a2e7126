import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRateLimiter } from '../../src/adapters/memory/memory-rate-limiter.ts';
import { BUILTIN_RATE_PROFILES, type RateLimitProfile } from '../../src/core/rate-limit.ts';
import type { RateLimiter, StrikeRule } from '../../src/ports/rate-limiter.ts';
import { redisLimiter, skipWithoutRedis, testPrefix } from './redis.ts';

/**
 * One contract, both limiters (as the store suites loop over DIALECTS). Time is
 * injected: `now` is an arbitrary epoch, stepped by the test.
 */
interface Impl {
  readonly name: string;
  readonly skip: string | false;
  /** A limiter, and a second one sharing its state when the implementation shares state between instances. */
  create(): { limiter: RateLimiter; peer: RateLimiter | undefined };
}

const IMPLS: readonly Impl[] = [
  {
    name: 'memory',
    skip: false,
    create: () => ({ limiter: new MemoryRateLimiter(), peer: undefined }),
  },
  {
    name: 'redis',
    skip: skipWithoutRedis(),
    create: () => {
      const prefix = testPrefix();
      return { limiter: redisLimiter(prefix), peer: redisLimiter(prefix) };
    },
  },
];

const T0 = 1_700_000_000_000;
/** 600 a minute: one token every 100 ms. */
const TEN_PER_SECOND: RateLimitProfile = { name: 'ten_per_second', perMinute: 600, burst: 5 };
const restricted = BUILTIN_RATE_PROFILES.restricted as RateLimitProfile;
let seq = 0;
const freshKey = (label: string) => `${label}:${++seq}:${Math.random().toString(36).slice(2)}`;

async function takeN(limiter: RateLimiter, key: string, profile: RateLimitProfile, now: number, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await limiter.take(key, profile, now));
  return out;
}

for (const impl of IMPLS) {
  describe(`RateLimiter contract: ${impl.name}`, { skip: impl.skip }, () => {
    const { limiter, peer } = impl.skip === false ? impl.create() : { limiter: undefined, peer: undefined };
    const lim = () => limiter as RateLimiter;

    it('a fresh bucket admits exactly its burst at one instant, counting down what remains', async () => {
      const key = freshKey('burst');
      const taken = await takeN(lim(), key, restricted, T0, 5);
      assert.deepEqual(
        taken.map((d) => [d.allowed, d.remaining]),
        [
          [true, 4],
          [true, 3],
          [true, 2],
          [true, 1],
          [true, 0],
        ],
      );
      assert.ok(taken.every((d) => d.retryAfterSeconds === 0));
      const refused = await lim().take(key, restricted, T0);
      // restricted: 10/min is one token every 6 s; five tokens refill in 30 s.
      assert.deepEqual(refused, { allowed: false, remaining: 0, resetSeconds: 30, retryAfterSeconds: 6 });
    });

    it('refills over time at the profile rate, and never beyond the burst', async () => {
      const key = freshKey('refill');
      await takeN(lim(), key, TEN_PER_SECOND, T0, 5);
      assert.equal((await lim().take(key, TEN_PER_SECOND, T0 + 99)).allowed, false);
      const back = await lim().take(key, TEN_PER_SECOND, T0 + 100);
      assert.equal(back.allowed, true, 'one token is back after 100 ms');
      assert.equal(back.remaining, 0);
      const again = await lim().take(key, TEN_PER_SECOND, T0 + 100);
      assert.equal(again.allowed, false);
      assert.equal(again.retryAfterSeconds, 1, 'a wait under a second is still announced as 1 s');
      // Idle for an hour: full again, but only `burst` tokens.
      const later = T0 + 3_600_000;
      const refilled = await takeN(lim(), key, TEN_PER_SECOND, later, 6);
      assert.deepEqual(
        refilled.map((d) => d.allowed),
        [true, true, true, true, true, false],
      );
    });

    it('refill is exact: 25 takes over 2 s at 10/s with burst 5 admit 5 + 20', async () => {
      const key = freshKey('exact');
      let allowed = 0;
      for (let ms = 0; ms <= 2000; ms += 10)
        if ((await lim().take(key, TEN_PER_SECOND, T0 + ms)).allowed) allowed++;
      assert.equal(allowed, 5 + 20);
    });

    it('a clock that steps backwards mints no tokens', async () => {
      const key = freshKey('skew');
      await takeN(lim(), key, TEN_PER_SECOND, T0 + 10_000, 5);
      assert.equal((await lim().take(key, TEN_PER_SECOND, T0)).allowed, false);
      assert.equal((await lim().take(key, TEN_PER_SECOND, T0 + 10_050)).allowed, false);
      assert.equal((await lim().take(key, TEN_PER_SECOND, T0 + 10_100)).allowed, true);
    });

    it('keys are independent', async () => {
      const a = freshKey('a');
      const b = freshKey('b');
      await takeN(lim(), a, restricted, T0, 5);
      assert.equal((await lim().take(a, restricted, T0)).allowed, false);
      const fromB = await lim().take(b, restricted, T0);
      assert.equal(fromB.allowed, true);
      assert.equal(fromB.remaining, 4);
    });

    it('N parallel takes never admit more than the bucket holds', async () => {
      const key = freshKey('parallel');
      const profile: RateLimitProfile = { name: 'p', perMinute: 60, burst: 20 };
      const all = await Promise.all(Array.from({ length: 60 }, () => lim().take(key, profile, T0)));
      assert.equal(all.filter((d) => d.allowed).length, 20);
    });

    // Only for limiters whose instances share state (in-process state belongs to one instance).
    if (peer)
      it('two instances sharing the state share the bucket', async () => {
        const other = peer;
        const key = freshKey('shared');
        const profile: RateLimitProfile = { name: 'p', perMinute: 60, burst: 20 };
        const all = await Promise.all(
          Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? lim() : other).take(key, profile, T0)),
        );
        assert.equal(all.filter((d) => d.allowed).length, 20, 'two nodes together admit one burst');
        assert.equal((await other.take(key, profile, T0)).allowed, false);
      });

    const rule: StrikeRule = { limit: 3, windowSeconds: 60, holdSeconds: 300 };

    it('strikes: the limit-th strike within the window starts one hold; none counts while held', async () => {
      const key = freshKey('strike');
      assert.deepEqual(await lim().strike(key, rule, T0), { heldUntil: null, started: false });
      assert.deepEqual(await lim().strike(key, rule, T0 + 1000), { heldUntil: null, started: false });
      assert.deepEqual(await lim().strike(key, rule, T0 + 2000), {
        heldUntil: T0 + 2000 + 300_000,
        started: true,
      });
      assert.deepEqual(await lim().strike(key, rule, T0 + 3000), {
        heldUntil: T0 + 2000 + 300_000,
        started: false,
      });
      // After the hold: counting starts from zero.
      const after = T0 + 2000 + 300_000;
      assert.deepEqual(await lim().strike(key, rule, after), { heldUntil: null, started: false });
      assert.deepEqual(await lim().strike(key, rule, after + 1), { heldUntil: null, started: false });
      assert.equal((await lim().strike(key, rule, after + 2)).started, true);
    });

    it('strikes spread wider than the window never hold', async () => {
      const key = freshKey('window');
      await lim().strike(key, rule, T0);
      await lim().strike(key, rule, T0 + 1000);
      // The window opened at T0 has closed: this is strike one of a new window.
      assert.deepEqual(await lim().strike(key, rule, T0 + 60_000), { heldUntil: null, started: false });
      assert.deepEqual(await lim().strike(key, rule, T0 + 61_000), { heldUntil: null, started: false });
      assert.equal((await lim().strike(key, rule, T0 + 62_000)).started, true);
    });

    it('parallel strikes past the limit start exactly one hold', async () => {
      const key = freshKey('strike-parallel');
      const instances = peer ? [lim(), peer] : [lim()];
      const all = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (instances[i % instances.length] as RateLimiter).strike(key, rule, T0),
        ),
      );
      assert.equal(all.filter((r) => r.started).length, 1);
      assert.equal(all.filter((r) => r.heldUntil === T0 + 300_000).length, 30 - 2);
    });

    it('holds lists the keys held now under a prefix, with their ends, on every instance', async () => {
      const prefix = `${freshKey('held')}:`;
      const [a, b, once, other] = [`${prefix}a`, `${prefix}b`, `${prefix}once`, freshKey('other')];
      for (let i = 0; i < 3; i++) {
        await lim().strike(a, rule, T0);
        await lim().strike(other, rule, T0);
        await lim().strike(b, rule, T0 + 10_000);
      }
      await lim().strike(once, rule, T0);
      const sorted = (list: ReadonlyArray<readonly [string, number]>) =>
        [...list].sort(([x], [y]) => x.localeCompare(y));
      for (const instance of peer ? [lim(), peer] : [lim()]) {
        assert.deepEqual(sorted(await instance.holds(prefix, T0 + 20_000)), [
          [a, T0 + 300_000],
          [b, T0 + 310_000],
        ]);
      }
      assert.deepEqual(await lim().holds(prefix, T0 + 305_000), [[b, T0 + 310_000]], 'an ended hold is gone');
    });

    it('holds takes the prefix literally', async () => {
      const base = freshKey('glob');
      const literal = `${base}*:x`;
      const lookalike = `${base}Q:x`; // what `${base}*:` would match as a pattern
      for (let i = 0; i < 3; i++) {
        await lim().strike(literal, rule, T0);
        await lim().strike(lookalike, rule, T0);
      }
      assert.deepEqual(await lim().holds(`${base}*:`, T0), [[literal, T0 + 300_000]]);
    });

    it('every instance sharing the state hears of a hold', async () => {
      const key = freshKey('notice');
      const listener = peer ?? lim();
      const heard = new Promise<[string, number]>((resolve) => {
        const off = listener.onHold((k, until) => {
          if (k !== key) return;
          off();
          resolve([k, until]);
        });
      });
      if ('ready' in listener) await (listener as { ready(): Promise<void> }).ready();
      for (let i = 0; i < 3; i++) await lim().strike(key, rule, T0);
      assert.deepEqual(await heard, [key, T0 + 300_000]);
    });
  });
}
