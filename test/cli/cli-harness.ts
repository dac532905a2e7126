import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import { tempDir } from '../harness.ts';

/** Helpers for the CLI suites: run `main()` in-process with captured streams, or `bin/relay.js` for real. */

export const ROOT = join(import.meta.dirname, '..', '..');
export const NODE = join(ROOT, 'node_modules', '.bin', 'node');
export const BIN = join(ROOT, 'bin', 'relay.js');

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type CliEnv = Record<string, string>;

/** A config for a fresh install in its own temp dir (data dir not yet created). */
export function freshEnv(extra: CliEnv = {}): CliEnv {
  return {
    RELAY_DATA_DIR: join(tempDir('relay-cli-'), 'data'),
    RELAY_PROXY_PORT: '0',
    RELAY_API_PORT: '0',
    RELAY_HOST: '127.0.0.1',
    RELAY_ALLOW_PRIVATE_UPSTREAMS: 'true',
    RELAY_LOG_LEVEL: 'silent',
    ...extra,
  };
}

/** Every output of the CLI in one test, to check that no secret ever appears in any of it. */
export const transcript: string[] = [];

export async function cli(argv: readonly string[], env: CliEnv, stdin = ''): Promise<CliResult> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(argv, { stdout, stderr, stdin: Readable.from([stdin]), env });
  transcript.push(stdout.text, stderr.text);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Runs the CLI and parses its JSON stdout, failing loudly when the command failed. */
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
export async function cliJson(argv: readonly string[], env: CliEnv, stdin = ''): Promise<any> {
  const result = await cli([...argv, '--json'], env, stdin);
  if (result.code !== 0) throw new Error(`relay ${argv.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** An initialised install: returns its env and the admin token. */
export async function initialised(
  extra: CliEnv = {},
): Promise<{ env: CliEnv; adminToken: string; workspaceId: string }> {
  const env = freshEnv(extra);
  const out = await cliJson(['init'], env);
  return { env, adminToken: out.admin_token, workspaceId: out.workspace_id };
}

/** Asserts the one-line error contract: a single `relay: ` line on stderr, nothing on stdout. */
export function oneLineError(result: CliResult): string {
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  if (lines.length !== 1 || !lines[0]?.startsWith('relay: ')) {
    throw new Error(`expected one "relay: " line on stderr, got: ${JSON.stringify(result.stderr)}`);
  }
  if (result.stdout !== '') throw new Error(`expected no stdout, got: ${JSON.stringify(result.stdout)}`);
  return lines[0];
}

export interface Spawned {
  readonly code: Promise<number | null>;
  readonly stdout: () => string;
  readonly stderr: () => string;
  kill(signal: NodeJS.Signals): void;
  /** Resolves once stdout matches `pattern`. */
  waitFor(pattern: RegExp): Promise<void>;
}

/** Runs `bin/relay.js` as a real process with exactly `env` (plus PATH), Node given `nodeFlags`. */
export function spawnRelay(argv: readonly string[], env: CliEnv, nodeFlags: readonly string[] = []): Spawned {
  const child = spawn(NODE, [...nodeFlags, BIN, ...argv], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
    for (const w of waiters.splice(0)) {
      if (w.pattern.test(out)) w.resolve();
      else waiters.push(w);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
  });
  const code = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return {
    code,
    stdout: () => out,
    stderr: () => err,
    kill: (signal) => child.kill(signal),
    waitFor: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(out)) return resolve();
        waiters.push({ pattern, resolve });
        code.then((c) => reject(new Error(`relay exited ${c} before printing ${pattern}: ${err}`)));
      }),
  };
}
