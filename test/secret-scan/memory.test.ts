import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tailBound } from '../../src/core/secret-scan/engine.ts';
import { SECRET_RULES } from '../../src/core/secret-scan/rules.ts';
import { createScanner } from '../../src/core/secret-scan/scanner.ts';
import type { ScanMode } from '../../src/core/secret-scan/types.ts';
import { prng } from './corpus.ts';

const MB = 1024 * 1024;
const DOCUMENTED_TAIL = 8369;

/**
 * A pool of pseudo-random text heavy in the characters rules start on (digits, '-',
 * '@', 'e', '.', '_'), with prefixes that make rules hold text back: a PEM BEGIN line
 * with no END, long base64 runs, `Bearer`, `ey…` parts.
 */
function randomPool(size: number, seed: number): Buffer {
  const next = prng(seed);
  const alphabet = 'abcdeyABCDEXYZ0123456789-_.@ "=:{}\n+/';
  const hooks = [
    '-----BEGIN PRIVATE KEY-----\n',
    'Bearer ',
    'eyJ',
    '.eyJ',
    'AKIA',
    'ghp_',
    'rk_proxy_',
    '4111 ',
  ];
  const out = Buffer.alloc(size);
  let i = 0;
  while (i < size) {
    if (next() < 0.002) {
      i += out.write(hooks[Math.floor(next() * hooks.length)] as string, i, 'latin1');
      continue;
    }
    out[i++] = alphabet.charCodeAt(Math.floor(next() * alphabet.length));
  }
  return out;
}

describe('bounded memory', () => {
  it(`the default rules need a ${DOCUMENTED_TAIL}-byte tail (the documented bound)`, () => {
    assert.equal(tailBound(SECRET_RULES), DOCUMENTED_TAIL);
    assert.equal(createScanner({ mode: 'warn' }).tailBound, DOCUMENTED_TAIL);
  });

  for (const mode of ['redact', 'warn'] as ScanMode[]) {
    it(`${mode}: 50 MB of random text never makes the scanner hold more than the tail`, () => {
      const pool = randomPool(MB, mode === 'redact' ? 1 : 2);
      const next = prng(3);
      const scanner = createScanner({ mode, maxFindings: 10 });
      let streamed = 0;
      let released = 0;
      let most = 0;
      while (streamed < 50 * MB) {
        const size = 1 + Math.floor(next() * 65_536);
        const from = Math.floor(next() * (pool.length - size));
        released += scanner.push(pool.subarray(from, from + size)).length;
        streamed += size;
        most = Math.max(most, scanner.retained);
        assert.ok(scanner.retained <= scanner.tailBound, `${scanner.retained} bytes held after ${streamed}`);
      }
      const summary = scanner.end();
      released += summary.output.length;
      assert.ok(summary.findings.length <= 10, 'findings kept are capped');
      if (mode === 'warn') assert.equal(released, streamed);
      // The bound is reached in practice, not just respected.
      assert.ok(most > scanner.tailBound / 2, `held at most ${most}`);
    });
  }

  it('a PEM BEGIN line with no END never makes it hold more than the tail, byte by byte', () => {
    const scanner = createScanner({ mode: 'redact' });
    const text = Buffer.from(`-----BEGIN PRIVATE KEY-----\n${'A'.repeat(20_000)}`);
    for (let i = 0; i < text.length; i += 13) {
      scanner.push(text.subarray(i, i + 13));
      assert.ok(scanner.retained <= scanner.tailBound);
    }
    const summary = scanner.end();
    assert.equal(summary.findings.length, 1);
  });
});
