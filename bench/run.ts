/**
 * `npm run bench`: the proxy benchmark (docs/performance.md). On loopback, with
 * each piece in its own process — fake upstream, load generator, proxy under
 * test — it measures, in one run, direct to the upstream, a minimal Node proxy
 * and Relay: requests/s at saturation, p50/p99 at a fixed rate, CPU per request
 * of the proxy process, and the ratios. Prints a table and a final JSON line.
 */
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { AuditCount } from './audit-count.ts';
import { type BenchConfig, readBenchConfig, type TargetName } from './config.ts';
import { combineRounds, problemsOf, type TargetFigures, targetFigures, warningsOf } from './figures.ts';
import { forkBenchChild, killOnExit, nextMessage, stopChild } from './ipc.ts';
import { measureTarget, type Rig } from './measure-target.ts';
import type { UpstreamEvent } from './protocol.ts';
import { medianRatios, ratioLines, ratios, resultTable, threadTable } from './report.ts';
import { type RunningTarget, startTarget } from './start-target.ts';

const READY_TIMEOUT_MS = 15_000;
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Named in the report, so a figure taken with non-default settings is never mistaken for the default. */
function relaySettingsLine(config: BenchConfig): string[] {
  const names = Object.entries(config.relaySettings).map(([name, value]) => `${name}=${value}`);
  return [
    ...(names.length === 0 ? [] : [`relay settings (BENCH_RELAY_ENV): ${names.join(', ')}`]),
    ...(config.relayNodeArgs.length === 0
      ? []
      : [`relay node flags (BENCH_RELAY_NODE_ARGS): ${config.relayNodeArgs.join(' ')}`]),
  ];
}

function header(config: BenchConfig): string {
  const cpu = cpus();
  const rounds = config.rounds > 1 ? `; median of ${config.rounds} interleaved rounds` : '';
  return [
    `Relay proxy benchmark — ${cpu.length} CPU (${cpu[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`,
    `warmup ${config.warmupMs / 1000} s + measure ${config.measureMs / 1000} s per phase${rounds}`,
    ...relaySettingsLine(config),
    `saturation: closed loop, ${config.connections} keep-alive connections`,
    `latency: open loop at ${config.rate} req/s, measured from each request's scheduled send time`,
  ].join('\n');
}

interface Findings {
  readonly figures: Partial<Record<TargetName, TargetFigures>>;
  readonly perRound: Partial<Record<TargetName, TargetFigures[]>>;
  readonly notes: Record<string, string>;
  readonly problems: string[];
  readonly warnings: string[];
  audit: AuditCount | null;
}

async function startAll(
  config: BenchConfig,
  upstreamOrigin: string,
  findings: Findings,
): Promise<Map<TargetName, RunningTarget>> {
  const running = new Map<TargetName, RunningTarget>();
  for (const name of config.targets) {
    progress(`starting ${name}`);
    try {
      const start = await startTarget(
        name,
        repoRoot,
        upstreamOrigin,
        config.relaySettings,
        config.relayNodeArgs,
      );
      if (!start.ok) {
        findings.notes[name] = start.reason;
        continue;
      }
      if (start.target.proxy !== null) killOnExit(start.target.proxy);
      running.set(name, start.target);
    } catch (error) {
      findings.notes[name] = message(error);
      findings.problems.push(`${name}: could not start: ${message(error)}`);
    }
  }
  return running;
}

async function measureRounds(
  rig: Rig,
  running: Map<TargetName, RunningTarget>,
  findings: Findings,
): Promise<void> {
  const { rounds } = rig.config;
  for (let round = 1; round <= rounds; round++) {
    for (const [name, target] of running) {
      progress(`${rounds > 1 ? `round ${round}/${rounds}: ` : ''}measuring ${name}`);
      try {
        const result = await measureTarget(rig, target.endpoint, target.proxy?.pid ?? null);
        const f = targetFigures(result, rig.config.rate);
        findings.perRound[name] = [...(findings.perRound[name] ?? []), f];
        const firstError = result.saturation.load.firstError ?? result.fixedRate.load.firstError;
        findings.problems.push(...problemsOf(name, f, firstError));
      } catch (error) {
        findings.notes[name] = message(error);
        findings.problems.push(`${name}: ${message(error)}`);
        running.delete(name);
        await target.stop();
      }
    }
  }
  for (const [name, list] of Object.entries(findings.perRound) as [TargetName, TargetFigures[]][]) {
    const combined = combineRounds(list);
    findings.figures[name] = combined;
    findings.warnings.push(...warningsOf(name, combined));
  }
}

