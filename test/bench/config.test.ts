import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readBenchConfig, relaySettings } from '../../bench/config.ts';

describe('BENCH_RELAY_ENV', () => {
  it('is empty by default: Relay runs on its defaults', () => {
    assert.deepEqual(relaySettings({}), {});
    assert.deepEqual(readBenchConfig({}).relaySettings, {});
  });

  it('passes RELAY_* settings, comma-separated, values kept whole', () => {
    assert.deepEqual(relaySettings({ BENCH_RELAY_ENV: 'RELAY_AUDIT_WORKER_NICE=0,RELAY_X=a=b' }), {
      RELAY_AUDIT_WORKER_NICE: '0',
      RELAY_X: 'a=b',
    });
  });

  for (const bad of ['NODE_OPTIONS=--inspect', 'RELAY_AUDIT_FLUSH_MS', 'relay_x=1']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => readBenchConfig({ BENCH_RELAY_ENV: bad }), /BENCH_RELAY_ENV/);
    });
  }
});

describe('BENCH_RELAY_NODE_ARGS', () => {
  it('is empty by default, and split on whitespace', () => {
    assert.deepEqual(readBenchConfig({}).relayNodeArgs, []);
    assert.deepEqual(
      readBenchConfig({ BENCH_RELAY_NODE_ARGS: ' --cpu-prof  --cpu-prof-dir=/tmp/p ' }).relayNodeArgs,
      ['--cpu-prof', '--cpu-prof-dir=/tmp/p'],
    );
  });

  it('refuses anything but -- flags', () => {
    assert.throws(
      () => readBenchConfig({ BENCH_RELAY_NODE_ARGS: '--cpu-prof x.js' }),
      /BENCH_RELAY_NODE_ARGS/,
    );
  });
});

describe('BENCH_ROUNDS', () => {
  it('is 3 by default: the figures are medians of three interleaved rounds', () => {
    assert.equal(readBenchConfig({}).rounds, 3);
    assert.equal(readBenchConfig({ BENCH_ROUNDS: '1' }).rounds, 1);
  });
});
