import type { TargetResult } from './measure-target.ts';
import type { CpuWindow, PhaseResult } from './phase.ts';
import type { ThreadRole } from './proc-cpu.ts';
import type { LoadResult } from './protocol.ts';

/** The numbers reported for one target (milliseconds, requests/s, CPU µs per request). */
export interface TargetFigures {
  readonly requests_per_second: number;
  readonly saturation_p50_ms: number;
  readonly saturation_p99_ms: number;
  readonly fixed_rate_target: number;
  readonly fixed_rate_achieved: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly p999_ms: number;
  readonly service_p50_ms: number | null;
  readonly service_p99_ms: number | null;
  readonly send_lag_p99_ms: number | null;
  readonly proxy_cpu_us_per_request: number | null;
  readonly proxy_cpu_us_per_request_fixed_rate: number | null;
  readonly proxy_cpu_cores_at_saturation: number | null;
  /**
   * The proxy's CPU µs per request by thread (proc-cpu.ts ThreadRole): its event
   * loop, its worker threads (Relay's audit writer), V8's helpers (GC,
   * compilation) and the rest; at saturation, then at the fixed rate.
   */
  readonly proxy_main_cpu_us_per_request: number | null;
  readonly proxy_workers_cpu_us_per_request: number | null;
  readonly proxy_v8_cpu_us_per_request: number | null;
  readonly proxy_other_cpu_us_per_request: number | null;
  readonly proxy_main_cpu_us_per_request_fixed_rate: number | null;
  readonly proxy_workers_cpu_us_per_request_fixed_rate: number | null;
  readonly proxy_v8_cpu_us_per_request_fixed_rate: number | null;
  readonly proxy_other_cpu_us_per_request_fixed_rate: number | null;
  readonly upstream_cpu_us_per_request: number | null;
  readonly generator_cpu_us_per_request: number | null;
  readonly answered: number;
  readonly non_2xx: number;
  readonly errors: number;
  readonly incomplete: number;
  readonly upstream_bad_auth: number;
  readonly upstream_bad_path: number;
  /** Most cores used by processes outside the bench during either measured window. */
  readonly other_cpu_cores: number | null;
}

/** Foreign CPU use above which a phase's figures are flagged as unreliable. */
const OTHER_CPU_WARNING_CORES = 0.1;

function perRequest(window: CpuWindow | null | undefined, requests: number): number | null {
  return window == null || requests === 0 ? null : window.cpuUs / requests;
}

function cores(window: CpuWindow | null | undefined): number | null {
  return window == null || window.wallMs <= 0 ? null : window.cpuUs / 1000 / window.wallMs;
}

function non2xx(load: LoadResult): number {
  let count = 0;
  for (const [status, n] of Object.entries(load.statuses)) if (!status.startsWith('2')) count += n;
  return count;
}

function cpuOf(phase: PhaseResult, name: string): number | null {
  return perRequest(phase.cpu[name], phase.load.measured);
}

function threadCpuOf(phase: PhaseResult, role: ThreadRole): number | null {
  const threads = phase.cpu['proxy']?.threads;
  return threads == null || phase.load.measured === 0 ? null : threads[role] / phase.load.measured;
}