async function countRelayAudit(running: Map<TargetName, RunningTarget>, findings: Findings): Promise<void> {
  const relay = running.get('relay');
  const answered = findings.figures.relay?.answered;
  if (relay?.countAudit === undefined || answered === undefined) return;
  progress('counting audit entries');
  findings.audit = await relay.countAudit(answered);
  if (findings.audit.available && findings.audit.entries < answered) {
    findings.problems.push(
      `relay: ${findings.audit.entries} audit entries for ${answered} answered requests`,
    );
  }
}

async function stopAll(running: Map<TargetName, RunningTarget>): Promise<void> {
  for (const [name, target] of running) {
    if (await target.stop())
      progress(`${name} did not exit within its grace period after SIGTERM and was killed`);
  }
}

function print(config: BenchConfig, findings: Findings): void {
  const { figures, notes, problems, warnings, audit } = findings;
  const r = config.rounds > 1 ? medianRatios(findings.perRound) : ratios(figures);
  const threads = threadTable(config.targets, figures, config.rate);
  const lines = [
    header(config),
    '',
    ...resultTable(config.targets, figures, config.rate, notes),
    ...(threads.length === 0 ? [] : ['', ...threads]),
    '',
    ...ratioLines(figures, r, audit),
    ...warnings.map((warning) => `WARNING: ${warning}`),
    ...problems.map((problem) => `ERROR: ${problem}`),
  ];
  for (const line of lines) console.log(line);
  console.log(
    JSON.stringify({
      bench: 'relay-proxy',
      node: process.version,
      cpus: cpus().length,
      config: {
        warmup_s: config.warmupMs / 1000,
        measure_s: config.measureMs / 1000,
        connections: config.connections,
        rate: config.rate,
        rounds: config.rounds,
        relay_settings: config.relaySettings,
      },
      targets: figures,
      ratios: r,
      audit,
      not_measured: notes,
      problems,
      warnings,
      ...(config.rounds > 1 ? { rounds: findings.perRound } : {}),
    }),
  );
}

async function main(): Promise<number> {
  const config = readBenchConfig(process.env);
  const phaseBoundMs = config.warmupMs + config.measureMs + 10_000;
  const watchdog = setTimeout(
    () => {
      progress('overall time limit exceeded; stopping');
      process.exit(1);
    },
    config.rounds * config.targets.length * 2 * phaseBoundMs + 300_000,
  );
  watchdog.unref();

  const upstream = killOnExit(forkBenchChild('./upstream.ts'));
  const { port } = await nextMessage<UpstreamEvent, 'ready'>(upstream, 'ready', READY_TIMEOUT_MS);
  const upstreamOrigin = `http://127.0.0.1:${port}`;
  const generator = killOnExit(forkBenchChild('./load.ts'));
  await nextMessage<{ readonly type: 'ready' }, 'ready'>(generator, 'ready', READY_TIMEOUT_MS);

  const findings: Findings = {
    figures: {},
    perRound: {},
    notes: {},
    problems: [],
    warnings: [],
    audit: null,
  };
  const running = await startAll(config, upstreamOrigin, findings);
  try {
    await measureRounds({ config, generator, upstream }, running, findings);
    await countRelayAudit(running, findings);
  } finally {
    await stopAll(running);
    generator.send({ type: 'exit' });
    await Promise.all([stopChild(generator), stopChild(upstream)]);
  }
  print(config, findings);
  return findings.problems.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
