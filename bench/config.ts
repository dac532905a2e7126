/**
 * Benchmark settings, read once from the environment. Every phase is bounded by
 * these durations so `npm run bench` always ends by itself.
 */

export const TARGET_NAMES = ['direct', 'minimal', 'relay'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface BenchConfig {
  /** Measured part of each phase (BENCH_SECONDS, default 5). */
  readonly measureMs: number;
  /** Unmeasured warmup before each phase (BENCH_WARMUP_SECONDS, default 2). */
  readonly warmupMs: number;
  /** Fixed arrival rate of the latency phase (BENCH_RATE, default 2000 req/s). */
  readonly rate: number;
  /** Concurrent keep-alive connections of the saturation phase (BENCH_CONNECTIONS, default 32). */
  readonly connections: number;
  /**
   * Rounds over all targets, interleaved (BENCH_ROUNDS, default 3). With more than
   * one, each figure is the median over rounds, and each ratio the median of the
   * rounds' own ratios: on a shared two-core machine a single round's ratio swings
   * by fifteen points or more, so one round is no measurement of a target.
   */
  readonly rounds: number;
  /** Targets to run, in order (BENCH_TARGETS, default `direct,minimal,relay`). */
  readonly targets: readonly TargetName[];
  /** Extra settings for the Relay under test (BENCH_RELAY_ENV, see relaySettings). */
  readonly relaySettings: Readonly<Record<string, string>>;
  /** Node flags for the Relay under test (BENCH_RELAY_NODE_ARGS, see nodeFlags). */
  readonly relayNodeArgs: readonly string[];
}

type Env = Readonly<Record<string, string | undefined>>;

function positiveNumber(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

function isTargetName(name: string): name is TargetName {
  return (TARGET_NAMES as readonly string[]).includes(name);
}

function targets(env: Env): TargetName[] {
  const raw = env['BENCH_TARGETS'];
  if (raw === undefined || raw.trim() === '') return [...TARGET_NAMES];
  const names = raw.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!isTargetName(name))
      throw new Error(`BENCH_TARGETS: unknown target "${name}" (${TARGET_NAMES.join(', ')})`);
  }
  return names.filter(isTargetName);
}

/**
 * Settings for the Relay under test (BENCH_RELAY_ENV: `RELAY_NAME=value`, comma-separated),
 * to compare one of its settings against the default in the same conditions. Only
 * `RELAY_*` names; anything else is refused rather than ignored.
 */
export function relaySettings(env: Env): Record<string, string> {
  const raw = env['BENCH_RELAY_ENV'];
  const settings: Record<string, string> = {};
  if (raw === undefined || raw.trim() === '') return settings;
  for (const pair of raw.split(',')) {
    const match = /^\s*(RELAY_[A-Z0-9_]+)=(.*)$/.exec(pair);
    if (!match?.[1]) throw new Error(`BENCH_RELAY_ENV: expected RELAY_NAME=value, got "${pair}"`);
    settings[match[1]] = match[2] ?? '';
  }
  return settings;
}

/**
 * Node flags, space-separated (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`), for
 * profiling the Relay under test or comparing runtime settings. Only `--` flags:
 * anything else would be taken for a script or its arguments.
 */
export function nodeFlags(raw: string | undefined, name: string): string[] {
  const flags = (raw ?? '').split(/\s+/).filter((flag) => flag !== '');
  for (const flag of flags) {
    if (!flag.startsWith('--'))
      throw new Error(`${name}: expected node flags such as --cpu-prof, got "${flag}"`);
  }
  return flags;
}

export function readBenchConfig(env: Env): BenchConfig {
  return Object.freeze({
    measureMs: positiveNumber(env, 'BENCH_SECONDS', 5) * 1000,
    warmupMs: positiveNumber(env, 'BENCH_WARMUP_SECONDS', 2) * 1000,
    rate: positiveNumber(env, 'BENCH_RATE', 2000),
    connections: Math.round(positiveNumber(env, 'BENCH_CONNECTIONS', 32)),
    rounds: Math.round(positiveNumber(env, 'BENCH_ROUNDS', 3)),
    targets: targets(env),
    relaySettings: relaySettings(env),
    relayNodeArgs: nodeFlags(env['BENCH_RELAY_NODE_ARGS'], 'BENCH_RELAY_NODE_ARGS'),
  });
}
