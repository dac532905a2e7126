import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { onCleanup } from '../harness.ts';

/**
 * A Redis server of the test's own, on a free loopback port, that the test may
 * kill and start again (the shared one on :6379 must never be cut). Needs the
 * `redis-server` binary, which CI installs; without it the suites that cut
 * Redis are skipped with a notice, unless RELAY_REQUIRE_POSTGRES=true (CI asks
 * for the whole cluster shape), which turns the skip into a failure.
 */
const requireServices = /^(1|true|yes)$/i.test(process.env.RELAY_REQUIRE_POSTGRES ?? '');
const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
const missing = probe.error === undefined && probe.status === 0 ? undefined : 'redis-server not found';
if (missing !== undefined) {
  if (requireServices) throw new Error(`RELAY_REQUIRE_POSTGRES is set but ${missing}`);
  process.stderr.write(`\n*** NOTICE: ${missing}; suites that cut Redis are SKIPPED ***\n\n`);
}

export function skipWithoutRedisServer(): string | false {
  return missing ?? false;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface OwnRedis {
  readonly url: string;
  readonly port: number;
  /** SIGKILL, as a crash or a cut cable would look to clients: sockets close at once. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing is persisted). */
  start(): Promise<void>;
}

function launch(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--loglevel',
      'notice',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
    child.once('error', reject);
  });
}

/** Starts a Redis of the test's own; it is killed after the file. */
export async function startOwnRedis(): Promise<OwnRedis> {
  let port = 0;
  let child: ChildProcess | undefined;
  for (let attempt = 0; child === undefined; attempt++) {
    port = await freePort();
    try {
      child = await launch(port);
    } catch (error) {
      // Someone took the port between our probe and the server's bind: pick another.
      if (attempt >= 3) throw error;
    }
  }
  const kill = async () => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  };
  onCleanup(kill);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    async start() {
      if (child !== undefined) return;
      child = await launch(port);
    },
  };
}
