import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readInterleaveConfig } from '../../bench/interleave-config.ts';

describe('bench/interleave settings', () => {
  it('compares the minimal proxy and this Relay by default, 10 rounds of 2 s slices', () => {
    const config = readInterleaveConfig({});
    assert.deepEqual(
      config.variants.map((v) => [v.kind, v.root]),
      [
        ['minimal', undefined],
        ['relay', undefined],
      ],
    );
    assert.deepEqual(
      [config.slices, config.warmupMs, config.measureMs, config.connections],
      [10, 1000, 2000, 32],
    );
  });

  it('reads another checkout and settings per variant', () => {
    const config = readInterleaveConfig({
      BENCH_VARIANTS: 'relay@/tmp/before; relay:RELAY_AUDIT_FLUSH_MS=50,RELAY_X=a=b ;minimal',
      BENCH_SLICES: '4',
    });
    assert.deepEqual(
      config.variants.map((v) => [v.kind, v.root, v.settings]),
      [
        ['relay', '/tmp/before', {}],
        ['relay', undefined, { RELAY_AUDIT_FLUSH_MS: '50', RELAY_X: 'a=b' }],
        ['minimal', undefined, {}],
      ],
    );
    assert.equal(config.slices, 4);
  });

  it('reads node flags per Relay variant, before its settings', () => {
    const config = readInterleaveConfig({
      BENCH_VARIANTS: 'minimal;relay --single-threaded-gc --max-semi-space-size=64:RELAY_X=1;relay',
    });
    assert.deepEqual(
      config.variants.map((v) => [v.kind, v.nodeArgs, v.settings]),
      [
        ['minimal', [], {}],
        ['relay', ['--single-threaded-gc', '--max-semi-space-size=64'], { RELAY_X: '1' }],
        ['relay', [], {}],
      ],
    );
  });

  for (const [name, env] of [
    ['one variant', { BENCH_VARIANTS: 'relay' }],
    ['an unknown variant', { BENCH_VARIANTS: 'minimal;nginx' }],
    ['settings on the minimal proxy', { BENCH_VARIANTS: 'minimal:RELAY_X=1;relay' }],
    ['flags on the minimal proxy', { BENCH_VARIANTS: 'minimal --single-threaded-gc;relay' }],
    ['a flag that is not a -- flag', { BENCH_VARIANTS: 'minimal;relay script.js' }],
    ['a setting that is not RELAY_*', { BENCH_VARIANTS: 'minimal;relay:NODE_OPTIONS=--inspect' }],
    ['a non-integer slice count', { BENCH_SLICES: '2.5' }],
  ] as const) {
    it(`refuses ${name}`, () => {
      assert.throws(() => readInterleaveConfig(env));
    });
  }
});
