import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CompiledGlob } from '../../src/core/path-glob.ts';
import { compileGlob, globsOverlap, matchesGlob } from '../../src/core/path-glob.ts';

/**
 * globsOverlap(a, b): is there a path both patterns match? The safety review
 * relies on it to tell whether an allowed pattern can reach a sensitive endpoint.
 */

function glob(pattern: string): CompiledGlob {
  const result = compileGlob(pattern);
  assert.ok(result.ok, result.ok ? '' : result.error.detail);
  return result.value;
}

const CASES: ReadonlyArray<readonly [a: string, b: string, expected: boolean]> = [
  ['/', '/', true],
  ['/', '/**', true],
  ['/', '/*', false],
  ['/a', '/a', true],
  ['/a', '/b', false],
  ['/a', '/a/b', false],
  ['/a/*', '/a/b', true],
  ['/a/*', '/a', false],
  ['/a/**', '/a', true],
  ['/a/**', '/b/**', false],
  ['/**/keys/**', '/v1/customers/**', true],
  ['/**/keys/**', '/v1/customers/*', true],
  ['/**/keys/**', '/v1/customers', false],
  ['/**/keys/**', '/keys', true],
  ['/*/x', '/x/*', true],
  ['/*/x', '/x', false],
  ['/**/a/b', '/a/**/c', false],
  ['/**/a/b', '/a/**/b', true],
  ['/a/*/c', '/*/b/*', true],
  ['/a/*/c', '/*/b/d', false],
  // literals compare decoded, whatever the encoding on either side
  ['/files/caf%C3%A9', '/files/caf%c3%a9', true],
  ['/v1/api%2Dkeys', '/**/api-keys/**', true],
  ['/v1/%2A', '/v1/*', true],
  ['/v1/%2A', '/v1/x', false],
  // invalid patterns overlap nothing, not even themselves
  ['/a*b', '/a*b', false],
  ['/a*b', '/**', false],
  ['relative', '/**', false],
];

describe('globsOverlap', () => {
  for (const [a, b, expected] of CASES) {
    it(`${a} ${expected ? 'overlaps' : 'does not overlap'} ${b}, both ways round`, () => {
      assert.equal(globsOverlap(a, b), expected);
      assert.equal(globsOverlap(b, a), expected);
    });
  }

  it('stays fast on long patterns with many ** (memoised, no exponential search)', () => {
    const a = '/**/a'.repeat(60);
    const b = '/**/b'.repeat(60);
    const started = performance.now();
    assert.equal(globsOverlap(a, b), false);
    assert.equal(globsOverlap(`${a}/**`, `/**${b}`), true);
    assert.ok(performance.now() - started < 1000, 'took over a second');
  });

  /**
   * Oracle: the patterns overlap iff some path of at most fixed(a) + fixed(b)
   * (here at most 8) segments over the alphabet {a, b, c} is matched by both,
   * where fixed(p) counts the non-`**` parts of p. A shortest common path has no segment that
   * both patterns take with a `**` (dropping it leaves both matching), so each
   * segment is taken by a literal or `*` of one side; and a segment no literal
   * fixes can be any non-empty name, such as `c`.
   */
  it('agrees with a brute-force oracle on every pair of patterns of up to 4 segments', () => {
    const atoms = ['a', 'b', '*', '**'];
    let layer = [''];
    const patterns = ['/'];
    for (let length = 1; length <= 4; length++) {
      layer = layer.flatMap((prefix) => atoms.map((atom) => `${prefix}/${atom}`));
      patterns.push(...layer);
    }
    const compiled = patterns.map(glob);
    // 4 + 4 non-`**` parts at most: a witness, if any, has at most 8 segments.
    const maxLength = 8;
    const paths: string[][] = [[]];
    for (let start = 0; paths[paths.length - 1]?.length !== maxLength; ) {
      const end = paths.length;
      for (let i = start; i < end; i++) for (const s of ['a', 'b', 'c']) paths.push([...(paths[i] ?? []), s]);
      start = end;
    }
    // One bit per path: which paths each pattern matches.
    const words = Math.ceil(paths.length / 32);
    const matched = compiled.map((g) => {
      const bits = new Uint32Array(words);
      paths.forEach((path, i) => {
        if (matchesGlob(g, path)) bits[i >>> 5] = (bits[i >>> 5] ?? 0) | (1 << (i & 31));
      });
      return bits;
    });
    let checked = 0;
    let overlapping = 0;
    for (let i = 0; i < patterns.length; i++) {
      for (let j = i; j < patterns.length; j++) {
        const x = matched[i] as Uint32Array;
        const y = matched[j] as Uint32Array;
        let expected = false;
        for (let w = 0; w < words && !expected; w++) expected = ((x[w] ?? 0) & (y[w] ?? 0)) !== 0;
        if (expected) overlapping++;
        const a = patterns[i] ?? '';
        const b = patterns[j] ?? '';
        if (globsOverlap(a, b) !== expected) assert.fail(`globsOverlap(${a}, ${b}) should be ${expected}`);
        if (globsOverlap(b, a) !== expected) assert.fail(`globsOverlap(${b}, ${a}) should be ${expected}`);
        checked++;
      }
    }
    assert.equal(checked, (patterns.length * (patterns.length + 1)) / 2);
    assert.ok(overlapping > 0 && overlapping < checked, 'the oracle tells both answers apart');
  });
});
