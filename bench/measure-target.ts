import type { ChildProcess } from 'node:child_process';
import { request } from 'undici';
import type { BenchConfig } from './config.ts';
import { nextMessage } from './ipc.ts';
import { type PhaseResult, runPhase } from './phase.ts';
import type { LoadSpec, UpstreamEvent, UpstreamStats } from './protocol.ts';

/** Where the load generator sends its requests for one target. */
export interface Endpoint {
  readonly origin: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface TargetResult {
  readonly saturation: PhaseResult;
  readonly fixedRate: PhaseResult;
  /** What the fake upstream saw during both phases (warmups included). */
  readonly upstream: UpstreamStats;
  /** Requests answered to the bench, smoke check included (for the audit comparison). */
  readonly answered: number;
}

export interface Rig {
  readonly config: BenchConfig;
  readonly generator: ChildProcess;
  readonly upstream: ChildProcess;
}

/** One request before the load: a target that does not answer 200 is not worth measuring. */
async function smokeCheck(endpoint: Endpoint): Promise<void> {
  const response = await request(new URL(endpoint.path, endpoint.origin), {
    headers: { ...endpoint.headers },
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) {
    throw new Error(`smoke request answered ${response.statusCode}: ${text.slice(0, 300)}`);
  }
}

async function takeUpstreamStats(upstream: ChildProcess): Promise<UpstreamStats> {
  const reply = nextMessage<UpstreamEvent, 'stats'>(upstream, 'stats', 10_000);
  upstream.send({ type: 'take-stats' });
  return (await reply).stats;
}

/**
 * Measures one target: saturation (closed loop), then latency at the fixed rate
 * (open loop). `proxyPid` is the process tree whose CPU is the proxy's; null for
 * the direct run.
 */
export async function measureTarget(
  rig: Rig,
  endpoint: Endpoint,
  proxyPid: number | null,
): Promise<TargetResult> {
  const { config, generator, upstream } = rig;
  await takeUpstreamStats(upstream);
  await smokeCheck(endpoint);
  const watched: Record<string, number> = {};
  if (proxyPid !== null) watched['proxy'] = proxyPid;
  if (upstream.pid !== undefined) watched['upstream'] = upstream.pid;
  if (generator.pid !== undefined) watched['generator'] = generator.pid;
  const base = {
    origin: endpoint.origin,
    path: endpoint.path,
    headers: endpoint.headers,
    connections: config.connections,
    rate: config.rate,
    warmupMs: config.warmupMs,
    measureMs: config.measureMs,
  };
  const saturationSpec: LoadSpec = { ...base, mode: 'closed' };
  const fixedRateSpec: LoadSpec = { ...base, mode: 'open' };
  const saturation = await runPhase(generator, saturationSpec, watched);
  const fixedRate = await runPhase(generator, fixedRateSpec, watched);
  const stats = await takeUpstreamStats(upstream);
  return {
    saturation,
    fixedRate,
    upstream: stats,
    answered: 1 + saturation.load.answered + fixedRate.load.answered,
  };
}
