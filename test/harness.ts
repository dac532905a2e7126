import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after } from 'node:test';
import pg from 'pg';
import { loadConfig, type RelayConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { type RunningRelay, startRelay } from '../src/main.ts';
import type { StoreDialect } from '../src/ports/store.ts';

/**
 * Shared test harness. Every store and end-to-end suite loops over DIALECTS
 * (as Kysely's own tests do). PostgreSQL runs are skipped with a visible notice
 * when no server answers, unless RELAY_REQUIRE_POSTGRES=true (CI), which turns
 * the skip into a failure.
 */
export const DIALECTS: readonly StoreDialect[] = ['sqlite', 'postgres'];

/**
 * Cleanups run once, after every test of the file, newest first. Registered on
 * the root so that a helper called from inside a `before()` hook does not tear
 * its Relay down when that hook ends (node:test scopes `after()` to the caller).
 */
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});
export function onCleanup(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

export const PG_ADMIN_URL =
  process.env.RELAY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const requirePostgres = /^(1|true|yes)$/i.test(process.env.RELAY_REQUIRE_POSTGRES ?? '');

async function probePostgres(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

const pgProblem = await probePostgres();
if (pgProblem !== undefined) {
  if (requirePostgres)
    throw new Error(
      `RELAY_REQUIRE_POSTGRES is set but PostgreSQL is unreachable at ${PG_ADMIN_URL}: ${pgProblem}`,
    );
  process.stderr.write(
    `\n*** NOTICE: PostgreSQL unreachable (${pgProblem}); PostgreSQL test runs are SKIPPED ***\n\n`,
  );
}

/** `skip` option for a dialect's describe block: a reason string when it cannot run here. */
export function skipFor(dialect: StoreDialect): string | false {
  return dialect === 'postgres' && pgProblem !== undefined ? `PostgreSQL unreachable: ${pgProblem}` : false;
}

export function tempDir(prefix = 'relay-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh, empty database for one test: a new SQLite file, or a new PostgreSQL database dropped afterwards. */
export async function freshDatabaseUrl(dialect: StoreDialect, dir = tempDir()): Promise<string> {
  if (dialect === 'sqlite') return `sqlite:${join(dir, 'relay.db')}`;
  const name = `relay_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  onCleanup(async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  });
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Everything a test Relay logged, as parsed JSON lines (for the "no secret in logs" checks). */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(
      ...chunk
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== ''),
    );
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface TestRelay {
  readonly running: RunningRelay;
  readonly config: RelayConfig;
  readonly adminToken: string;
  readonly workspaceId: string;
  readonly apiUrl: string;
  readonly proxyUrl: string;
  readonly logs: LogCapture;
  /** Calls the management API with the admin token (or `token`), returning status, headers and parsed JSON. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<ApiResponse>;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
  readonly body: any;
}

export async function callApi(
  baseUrl: string,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(baseUrl + path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Starts a whole Relay (both listeners, port 0) on a fresh store of `dialect`; stopped after the suite. */
export async function startTestRelay(
  dialect: StoreDialect,
  env: Record<string, string> = {},
): Promise<TestRelay> {
  const dir = tempDir();
  const config = loadConfig({
    RELAY_DATA_DIR: dir,
    RELAY_DATABASE_URL: await freshDatabaseUrl(dialect, dir),
    RELAY_PROXY_PORT: '0',
    RELAY_API_PORT: '0',
    RELAY_HOST: '127.0.0.1',
    RELAY_ALLOW_PRIVATE_UPSTREAMS: 'true',
    RELAY_LOG_LEVEL: 'info',
    ...env,
  });
  const logs = new LogCapture();
  const running = await startRelay(config, createLogger(config.logLevel, logs));
  onCleanup(() => running.close());
  if (!running.bootstrap) throw new Error('a fresh test Relay must bootstrap');
  const apiUrl = `http://127.0.0.1:${running.ports.api}`;
  const adminToken = running.bootstrap.adminToken;
  return {
    running,
    config,
    adminToken,
    workspaceId: running.bootstrap.workspaceId,
    apiUrl,
    proxyUrl: `http://127.0.0.1:${running.ports.proxy}`,
    logs,
    api: (method, path, body, token = adminToken) => callApi(apiUrl, method, path, token, body),
  };
}
