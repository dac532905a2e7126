import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../harness.ts';
import { NODE, ROOT, spawnRelay, waitForPorts } from '../relay-process.ts';

/**
 * Issue 7, point 4. No Docker here, so the deployment files are linted instead
 * of built: every file the Dockerfile copies exists and is not kept out of the
 * build context; the image runs as a non-root user, has a health check and
 * bakes in no secret; and what the build stage compiles really runs: the same
 * TypeScript build, into a scratch directory laid out as the runtime stage is
 * (dist, bin, package.json, node_modules and nothing else), starts and answers
 * /healthz.
 */

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly flags: Readonly<Record<string, string>>;
  readonly words: readonly string[];
}

/** Dockerfile instructions: comments dropped, `\` continuations joined, `--flag=value`s split off. */
function parseDockerfile(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const out: Instruction[] = [];
  for (const line of joined.split('\n')) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const op = (match[1] as string).toUpperCase();
    const args = (match[2] as string).trim();
    const flags: Record<string, string> = {};
    const words: string[] = [];
    for (const word of args.split(/\s+/)) {
      const flag = /^--([a-z-]+)=(.*)$/.exec(word);
      if (flag && words.length === 0) flags[flag[1] as string] = flag[2] as string;
      else words.push(word);
    }
    out.push({ op, args, flags, words });
  }
  return out;
}

/** `.dockerignore` as Docker reads it: Go filepath.Match patterns against the context-relative path. */
function ignoredBy(patterns: readonly string[], path: string): boolean {
  const parts = path.split('/');
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = (negate ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    const regex = new RegExp(
      `^${pattern
        .split('**')
        .map((piece) =>
          piece
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]'),
        )
        .join('.*')}$`,
    );
    // A pattern that matches a parent directory excludes everything under it.
    for (let i = 1; i <= parts.length; i++) if (regex.test(parts.slice(0, i).join('/'))) ignored = !negate;
  }
  return ignored;
}

