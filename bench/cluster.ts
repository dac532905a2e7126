/**
 * The two-node benchmark (issue 7, point 5): two `relay start` processes on one
 * PostgreSQL database and one Redis, as a cluster runs. It prints the proxy
 * throughput of each node while both are loaded at once, and the revocation
 * propagation time: from the answer to a revoke made through one node to the
 * first refusal by the other (whose cache held the credential), both ways.
 *
 *   node bench/cluster.ts
 *   BENCH_SECONDS=10 BENCH_CONNECTIONS=32 BENCH_REVOCATIONS=100 node bench/cluster.ts
 *
 * PostgreSQL: RELAY_BENCH_POSTGRES_URL (else RELAY_TEST_POSTGRES_URL, else
 * postgres://postgres@127.0.0.1:5432/postgres), where it creates and drops a
 * database of its own. Redis: RELAY_BENCH_REDIS_URL (else RELAY_TEST_REDIS_URL,
 * else redis://127.0.0.1:6379). Without either it says so on a `cluster: not
 * measured` line and exits 0. Every process runs on this machine, so the nodes
 * share its cores with the upstream, the load and the services.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Pool } from 'undici';
import { forkBenchChild, nextMessage, stopChild } from './ipc.ts';
import type { UpstreamEvent } from './protocol.ts';
import { callApi } from './relay-api.ts';
import { provisionBenchCredential, RELAY_BENCH_PATH, RELAY_CONNECTION_ID } from './relay-setup.ts';
import { launchFlags } from './relay-under-test.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const PG_URL =
  process.env.RELAY_BENCH_POSTGRES_URL ??
  process.env.RELAY_TEST_POSTGRES_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL =
  process.env.RELAY_BENCH_REDIS_URL ?? process.env.RELAY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function setting(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}
const MEASURE_MS = setting('BENCH_SECONDS', 5) * 1000;
const WARMUP_MS = setting('BENCH_WARMUP_SECONDS', 2) * 1000;
const CONNECTIONS = setting('BENCH_CONNECTIONS', 16);
const REVOCATIONS = setting('BENCH_REVOCATIONS', 40);

const cleanups: Array<() => Promise<unknown> | unknown> = [];
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});
// A watchdog: whatever happens, the bench ends.
setTimeout(
  () => {
    process.stderr.write('bench cluster: watchdog fired, stopping\n');
    process.exit(1);
  },
  WARMUP_MS + MEASURE_MS + 180_000,
).unref();

const progress = (text: string) => process.stderr.write(`bench cluster: ${text}\n`);

async function unreachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
  } catch (error) {
    return `PostgreSQL unreachable at ${PG_URL}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return `Redis unreachable at ${REDIS_URL}: ${(error as Error).message}`;
  } finally {
    redis.disconnect();
  }
}

async function freshDatabase(): Promise<string> {
  const name = `relay_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  cleanups.push(async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  });
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

interface Node {
  readonly name: string;
  readonly child: ChildProcess;
  readonly apiOrigin: string;
  readonly proxyOrigin: string;
  output(): string;
}

function relay(
  argv: readonly string[],
  env: Record<string, string>,
): { child: ChildProcess; output: () => string } {
  const child = spawn(NODE, [...launchFlags(ROOT), join(ROOT, 'bin', 'relay.js'), ...argv], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  return { child, output: () => out };
}

async function startNode(name: string, env: Record<string, string>): Promise<Node> {
  const dataDir = mkdtempSync(join(tmpdir(), `relay-bench-${name}-`));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const { child, output } = relay(['start'], { ...env, RELAY_DATA_DIR: dataDir });
  cleanups.push(() => stopChild(child));
  const file = join(dataDir, 'ports.json');
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`node ${name} exited:\n${output()}`);
    if (existsSync(file) && output().includes('invalidation bus healthy')) {
      try {
        const ports = JSON.parse(readFileSync(file, 'utf8')) as { proxy: number; api: number };
        return {
          name,
          child,
          output,
          apiOrigin: `http://127.0.0.1:${ports.api}`,
          proxyOrigin: `http://127.0.0.1:${ports.proxy}`,
        };
      } catch {
        // not complete yet
      }
    }
    if (Date.now() > deadline) throw new Error(`node ${name} not up after 30 s:\n${output()}`);
    await sleep(25);
  }
}

/** A closed loop of `CONNECTIONS` keep-alive connections against one node until `until`. */
async function hammer(pool: Pool, token: string, until: number): Promise<{ ok: number; other: number }> {
  const tally = { ok: 0, other: 0 };
  const headers = { authorization: `Bearer ${token}` };
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < until) {
        const res = await pool.request({ path: RELAY_BENCH_PATH, method: 'GET', headers });
        await res.body.dump();
        if (res.statusCode === 200) tally.ok++;
        else tally.other++;
      }
    }),
  );
  return tally;
}