export function targetFigures(result: TargetResult, rate: number): TargetFigures {
  const sat = result.saturation;
  const fixed = result.fixedRate;
  return {
    requests_per_second: sat.load.requestsPerSecond,
    saturation_p50_ms: sat.load.latency.p50,
    saturation_p99_ms: sat.load.latency.p99,
    fixed_rate_target: rate,
    fixed_rate_achieved: fixed.load.requestsPerSecond,
    p50_ms: fixed.load.latency.p50,
    p99_ms: fixed.load.latency.p99,
    p999_ms: fixed.load.latency.p999,
    service_p50_ms: fixed.load.serviceLatency?.p50 ?? null,
    service_p99_ms: fixed.load.serviceLatency?.p99 ?? null,
    send_lag_p99_ms: fixed.load.sendLag?.p99 ?? null,
    proxy_cpu_us_per_request: cpuOf(sat, 'proxy'),
    proxy_cpu_us_per_request_fixed_rate: cpuOf(fixed, 'proxy'),
    proxy_cpu_cores_at_saturation: cores(sat.cpu['proxy']),
    proxy_main_cpu_us_per_request: threadCpuOf(sat, 'main'),
    proxy_workers_cpu_us_per_request: threadCpuOf(sat, 'workers'),
    proxy_v8_cpu_us_per_request: threadCpuOf(sat, 'v8'),
    proxy_other_cpu_us_per_request: threadCpuOf(sat, 'other'),
    proxy_main_cpu_us_per_request_fixed_rate: threadCpuOf(fixed, 'main'),
    proxy_workers_cpu_us_per_request_fixed_rate: threadCpuOf(fixed, 'workers'),
    proxy_v8_cpu_us_per_request_fixed_rate: threadCpuOf(fixed, 'v8'),
    proxy_other_cpu_us_per_request_fixed_rate: threadCpuOf(fixed, 'other'),
    upstream_cpu_us_per_request: cpuOf(sat, 'upstream'),
    generator_cpu_us_per_request: cpuOf(sat, 'generator'),
    answered: result.answered,
    non_2xx: non2xx(sat.load) + non2xx(fixed.load),
    errors: sat.load.errors + fixed.load.errors,
    incomplete: sat.load.incomplete + fixed.load.incomplete,
    upstream_bad_auth: result.upstream.badAuth,
    upstream_bad_path: result.upstream.badPath,
    other_cpu_cores:
      sat.otherCpuCores === null || fixed.otherCpuCores === null
        ? null
        : Math.max(sat.otherCpuCores, fixed.otherCpuCores),
  };
}

/** Everything that makes a target's figures untrustworthy, as sentences. */
export function problemsOf(name: string, figures: TargetFigures, firstError: string | null): string[] {
  const problems: string[] = [];
  if (figures.non_2xx > 0) problems.push(`${name}: ${figures.non_2xx} responses were not 2xx`);
  if (figures.errors > 0)
    problems.push(`${name}: ${figures.errors} requests failed (${firstError ?? 'no detail'})`);
  if (figures.incomplete > 0) problems.push(`${name}: ${figures.incomplete} requests never completed`);
  if (figures.upstream_bad_auth > 0) {
    problems.push(`${name}: upstream got ${figures.upstream_bad_auth} requests without the real key`);
  }
  if (figures.upstream_bad_path > 0) {
    problems.push(`${name}: upstream got ${figures.upstream_bad_path} requests for another path`);
  }
  if (figures.fixed_rate_achieved < figures.fixed_rate_target * 0.98) {
    problems.push(
      `${name}: open loop achieved ${figures.fixed_rate_achieved.toFixed(0)} of ${figures.fixed_rate_target} req/s`,
    );
  }
  return problems;
}

/** Conditions that do not invalidate the figures but make them noisy. */
export function warningsOf(name: string, figures: TargetFigures): string[] {
  const other = figures.other_cpu_cores;
  if (other === null || other <= OTHER_CPU_WARNING_CORES) return [];
  return [
    `${name}: other processes on this machine used up to ${other.toFixed(2)} cores while it was measured; figures are unreliable`,
  ];
}

/** Counts add up over rounds; foreign load keeps its worst; every other figure takes the median. */
const SUMMED: ReadonlySet<keyof TargetFigures> = new Set<keyof TargetFigures>([
  'answered',
  'non_2xx',
  'errors',
  'incomplete',
  'upstream_bad_auth',
  'upstream_bad_path',
]);

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

function combine(key: keyof TargetFigures, values: readonly (number | null)[]): number | null {
  const numbers = values.filter((value): value is number => value !== null);
  if (numbers.length < values.length) return null;
  if (SUMMED.has(key)) return numbers.reduce((sum, value) => sum + value, 0);
  if (key === 'other_cpu_cores') return Math.max(...numbers);
  return median(numbers);
}

/** One target's figures over several rounds. */
export function combineRounds(rounds: readonly TargetFigures[]): TargetFigures {
  const [first] = rounds;
  if (first === undefined) throw new Error('combineRounds: no rounds');
  if (rounds.length === 1) return first;
  const keys = Object.keys(first) as (keyof TargetFigures)[];
  // Same keys as `first`, each combined from numbers or nulls, so the shape is TargetFigures's.
  return Object.fromEntries(
    keys.map((key) => [
      key,
      combine(
        key,
        rounds.map((round) => round[key]),
      ),
    ]),
  ) as unknown as TargetFigures;
}