const dockerfile = parseDockerfile(read('deploy/Dockerfile'));
const stages: Instruction[][] = [];
for (const instruction of dockerfile) {
  if (instruction.op === 'FROM') stages.push([]);
  stages.at(-1)?.push(instruction);
}
const build = stages.find((s) => /\bAS\s+build$/i.test(s[0]?.args ?? '')) ?? [];
const runtime = stages.at(-1) ?? [];
const copies = (stage: Instruction[]) => stage.filter((i) => i.op === 'COPY' || i.op === 'ADD');
const sourcesOf = (copy: Instruction) => copy.words.slice(0, -1).map((w) => w.replace(/^\.\//, ''));

describe('deploy/Dockerfile', () => {
  it('is multi-stage: a build stage, then a node:24-slim runtime', () => {
    assert.ok(stages.length >= 2, 'at least two stages');
    assert.ok(build.length > 0, 'a stage named build');
    const args = new Map(
      dockerfile.filter((i) => i.op === 'ARG').map((i) => i.args.split('=') as [string, string]),
    );
    const image = (runtime[0]?.words[0] ?? '').replace(
      /^\$\{(\w+)\}$/,
      (_m, name: string) => args.get(name) ?? '',
    );
    assert.equal(image, 'node:24-slim');
    const runs = build.filter((i) => i.op === 'RUN').map((i) => i.args);
    assert.ok(
      runs.some((r) => /\bnpm ci\b/.test(r)),
      'npm ci in the build stage',
    );
    assert.ok(
      runs.some((r) => /\bnpm run build\b/.test(r)),
      'npm run build in the build stage',
    );
    assert.ok(
      runs.some((r) => /\bnpm prune --omit=dev\b/.test(r)),
      'dev dependencies are dropped',
    );
  });

  it('every file it copies from the build context exists and is not excluded by .dockerignore', () => {
    const ignore = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    const fromContext = copies(stages.flat()).filter((c) => c.flags.from === undefined);
    assert.ok(fromContext.length > 0);
    for (const copy of fromContext) {
      for (const source of sourcesOf(copy)) {
        assert.ok(existsSync(join(ROOT, source)), `COPY source ${source} does not exist`);
        assert.equal(ignoredBy(ignore, source), false, `COPY source ${source} is excluded by .dockerignore`);
      }
    }
    // And what must never reach the daemon is kept out.
    for (const secretish of ['.env', 'relay-data', 'node_modules', '.git', 'master.key'])
      assert.equal(ignoredBy(ignore, secretish), true, `${secretish} is not in .dockerignore`);
  });

  it('the runtime stage takes only dist, production node_modules, bin and package.json', () => {
    const taken = copies(runtime).flatMap((c) =>
      sourcesOf(c).map((s) => (c.flags.from === undefined ? s : `${c.flags.from}:${s}`)),
    );
    assert.deepEqual(taken.sort(), [
      'bin',
      'build:/app/dist',
      'build:/app/node_modules',
      'build:/app/package.json',
    ]);
    // What it takes from the build stage is made there: package.json copied in, node_modules by npm ci, dist by the build.
    const buildCopied = copies(build).flatMap(sourcesOf);
    assert.ok(buildCopied.includes('package.json') && buildCopied.includes('package-lock.json'));
    assert.equal(build.find((i) => i.op === 'WORKDIR')?.args, '/app');
  });

  it('runs as a non-root user, with a health check on /healthz, data in /data, and both ports exposed', () => {
    const user = runtime.filter((i) => i.op === 'USER').at(-1);
    assert.ok(user, 'USER is set in the runtime stage');
    assert.ok(!/^(root|0)(:|$)/.test(user.args), `USER ${user.args} is root`);
    const last = (op: string) => runtime.findLastIndex((i) => i.op === op);
    assert.ok(last('USER') < last('ENTRYPOINT'), 'USER comes before the entrypoint');
    const health = runtime.find((i) => i.op === 'HEALTHCHECK');
    assert.ok(health && /\/healthz/.test(health.args), 'HEALTHCHECK on /healthz');
    assert.match(runtime.find((i) => i.op === 'ENV')?.args ?? '', /RELAY_DATA_DIR=\/data\b/);
    assert.match(runtime.find((i) => i.op === 'VOLUME')?.args ?? '', /\/data/);
    assert.deepEqual(runtime.find((i) => i.op === 'EXPOSE')?.words, ['8080', '8081']);
    assert.match(runtime.find((i) => i.op === 'ENTRYPOINT')?.args ?? '', /bin\/relay\.js/);
  });

  it('bakes in no secret', () => {
    for (const i of dockerfile.filter((x) => x.op === 'ENV' || x.op === 'ARG')) {
      assert.doesNotMatch(i.args, /(KEY|SECRET|PASSWORD|TOKEN)\w*\s*=/i, `${i.op} ${i.args}`);
      assert.doesNotMatch(i.args, /RELAY_(DATABASE|REDIS|SMTP)_URL/, `${i.op} ${i.args}`);
    }
    const all = copies(dockerfile).flatMap(sourcesOf).join(' ');
    assert.doesNotMatch(all, /\.env|master\.key|relay-data|\.pem/);
  });

  it('what `npm run build` compiles runs as the image runs it: dist/cli/main.js, no sources, /healthz answers', async () => {
    assert.match(JSON.parse(read('package.json')).scripts.build, /tsc -p tsconfig\.build\.json$/);
    const image = tempDir('relay-image-');
    await promisify(execFile)(NODE, [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--outDir',
      join(image, 'dist'),
    ]);
    assert.ok(existsSync(join(image, 'dist', 'cli', 'main.js')), 'the build makes dist/cli/main.js');
    assert.ok(existsSync(join(image, 'dist', 'adapters', 'db', 'audit-worker.js')), 'and the audit worker');
    cpSync(join(ROOT, 'bin'), join(image, 'bin'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(image, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(image, 'node_modules'));
    const dataDir = join(image, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    const env = {
      RELAY_DATA_DIR: dataDir,
      RELAY_PROXY_PORT: '0',
      RELAY_API_PORT: '0',
      RELAY_REALTIME_PORT: '0',
      RELAY_HOST: '127.0.0.1',
      RELAY_LOG_LEVEL: 'warn',
    };
    // No src/ beside this bin/: it can only be running the compiled dist/.
    const relay = spawnRelay(['start'], env, join(image, 'bin', 'relay.js'));
    const ports = await waitForPorts(dataDir, relay);
    const health = await fetch(`http://127.0.0.1:${ports.api}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const proxied = await fetch(`http://127.0.0.1:${ports.proxy}/conn_x/y`);
    assert.equal(proxied.status, 401, 'the proxy (and its compiled audit worker) answers');
    relay.child.kill('SIGTERM');
    assert.deepEqual(await relay.exit, { code: 0, signal: null }, relay.output());
  });
});

describe('deploy/compose.yaml', () => {
  const compose = read('deploy/compose.yaml');

  it('builds the Dockerfile from the repository root', () => {
    const context = /context:\s*(\S+)/.exec(compose)?.[1];
    const file = /dockerfile:\s*(\S+)/.exec(compose)?.[1];
    assert.ok(context !== undefined && file !== undefined);
    assert.ok(existsSync(join(ROOT, 'deploy', context, file)), `${context}/${file} from deploy/`);
    assert.ok(
      existsSync(join(ROOT, 'deploy', context, 'package.json')),
      'the context is the repository root',
    );
  });

  it('runs PostgreSQL, Redis and two Relay nodes sharing them, with the master key from the environment', () => {
    for (const service of ['postgres', 'redis', 'relay-1', 'relay-2'])
      assert.match(compose, new RegExp(`^  ${service}:$`, 'm'), `service ${service}`);
    assert.match(
      compose,
      /RELAY_DATABASE_URL: postgres:\/\/relay:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432\/relay/,
    );
    assert.match(compose, /RELAY_REDIS_URL: redis:\/\/redis:6379/);
    assert.match(compose, /RELAY_MASTER_KEY: \$\{RELAY_MASTER_KEY:\?[^}]*\}/);
    // No literal secret: every key or password is interpolated.
    for (const line of compose
      .split('\n')
      .filter((l) => /(KEY|PASSWORD|SECRET|TOKEN)\w*:/.test(l) && !/^\s*#/.test(l)))
      assert.match(line, /\$\{/, `literal secret in: ${line}`);
    // The management API is published on the host's loopback only.
    for (const mapping of compose.matchAll(/"([\d.:]+):8081"/g))
      assert.match(mapping[1] as string, /^127\.0\.0\.1:/);
  });
});

describe('deploy/relay.service', () => {
  const unit = read('deploy/relay.service');
  const value = (key: string) =>
    [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1] as string);

  it('runs a dedicated user in a read-only system, writable only in the data dir', () => {
    assert.deepEqual(value('User'), ['relay']);
    assert.deepEqual(value('ProtectSystem'), ['strict']);
    assert.deepEqual(value('NoNewPrivileges'), ['true']);
    const dataDir = value('Environment')
      .find((e) => e.startsWith('RELAY_DATA_DIR='))
      ?.split('=')[1];
    assert.ok(dataDir, 'RELAY_DATA_DIR is set');
    assert.ok(value('ReadWritePaths').join(' ').split(/\s+/).includes(dataDir), 'ReadWritePaths covers it');
    assert.deepEqual(value('EnvironmentFile'), ['/etc/relay/relay.env']);
    assert.deepEqual(value('Restart'), ['on-failure']);
    assert.match(value('ExecStart')[0] ?? '', /\/bin\/relay\.js start$/);
  });
});

describe('docs/deployment.md', () => {
  const doc = read('docs/deployment.md');

  it('covers sizing, backups, the master key, rolling deploys, TLS and trusted proxies', () => {
    for (const topic of [
      /^## Sizing/m,
      /^## Backups/m,
      /^## The master key/m,
      /^## Rolling deploys/m,
      /TLS/,
      /RELAY_TRUSTED_PROXIES/,
    ])
      assert.match(doc, topic);
    assert.match(doc, /relay migrate --status/);
  });

  it('links only to files that exist', () => {
    for (const [, target] of doc.matchAll(/\]\(([^)#]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target as string)) continue;
      assert.ok(existsSync(join(ROOT, 'docs', target as string)), `broken link ${target}`);
    }
  });
});
