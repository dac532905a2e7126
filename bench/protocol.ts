/** Messages exchanged over IPC between the orchestrator (`run.ts`) and its children. */

/** The fake upstream answers this path and expects this key; anything else is counted as a mismatch. */
export const UPSTREAM_PATH = '/v1/items';
export const UPSTREAM_SECRET = 'sk-upstream-bench-secret';
export const UPSTREAM_AUTHORIZATION = `Bearer ${UPSTREAM_SECRET}`;

export interface LoadSpec {
  readonly mode: 'closed' | 'open';
  readonly origin: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Closed loop: requests in flight. Open loop: size of the connection pool. */
  readonly connections: number;
  /** Open loop only: scheduled requests per second. */
  readonly rate: number;
  readonly warmupMs: number;
  readonly measureMs: number;
}

/** Latencies in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export interface LoadResult {
  readonly mode: LoadSpec['mode'];
  /** Wall time of the measured window. */
  readonly windowMs: number;
  /** Responses completed inside the measured window (closed) or scheduled in it (open). */
  readonly measured: number;
  readonly requestsPerSecond: number;
  /** Closed loop: send to response end. Open loop: scheduled send time to response end. */
  readonly latency: LatencySummary;
  /** Open loop only: actual send to response end (not corrected for coordinated omission). */
  readonly serviceLatency: LatencySummary | null;
  /** Open loop only: how late the generator sent compared to the schedule. */
  readonly sendLag: LatencySummary | null;
  /** Whole phase, warmup included. */
  readonly sent: number;
  readonly answered: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly firstError: string | null;
  /** Requests still unanswered when the phase gave up waiting. */
  readonly incomplete: number;
}

export type LoadCommand = { readonly type: 'run'; readonly spec: LoadSpec } | { readonly type: 'exit' };

export type LoadEvent =
  | { readonly type: 'ready' }
  | { readonly type: 'window'; readonly edge: 'start' | 'end' }
  | { readonly type: 'result'; readonly result: LoadResult }
  | { readonly type: 'failed'; readonly message: string };

export interface UpstreamStats {
  readonly requests: number;
  readonly badAuth: number;
  readonly badPath: number;
}

export type UpstreamCommand = { readonly type: 'take-stats' };

export type UpstreamEvent =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'stats'; readonly stats: UpstreamStats };

export type ProxyEvent = { readonly type: 'ready'; readonly port: number };
