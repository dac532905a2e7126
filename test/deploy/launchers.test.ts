import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { launchFlags } from '../../bench/relay-under-test.ts';
import { ROOT } from '../relay-process.ts';

/**
 * Relay is tuned for Node flags it cannot set on itself once running
 * (docs/performance.md, "Garbage collection"), so each launcher (the npm scripts,
 * the Docker image, the systemd unit) must pass the same ones, and the benchmark
 * must measure it launched that way.
 */

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const FLAGS = ['--single-threaded-gc'];

/** The words of a command line between `node` and the script it runs. */
function flagsOf(command: string, script: RegExp): string[] {
  const words = command.trim().split(/\s+/);
  const at = words.findIndex((w) => script.test(w));
  assert.ok(at > 0 && /(^|\/)node$/.test(words[0] as string), `not "node [flags] script": ${command}`);
  return words.slice(1, at);
}

describe('launchers', () => {
  it('npm start and npm run relay', () => {
    const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    assert.deepEqual(flagsOf(scripts['start'] as string, /^bin\/relay\.js$/), FLAGS);
    assert.deepEqual(flagsOf(scripts['relay'] as string, /^bin\/relay\.js$/), FLAGS);
  });

  it('not the relay command itself: its shebang stays portable (no `env -S`, missing from BusyBox)', () => {
    assert.equal(read('bin/relay.js').split('\n')[0], '#!/usr/bin/env node');
  });

  it('the Docker image', () => {
    const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(read('deploy/Dockerfile'));
    assert.ok(entrypoint, 'an exec-form ENTRYPOINT');
    const words = JSON.parse(entrypoint[1] as string) as string[];
    assert.deepEqual(flagsOf(words.join(' '), /bin\/relay\.js$/), FLAGS);
  });

  it('the systemd unit', () => {
    const exec = /^ExecStart=(.*)$/m.exec(read('deploy/relay.service'));
    assert.ok(exec);
    assert.deepEqual(flagsOf(exec[1] as string, /bin\/relay\.js$/), FLAGS);
  });

  it('the benchmark starts Relay as npm start does', () => {
    assert.deepEqual(launchFlags(ROOT), FLAGS);
  });
});
