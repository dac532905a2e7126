/**
 * Settings of `bench/interleave.ts`, read once from the environment.
 *
 * BENCH_VARIANTS lists what to compare, separated by `;`, each one of:
 *   minimal                       the minimal Node proxy (bench/minimal-proxy.ts)
 *   relay                         Relay from this checkout
 *   relay@DIR                     Relay from another checkout (a `git worktree` of another commit)
 *   … --flag --other              either of the two above with node flags (as BENCH_RELAY_NODE_ARGS)
 *   …:RELAY_X=1,RELAY_Y=2         either of the above with settings (as BENCH_RELAY_ENV)
 * The first variant is the baseline every ratio is taken against.
 */
import { nodeFlags, relaySettings } from './config.ts';

export interface Variant {
  readonly label: string;
  readonly kind: 'minimal' | 'relay';
  /** Checkout whose `bin/relay.js` is started; undefined: this one. */
  readonly root: string | undefined;
  readonly settings: Readonly<Record<string, string>>;
  readonly nodeArgs: readonly string[];
}

export interface InterleaveConfig {
  readonly variants: readonly Variant[];
  /** Slices per variant (BENCH_SLICES, default 10). */
  readonly slices: number;
  /** Unmeasured lead-in of each slice (BENCH_SLICE_WARMUP_MS, default 1000). */
  readonly warmupMs: number;
  /** Measured part of each slice (BENCH_SLICE_MS, default 2000). */
  readonly measureMs: number;
  /** Keep-alive connections of the closed loop (BENCH_CONNECTIONS, default 32). */
  readonly connections: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function variant(text: string): Variant {
  const colon = text.indexOf(':');
  const [head = '', ...flags] = (colon === -1 ? text : text.slice(0, colon)).trim().split(/\s+/);
  const settings = colon === -1 ? {} : relaySettings({ BENCH_RELAY_ENV: text.slice(colon + 1) });
  const nodeArgs = nodeFlags(flags.join(' '), 'BENCH_VARIANTS');
  if (head === 'minimal') {
    if (colon !== -1 || nodeArgs.length > 0)
      throw new Error('BENCH_VARIANTS: the minimal proxy takes no settings or flags');
    return { label: 'minimal', kind: 'minimal', root: undefined, settings, nodeArgs };
  }
  const match = /^relay(?:@(.+))?$/.exec(head);
  if (!match) throw new Error(`BENCH_VARIANTS: expected minimal, relay or relay@DIR, got "${head}"`);
  return { label: text.trim(), kind: 'relay', root: match[1], settings, nodeArgs };
}

function count(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

export function readInterleaveConfig(env: Env): InterleaveConfig {
  const raw = env['BENCH_VARIANTS'] ?? 'minimal;relay';
  const variants = raw
    .split(';')
    .map((v) => v.trim())
    .filter((v) => v !== '')
    .map(variant);
  if (variants.length < 2) throw new Error('BENCH_VARIANTS: name at least two variants to compare');
  return Object.freeze({
    variants,
    slices: count(env, 'BENCH_SLICES', 10),
    warmupMs: count(env, 'BENCH_SLICE_WARMUP_MS', 1000),
    measureMs: count(env, 'BENCH_SLICE_MS', 2000),
    connections: count(env, 'BENCH_CONNECTIONS', 32),
  });
}
