import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { GROUPS } from '../../src/cli/main.ts';
import { configurationDoc } from '../../src/config.ts';
import { VERSION } from '../../src/version.ts';
import { cli, freshEnv, oneLineError } from './cli-harness.ts';

describe('relay usage', () => {
  it('--help lists every command group; each group and command has help', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const top = await cli(argv, {});
      assert.equal(top.code, 0);
      for (const group of GROUPS) assert.match(top.stdout, new RegExp(`^  ${group.name} `, 'm'));
    }
    for (const group of GROUPS) {
      const help = await cli([group.name, '--help'], {});
      assert.equal(help.code, 0, group.name);
      assert.match(help.stdout, new RegExp(`^Usage: relay ${group.name}`));
      for (const command of group.commands) {
        if (command.name === '') continue;
        const sub = await cli([group.name, command.name, '--help'], {});
        assert.equal(sub.code, 0);
        assert.match(sub.stdout, new RegExp(`^Usage: relay ${group.name} ${command.name}`));
        assert.match(sub.stdout, /--help/);
      }
    }
    const rotate = await cli(['keys', 'rotate-master', '--help'], {});
    assert.match(rotate.stdout, /--keep-old/);
    assert.match(rotate.stdout, /RELAY_MASTER_KEY=<new>,<old>/);
    const add = await cli(['connections', 'add', '--help'], {});
    assert.match(add.stdout, /--secret-stdin/);
    assert.doesNotMatch(add.stdout, /--secret VALUE/);
  });

  it('usage errors exit 2 with one line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /missing command/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['connections'], /connections: missing command, one of: list, get/],
      [['connections', 'frob'], /connections: unknown command "frob"/],
      [['connections', 'get'], /connections get: missing ID/],
      [['connections', 'get', 'a', 'b'], /connections get: takes only ID/],
      [['connections', 'list', '--frob'], /connections list: unknown option --frob/],
      [['recipients', 'add', '--name'], /recipients add: .*argument missing/],
      [
        ['recipients', 'add', '--name', 'x', '--kind', 'robot'],
        /--kind must be one of human, service, agent/,
      ],
      [['tokens', 'add', '--role', 'admin'], /tokens add: --name is required/],
      [['init', 'extra'], /init: takes no arguments/],
    ];
    for (const [argv, pattern] of cases) {
      const result = await cli(argv, freshEnv());
      assert.equal(result.code, 2, `${argv.join(' ')}: ${result.stderr}`);
      assert.match(oneLineError(result), pattern);
    }
  });

  it('a bad setting is one line, exit 1, with no stack unless RELAY_DEBUG=1', async () => {
    const env = freshEnv({ RELAY_API_PORT: 'lots' });
    const result = await cli(['connections', 'list'], env);
    assert.equal(result.code, 1);
    assert.match(oneLineError(result), /RELAY_API_PORT must be a port/);
    const debug = await cli(['connections', 'list'], { ...env, RELAY_DEBUG: '1' });
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /^relay: RELAY_API_PORT.*\n\S*ConfigError.*\n\s+at /);
  });

  it('commands other than init and start create no data dir or database', async () => {
    const env = freshEnv();
    mkdirSync(env.RELAY_DATA_DIR as string, { mode: 0o700 });
    for (const argv of [['recipients', 'list'], ['credentials', 'list'], ['tokens', 'list'], ['doctor']]) {
      const result = await cli(argv, env);
      assert.equal(result.code, 1);
    }
    assert.deepEqual(readdirSync(env.RELAY_DATA_DIR as string), []);
  });

  it('config docs prints the generated configuration page; --version prints the version', async () => {
    const docs = await cli(['config', 'docs'], {});
    assert.equal(docs.code, 0);
    assert.equal(docs.stdout, configurationDoc());
    const version = await cli(['--version'], {});
    assert.equal(version.stdout, `${VERSION}\n`);
  });
});
