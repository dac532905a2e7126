import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TargetFigures } from '../../bench/figures.ts';
import { medianRatios, ratios } from '../../bench/report.ts';

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
