import type { LatencySummary } from './protocol.ts';

/**
 * Latency samples (ms) in a typed array allocated up front, so recording costs no
 * allocation and no garbage collection during the measured window. Samples past
 * the capacity are counted but not kept.
 */
export class LatencyRecorder {
  readonly #samples: Float64Array;
  #count = 0;
  #overflow = 0;

  constructor(capacity: number) {
    this.#samples = new Float64Array(Math.max(1, Math.ceil(capacity)));
  }

  record(ms: number): void {
    if (this.#count < this.#samples.length) this.#samples[this.#count++] = ms;
    else this.#overflow++;
  }

  get overflow(): number {
    return this.#overflow;
  }

  summary(): LatencySummary {
    return summarize(this.#samples.subarray(0, this.#count));
  }
}

/** Nearest-rank percentile of ascending samples. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export function summarize(samples: Float64Array): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  let total = 0;
  for (const value of sorted) total += value;
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? Number.NaN : total / sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] ?? Number.NaN),
  };
}