async function throughput(nodes: readonly Node[], token: string) {
  const pools = nodes.map((n) => new Pool(n.proxyOrigin, { connections: CONNECTIONS, pipelining: 1 }));
  try {
    progress(`warmup ${WARMUP_MS / 1000} s, both nodes at once`);
    const warm = performance.now() + WARMUP_MS;
    await Promise.all(pools.map((p) => hammer(p, token, warm)));
    progress(`measuring ${MEASURE_MS / 1000} s, both nodes at once`);
    const started = performance.now();
    const tallies = await Promise.all(pools.map((p) => hammer(p, token, started + MEASURE_MS)));
    const seconds = (performance.now() - started) / 1000;
    return nodes.map((n, i) => {
      const t = tallies[i] as { ok: number; other: number };
      return { node: n.name, rps: Math.round(t.ok / seconds), errors: t.other };
    });
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}

const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1] as number;
};

async function propagation(nodes: readonly [Node, Node], admin: string) {
  const times: number[] = [];
  const pools = nodes.map((n) => new Pool(n.proxyOrigin, { connections: 1 }));
  const status = async (pool: Pool, token: string) => {
    const res = await pool.request({
      path: RELAY_BENCH_PATH,
      method: 'GET',
      headers: { authorization: `Bearer ${token}` },
    });
    await res.body.dump();
    return res.statusCode;
  };
  try {
    for (let round = 0; round < REVOCATIONS; round++) {
      // Alternate the direction: revoke through one node, watch the other.
      const [from, to] = round % 2 === 0 ? [0, 1] : [1, 0];
      const origin = (nodes[from] as Node).apiOrigin;
      const created = await callApi(origin, admin, 'POST', '/api/v1/credentials', {
        name: `propagation ${round}`,
        grants: [{ connection_id: RELAY_CONNECTION_ID, allowed_methods: ['GET'], allowed_paths: ['/v1/**'] }],
        ip_mode: 'none',
        acknowledge_risks: true,
      });
      if (created.status !== 201)
        throw new Error(`POST /api/v1/credentials answered ${created.status}: ${created.text}`);
      const { id, token } = created.body as { id: string; token: string };
      const watcher = pools[to] as Pool;
      for (let i = 0; i < 2; i++) {
        const answer = await status(watcher, token);
        if (answer !== 200) throw new Error(`a fresh credential was refused (${answer})`);
      }
      const revoked = await callApi(origin, admin, 'POST', `/api/v1/credentials/${id}/revoke`);
      if (revoked.status !== 200) throw new Error(`revoke answered ${revoked.status}`);
      const answeredAt = performance.now();
      while ((await status(watcher, token)) === 200) {
        if (performance.now() - answeredAt > 10_000) throw new Error('not refused 10 s after the revoke');
      }
      times.push(performance.now() - answeredAt);
    }
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
  return {
    rounds: times.length,
    p50_ms: Number(percentile(times, 50).toFixed(2)),
    p99_ms: Number(percentile(times, 99).toFixed(2)),
    max_ms: Number(Math.max(...times).toFixed(2)),
  };
}

async function main(): Promise<number> {
  const problem = await unreachable();
  if (problem !== undefined) {
    process.stdout.write(`cluster: not measured (${problem})\n`);
    return 0;
  }
  const upstream = forkBenchChild('./upstream.ts');
  children.add(upstream);
  cleanups.push(() => stopChild(upstream));
  const { port } = await nextMessage<UpstreamEvent, 'ready'>(upstream, 'ready', 15_000);
  const env = {
    RELAY_DATABASE_URL: await freshDatabase(),
    RELAY_REDIS_URL: REDIS_URL,
    RELAY_MASTER_KEY: randomBytes(32).toString('base64'),
    RELAY_PROXY_PORT: '0',
    RELAY_API_PORT: '0',
    RELAY_HOST: '127.0.0.1',
    RELAY_REALTIME_PORT: '0',
    RELAY_ALLOW_PRIVATE_UPSTREAMS: 'true',
    // relay-setup.ts turns geo rules on: loopback has no country, so let unknown pass.
    RELAY_GEOIP_UNKNOWN: 'allow',
    RELAY_LOG_LEVEL: 'info',
    RELAY_BRUTE_FORCE_MAX_FAILURES: '1000000',
  };
  progress('relay init');
  const initDir = mkdtempSync(join(tmpdir(), 'relay-bench-init-'));
  cleanups.push(() => rmSync(initDir, { recursive: true, force: true }));
  const init = relay(['init', '--json'], { ...env, RELAY_DATA_DIR: initDir });
  const code = await new Promise<number | null>((resolve) => init.child.once('close', (c) => resolve(c)));
  if (code !== 0) throw new Error(`relay init failed:\n${init.output()}`);
  const admin = (JSON.parse(init.output()) as { admin_token: string }).admin_token;
  progress('starting nodes A and B');
  const nodes = (await Promise.all([startNode('A', env), startNode('B', env)])) as [Node, Node];
  const token = await provisionBenchCredential(nodes[0].apiOrigin, admin, `http://127.0.0.1:${port}`);

  const perNode = await throughput(nodes, token);
  progress(`revocation propagation, ${REVOCATIONS} rounds alternating A->B and B->A`);
  const revocation = await propagation(nodes, admin);

  const cpu = cpus();
  const lines = [
    `Relay two-node benchmark — ${cpu.length} CPU (${cpu[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`,
    `PostgreSQL + Redis; both nodes loaded at once, ${CONNECTIONS} keep-alive connections each, ${MEASURE_MS / 1000} s`,
    '',
    ...perNode.map(
      (n) => `node ${n.node}: ${n.rps} req/s${n.errors > 0 ? ` (${n.errors} non-200 answers)` : ''}`,
    ),
    `both: ${perNode.reduce((sum, n) => sum + n.rps, 0)} req/s`,
    '',
    `revocation propagation over ${revocation.rounds} rounds (revoke answered on one node -> first refusal on the other):`,
    `  p50 ${revocation.p50_ms} ms, p99 ${revocation.p99_ms} ms, max ${revocation.max_ms} ms (target p99 < 1000 ms, goal < 100 ms)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify({ cluster: { nodes: perNode, revocation } })}\n`);
  // A node whose bus dropped during the run served those requests from the store: say so.
  for (const n of nodes) {
    const drops = n.output().split('invalidation bus unhealthy').length - 1;
    if (drops > 0)
      process.stdout.write(`note: node ${n.name}'s invalidation bus went unhealthy ${drops} time(s)\n`);
  }
  const invalid = perNode.some((n) => n.errors > 0);
  return invalid ? 1 : 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  process.stderr.write(`bench cluster: ${(error as Error).message}\n`);
} finally {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
}
process.exit(exitCode);
