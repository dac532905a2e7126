import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TargetFigures } from '../../bench/figures.ts';
import { medianRatios, ratios, threadTable } from '../../bench/report.ts';

/** Only the figures the ratios read; the rest do not matter here. */
function figures(requestsPerSecond: number, p99Ms: number, cpu: number | null): TargetFigures {
  return {
    requests_per_second: requestsPerSecond,
    p50_ms: 1,
    p99_ms: p99Ms,
    proxy_cpu_us_per_request: cpu,
  } as unknown as TargetFigures;
}

describe('bench ratios over several rounds', () => {
  it("are the medians of each round's own ratios, so a machine's drift between rounds cancels", () => {
    // The machine runs at full speed, at half, then at full again: each round's ratio is 50 %.
    const perRound = {
      direct: [figures(40_000, 1, null), figures(20_000, 2, null), figures(40_000, 1, null)],
      minimal: [figures(20_000, 2, 50), figures(10_000, 4, 100), figures(20_000, 2, 50)],
      relay: [figures(10_000, 3, 100), figures(5_000, 6, 200), figures(10_000, 3, 100)],
    };
    const r = medianRatios(perRound);
    assert.equal(r.relay_vs_minimal_throughput_pct, 50);
    assert.equal(r.relay_vs_minimal_cpu, 2);
    assert.equal(r.relay_added_p99_ms, 2);
    assert.equal(r.minimal_vs_direct_throughput_pct, 50);
  });

  it('one round gives the plain ratios', () => {
    const one = { minimal: [figures(20_000, 2, 50)], relay: [figures(17_000, 3, 60)] };
    assert.deepEqual(medianRatios(one), ratios({ minimal: one.minimal[0], relay: one.relay[0] }));
  });

  it('a ratio missing from any round is missing', () => {
    const r = medianRatios({ minimal: [figures(20_000, 2, 50)], relay: [figures(10_000, 3, 100)] });
    assert.equal(r.relay_added_p99_ms, null, 'no direct target was measured');
  });
});

describe('bench CPU by thread', () => {
  const byThread = (main: number | null, workers: number, v8: number): TargetFigures =>
    ({
      proxy_main_cpu_us_per_request: main,
      proxy_workers_cpu_us_per_request: workers,
      proxy_v8_cpu_us_per_request: v8,
      proxy_other_cpu_us_per_request: 0,
      proxy_main_cpu_us_per_request_fixed_rate: main === null ? null : main * 2,
      proxy_workers_cpu_us_per_request_fixed_rate: workers,
      proxy_v8_cpu_us_per_request_fixed_rate: v8,
      proxy_other_cpu_us_per_request_fixed_rate: 0,
    }) as unknown as TargetFigures;

  it('shows a row for each proxy with a breakdown, in order', () => {
    const lines = threadTable(
      ['direct', 'minimal', 'relay'],
      {
        direct: byThread(null, 0, 0),
        minimal: byThread(64, 0, 1),
        relay: byThread(98, 24, 8),
      },
      2000,
    );
    assert.equal(lines.length, 3, 'a header and two rows; direct has no proxy');
    assert.match(lines[0] ?? '', /main @sat .* main @2000\/s/);
    assert.deepEqual(lines[1]?.split(/\s{2,}/), ['minimal proxy', '64', '0', '1', '0', '128', '0', '1', '0']);
    assert.deepEqual(lines[2]?.split(/\s{2,}/), ['relay', '98', '24', '8', '0', '196', '24', '8', '0']);
  });

  it('is left out where no target has one (not Linux)', () => {
    assert.deepEqual(threadTable(['minimal'], { minimal: byThread(null, 0, 0) }, 2000), []);
  });
});
