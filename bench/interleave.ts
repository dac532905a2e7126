/**
 * Compares proxies in short interleaved slices: the tool for telling whether a
 * change to Relay helps, on a machine whose speed drifts by more than the change
 * (docs/performance.md). Every variant runs at once; the load generator takes
 * them in turn, a few seconds each (reversing the order every round), and each
 * slice's figures are divided by the baseline's slice of the same round, so
 * drift between rounds cancels. Prints the median per variant and of the
 * per-round ratios. Closed loop only (throughput and CPU per request).
 *
 *   BENCH_VARIANTS='minimal;relay@/tmp/before;relay' node bench/interleave.ts
 *
 * Settings: bench/interleave-config.ts. Relay runs as in `npm run bench`
 * (bench/relay-setup.ts: every policy on).
 */
import { fileURLToPath } from 'node:url';
import { median } from './figures.ts';
import { readInterleaveConfig, type Variant } from './interleave-config.ts';
import { forkBenchChild, killOnExit, nextMessage, stopChild } from './ipc.ts';
import { runPhase } from './phase.ts';
import type { UpstreamEvent } from './protocol.ts';
import { type RunningTarget, startTarget } from './start-target.ts';

const READY_TIMEOUT_MS = 15_000;
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

interface Slice {
  readonly rps: number;
  /** CPU µs per request: the process, its main thread, its worker threads. */
  readonly cpu: number;
  readonly main: number;
  readonly workers: number;
}

async function start(v: Variant, upstreamOrigin: string): Promise<RunningTarget> {
  const result = await startTarget(v.kind, v.root ?? repoRoot, upstreamOrigin, v.settings, v.nodeArgs);
  if (!result.ok) throw new Error(`${v.label}: ${result.reason}`);
  if (result.target.proxy !== null) killOnExit(result.target.proxy);
  return result.target;
}

function fixed(n: number, digits = 1): string {
  return n.toFixed(digits);
}

async function main(): Promise<void> {
  const config = readInterleaveConfig(process.env);
  const upstream = killOnExit(forkBenchChild('./upstream.ts'));
  const { port } = await nextMessage<UpstreamEvent, 'ready'>(upstream, 'ready', READY_TIMEOUT_MS);
  const origin = `http://127.0.0.1:${port}`;
  const generator = killOnExit(forkBenchChild('./load.ts'));
  await nextMessage<{ readonly type: 'ready' }, 'ready'>(generator, 'ready', READY_TIMEOUT_MS);
  const targets: RunningTarget[] = [];
  try {
    for (const v of config.variants) targets.push(await start(v, origin));
    const slices: Slice[][] = config.variants.map(() => []);
    for (let round = 0; round < config.slices; round++) {
      const order = config.variants.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      for (const i of order) {
        const target = targets[i] as RunningTarget;
        const pid = target.proxy?.pid;
        const phase = await runPhase(
          generator,
          {
            mode: 'closed',
            origin: target.endpoint.origin,
            path: target.endpoint.path,
            headers: target.endpoint.headers,
            connections: config.connections,
            rate: 1,
            warmupMs: config.warmupMs,
            measureMs: config.measureMs,
          },
          pid === undefined ? {} : { proxy: pid },
        );
        const { load } = phase;
        if (load.errors > 0 || Object.keys(load.statuses).some((s) => s !== '200'))
          throw new Error(
            `${config.variants[i]?.label}: ${load.errors} errors, statuses ${JSON.stringify(load.statuses)}`,
          );
        const cpu = phase.cpu['proxy'];
        const n = load.measured;
        (slices[i] as Slice[]).push({
          rps: load.requestsPerSecond,
          cpu: (cpu?.cpuUs ?? 0) / n,
          main: (cpu?.threads?.main ?? 0) / n,
          workers: (cpu?.threads?.workers ?? 0) / n,
        });
      }
      const rates = slices.map((s) => fixed((s[round] as Slice).rps, 0)).join(' ');
      process.stderr.write(`interleave: round ${round + 1}/${config.slices}: req/s ${rates}\n`);
    }
    const base = slices[0] as Slice[];
    console.log(
      `${config.slices} rounds of ${config.measureMs / 1000} s slices; ratios against ${config.variants[0]?.label}, medians of the rounds' own ratios`,
    );
    console.log(
      'variant'.padEnd(28),
      'req/s'.padStart(7),
      'CPU µs/req'.padStart(11),
      'main'.padStart(6),
      'workers'.padStart(8),
      '  req/s ratio',
      ' CPU ratio',
    );
    config.variants.forEach((v, i) => {
      const s = slices[i] as Slice[];
      const ratio = (key: 'rps' | 'cpu') =>
        median(s.map((x, k) => x[key] / ((base[k] as Slice)[key] || Number.NaN)));
      console.log(
        v.label.slice(0, 28).padEnd(28),
        fixed(median(s.map((x) => x.rps)), 0).padStart(7),
        fixed(median(s.map((x) => x.cpu))).padStart(11),
        fixed(median(s.map((x) => x.main))).padStart(6),
        fixed(median(s.map((x) => x.workers))).padStart(8),
        i === 0 ? '' : `${fixed(100 * ratio('rps'))} %`.padStart(13),
        i === 0 ? '' : `${fixed(100 * ratio('cpu'))} %`.padStart(10),
      );
    });
  } finally {
    for (const target of targets) await target.stop();
    generator.send({ type: 'exit' });
    await Promise.all([stopChild(generator), stopChild(upstream)]);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`interleave: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
