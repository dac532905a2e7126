/**
 * Relay as a black box, through its documented contract (SPEC §13): `relay init
 * --json`, `relay start` with port 0 and `ports.json`, the management API, SIGTERM.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type AuditCount, waitForAuditCount } from './audit-count.ts';
import { hasExited, stopChild } from './ipc.ts';
import type { Endpoint } from './measure-target.ts';
import { field } from './relay-api.ts';
import { provisionBenchCredential, RELAY_BENCH_PATH } from './relay-setup.ts';

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

export interface RelayUnderTest {
  readonly process: ChildProcess;
  readonly endpoint: Endpoint;
  countAudit(expected: number): Promise<AuditCount>;
  /** SIGTERM and wait; true if it had to be killed. Removes the temporary data dir. */
  stop(): Promise<boolean>;
}

export type RelayStart =
  | { readonly ok: true; readonly relay: RelayUnderTest }
  | { readonly ok: false; readonly reason: string };

/**
 * The Node flags `npm start` runs Relay with in `repoRoot` (its package.json's start
 * script, `node <flags> bin/relay.js start`), so Relay is measured as it is launched.
 */
export function launchFlags(repoRoot: string): string[] {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  const words = (pkg.scripts?.['start'] ?? '').split(/\s+/);
  const script = words.indexOf('bin/relay.js');
  if (words[0] !== 'node' || script === -1)
    throw new Error(`${repoRoot}/package.json: the start script is not "node [flags] bin/relay.js start"`);
  return words.slice(1, script);
}

/**
 * Inherited RELAY_* settings (a database URL, fixed ports…) must not leak into the bench;
 * only `settings` (BENCH_RELAY_ENV) are added.
 */
function benchEnv(dataDir: string, settings: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('RELAY_')) env[name] = value;
  return {
    ...env,
    RELAY_DATA_DIR: dataDir,
    RELAY_HOST: '127.0.0.1',
    RELAY_API_HOST: '127.0.0.1',
    RELAY_PROXY_PORT: '0',
    RELAY_API_PORT: '0',
    RELAY_REALTIME_PORT: '0',
    RELAY_ALLOW_PRIVATE_UPSTREAMS: 'true',
    // Geo rules are on (see relay-setup.ts): loopback has no country, so let unknown pass.
    RELAY_GEOIP_UNKNOWN: 'allow',
    RELAY_LOG_LEVEL: 'warn',
    ...settings,
  };
}

/**
 * The admin token from `relay init --json` output: one JSON object, on one line
 * or pretty-printed, possibly after log lines.
 */
function adminTokenFrom(stdout: string): string | null {
  const lines = stdout.split('\n');
  for (let start = lines.length - 1; start >= 0; start--) {
    if (!lines[start]?.trimStart().startsWith('{')) continue;
    for (let end = start + 1; end <= lines.length; end++) {
      try {
        const token = field(JSON.parse(lines.slice(start, end).join('\n')), 'admin_token');
        if (typeof token === 'string') return token;
      } catch {
        // Not a whole JSON object yet, or a log line.
      }
    }
  }
  return null;
}

async function initDataDir(
  repoRoot: string,
  relayBin: string,
  dataDir: string,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [relayBin, 'init', '--json', '--data-dir', dataDir],
    {
      cwd: repoRoot,
      env,
      timeout: START_TIMEOUT_MS,
    },
  );
  const token = adminTokenFrom(stdout);
  if (token !== null) return token;
  throw new Error(`relay init --json printed no admin_token: ${stdout.slice(0, 300)}`);
}

async function waitForPorts(relay: ChildProcess, dataDir: string): Promise<{ proxy: number; api: number }> {
  const file = join(dataDir, 'ports.json');
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (hasExited(relay)) throw new Error(`relay start exited (${relay.signalCode ?? relay.exitCode})`);
    try {
      const ports: unknown = JSON.parse(readFileSync(file, 'utf8'));
      const proxy = field(ports, 'proxy');
      const api = field(ports, 'api');
      if (typeof proxy === 'number' && typeof api === 'number' && proxy > 0 && api > 0) return { proxy, api };
    } catch {
      // Not written yet, or half written.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no ports.json in ${dataDir} within ${START_TIMEOUT_MS} ms`);
}

function logTail(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n');
    return lines.slice(-15).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts Relay with a fresh data dir, provisions the bench connection and
 * credential, and returns it ready for load; or why it could not.
 */
export async function startRelay(
  repoRoot: string,
  upstreamOrigin: string,
  settings: Readonly<Record<string, string>> = {},
  nodeArgs: readonly string[] = [],
): Promise<RelayStart> {
  const relayBin = join(repoRoot, 'bin', 'relay.js');
  if (!existsSync(relayBin)) return { ok: false, reason: 'bin/relay.js does not exist yet' };
  const workDir = mkdtempSync(join(tmpdir(), 'relay-bench-'));
  const dataDir = join(workDir, 'data');
  const logFile = join(workDir, 'relay.log');
  const env = benchEnv(dataDir, settings);
  const keep = process.env['BENCH_KEEP_RELAY_DATA'] === '1';
  const removeWorkDir = (): void => {
    if (!keep) rmSync(workDir, { recursive: true, force: true });
  };
  let relay: ChildProcess | null = null;
  try {
    const adminToken = await initDataDir(repoRoot, relayBin, dataDir, env);
    const logFd = openSync(logFile, 'a');
    relay = spawn(process.execPath, [...launchFlags(repoRoot), ...nodeArgs, relayBin, 'start'], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    const ports = await waitForPorts(relay, dataDir);
    const apiOrigin = `http://127.0.0.1:${ports.api}`;
    const proxyToken = await provisionBenchCredential(apiOrigin, adminToken, upstreamOrigin);
    const started = relay;
    return {
      ok: true,
      relay: {
        process: started,
        endpoint: {
          origin: `http://127.0.0.1:${ports.proxy}`,
          path: RELAY_BENCH_PATH,
          headers: { authorization: `Bearer ${proxyToken}` },
        },
        countAudit: (expected) => waitForAuditCount(apiOrigin, adminToken, expected),
        stop: async () => {
          const killed = await stopChild(started, STOP_GRACE_MS);
          removeWorkDir();
          return killed;
        },
      },
    };
  } catch (error) {
    if (relay !== null) await stopChild(relay, STOP_GRACE_MS);
    const tail = logTail(logFile);
    removeWorkDir();
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: tail === '' ? message : `${message}\n  relay log (last lines):\n${tail}` };
  }
}
