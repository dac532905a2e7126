import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from '../../src/adapters/metrics/prometheus.ts';

/** The text exposition format 0.0.4, written by hand: what a Prometheus server parses. */
describe('Prometheus text format', () => {
  it('renders counters and gauges with HELP, TYPE and escaped labels', () => {
    const registry = new Registry();
    const counter = registry.counter('relay_things_total', 'Things.\nCounted.', ['kind']);
    const gauge = registry.gauge('relay_depth', 'Depth.');
    counter.inc({ kind: 'a"b\\c\nd' });
    counter.inc({ kind: 'a"b\\c\nd' }, 2);
    counter.inc({ kind: 'plain' }, -5); // a counter never goes down: ignored
    gauge.set(7);
    assert.equal(
      registry.render(),
      [
        '# HELP relay_things_total Things.\\nCounted.',
        '# TYPE relay_things_total counter',
        'relay_things_total{kind="a\\"b\\\\c\\nd"} 3',
        '# HELP relay_depth Depth.',
        '# TYPE relay_depth gauge',
        'relay_depth 7',
        '',
      ].join('\n'),
    );
  });

  it('renders histograms with cumulative buckets, +Inf, sum and count', () => {
    const registry = new Registry();
    const h = registry.histogram('relay_seconds', 'Time.', ['route'], [0.1, 1, 0.5]);
    for (const v of [0.0625, 0.125, 0.25, 2, 0.5]) h.observe(v, { route: 'x' });
    h.observe(Number.NaN, { route: 'x' });
    assert.equal(
      registry.render(),
      [
        '# HELP relay_seconds Time.',
        '# TYPE relay_seconds histogram',
        'relay_seconds_bucket{route="x",le="0.1"} 1',
        'relay_seconds_bucket{route="x",le="0.5"} 4',
        'relay_seconds_bucket{route="x",le="1"} 4',
        'relay_seconds_bucket{route="x",le="+Inf"} 5',
        'relay_seconds_sum{route="x"} 2.9375',
        'relay_seconds_count{route="x"} 5',
        '',
      ].join('\n'),
    );
  });

  it('bounds the label sets of a metric: extra ones count as _other', () => {
    const registry = new Registry({ maxSeries: 3 });
    const counter = registry.counter('relay_by_connection_total', 'By connection.', ['connection']);
    for (let i = 0; i < 100; i++) counter.inc({ connection: `conn_${i}` });
    const lines = registry
      .render()
      .split('\n')
      .filter((l) => l.startsWith('relay_by_connection_total{'));
    assert.equal(lines.length, 4);
    assert.ok(lines.includes('relay_by_connection_total{connection="_other"} 97'));
  });

  it('reads collected values at render time, and refuses a duplicate name', () => {
    const registry = new Registry();
    const gauge = registry.gauge('relay_now', 'Now.');
    let n = 0;
    registry.onCollect(() => gauge.set(++n));
    assert.match(registry.render(), /relay_now 1/);
    assert.match(registry.render(), /relay_now 2/);
    assert.throws(() => registry.counter('relay_now', 'again'));
  });
});
