import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CompiledGlob } from '../../src/core/path-glob.ts';
import { compileGlob, globCovers, matchesAny, matchesGlob } from '../../src/core/path-glob.ts';
import { canonicalizeTarget } from '../../src/core/request-target.ts';

function glob(pattern: string): CompiledGlob {
  const result = compileGlob(pattern);
  assert.ok(result.ok, result.ok ? '' : result.error.detail);
  return result.value;
}

/** Segments exactly as the proxy sees them for a request to `path`. */
function segmentsOf(path: string): readonly string[] {
  const result = canonicalizeTarget(`/conn_x${path}`);
  assert.ok(result.ok, result.ok ? '' : result.error.detail);
  return result.value.segments;
}

describe('compileGlob', () => {
  const refused = [
    '',
    'v1/items',
    '*',
    '//x',
    '/a//b',
    '//',
    '/a*b',
    '/*a',
    '/a*',
    '/a/**b',
    '/***',
    '/a/./b',
    '/a/../b',
    '/a/%2e%2e',
    '/a%2Fb',
    '/a%5Cb',
    '/a\\b',
    '/a?x=1',
    '/a#b',
    '/a;b',
    '/%zz',
    '/%C0%AE',
    '/a b',
    '/café',
  ];
  for (const pattern of refused) {
    it(`refuses ${JSON.stringify(pattern)} with invalid_scope`, () => {
      const result = compileGlob(pattern);
      assert.equal(result.ok, false);
      if (!result.ok) assert.equal(result.error.code, 'invalid_scope');
    });
  }

  it('refuses "*" inside a segment rather than reading it as a literal', () => {
    const result = compileGlob('/v1/a*b');
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.error.detail ?? '', /whole segment/);
  });

  it('normalizes runs of wildcards and ignores a trailing slash', () => {
    assert.deepEqual(glob('/v1/items/').parts, glob('/v1/items').parts);
    assert.deepEqual(glob('/**/**').parts, glob('/**').parts);
    assert.deepEqual(glob('/a/**/*/**/*').parts, glob('/a/*/*/**').parts);
    assert.deepEqual(glob('/').parts, []);
  });
});

const MATCHES: ReadonlyArray<readonly [pattern: string, path: string, expected: boolean]> = [
  ['/v1/items', '/v1/items', true],
  ['/v1/items', '/v1/items/', true],
  ['/v1/items/', '/v1/items', true],
  ['/v1/items', '/v1/items/1', false],
  ['/v1/items', '/v1', false],
  ['/v1/items', '/v1/itemsx', false],
  ['/v1/items', '/V1/items', false],
  ['/v1/*', '/v1/a', true],
  ['/v1/*', '/v1', false],
  ['/v1/*', '/v1/', false],
  ['/v1/*', '/v1/a/b', false],
  ['/v1/**', '/v1', true],
  ['/v1/**', '/v1/', true],
  ['/v1/**', '/v1/a', true],
  ['/v1/**', '/v1/a/b/c', true],
  ['/v1/**', '/v2/a', false],
  ['/v1/**', '/', false],
  ['/v1/**', '/v1x/a', false],
  ['/**', '/', true],
  ['/**', '/a', true],
  ['/**', '/a/b/c', true],
  ['/', '/', true],
  ['/', '/a', false],
  ['/*', '/a', true],
  ['/*', '/', false],
  ['/*', '/a/b', false],
  ['/v1/**/items', '/v1/items', true],
  ['/v1/**/items', '/v1/a/items', true],
  ['/v1/**/items', '/v1/a/b/items', true],
  ['/v1/**/items', '/v1/items/x', false],
  ['/v1/**/items', '/v1/a/itemsx', false],
  ['/**/x/*', '/x/a', true],
  ['/**/x/*', '/a/b/x/c', true],
  ['/**/x/*', '/x/x/x', true],
  ['/**/x/*', '/x', false],
  ['/**/x/*', '/a/x', false],
  ['/a/**/b/**/c', '/a/b/c', true],
  ['/a/**/b/**/c', '/a/1/b/2/c', true],
  ['/a/**/b/**/c', '/a/b/b/c/c', true],
  ['/a/**/b/**/c', '/a/c/b', false],
  ['/a/*/**', '/a/x', true],
  ['/a/*/**', '/a/x/y', true],
  ['/a/*/**', '/a', false],
  ['/a/**/*', '/a/x/y', true],
  ['/a/**/*', '/a', false],
  ['/a/*/b', '/a/x/b', true],
  ['/a/*/b', '/a/b', false],
  // Literals are compared decoded, whatever the hex case or encoding used by either side.
  ['/files/caf%C3%A9', '/files/caf%c3%a9', true],
  ['/files/a%20b', '/files/a%20b', true],
  ['/files/a%2eb', '/files/a.b', true],
  ['/v1/%2A', '/v1/%2A', true],
  ['/v1/%2A', '/v1/*', true],
  ['/v1/%2A', '/v1/anything', false],
  // "*" in a request is just a character: it does not make a literal pattern match more.
  ['/v1/items', '/v1/*', false],
];

describe('matchesGlob', () => {
  for (const [pattern, path, expected] of MATCHES) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${path}`, () => {
      assert.equal(matchesGlob(glob(pattern), segmentsOf(path)), expected);
    });
  }

  it('stays linear on patterns that would make a naive backtracking matcher explode', () => {
    const segments = Array.from({ length: 2000 }, () => 'a');
    assert.equal(matchesGlob(glob(`${'/**/a'.repeat(40)}/b`), segments), false);
    assert.equal(matchesGlob(glob(`${'/**/a'.repeat(40)}/**`), segments), true);
  });

  it('never lets "*" match an empty segment, even from a caller that passes one', () => {
    assert.equal(matchesGlob(glob('/a/*'), ['a', '']), false);
    assert.equal(matchesGlob(glob('/*/b'), ['', 'b']), false);
  });

  it('matchesAny is default deny', () => {
    assert.equal(matchesAny([], segmentsOf('/')), false);
    assert.equal(matchesAny([glob('/a'), glob('/b/*')], segmentsOf('/b/c')), true);
    assert.equal(matchesAny([glob('/a'), glob('/b/*')], segmentsOf('/c')), false);
  });
});

const COVERS: ReadonlyArray<readonly [outer: string, inner: string, expected: boolean]> = [
  ['/a/**', '/a/*/b', true],
  ['/a/*', '/a/**', false],
  ['/*/x', '/a/x', true],
  ['/a/*', '/a/b', true],
  ['/a/b', '/a/*', false],
  ['/a/*', '/a/*', true],
  ['/**', '/', true],
  ['/**', '/a/*/**/b', true],
  ['/', '/', true],
  ['/', '/**', false],
  ['/', '/a', false],
  ['/a/**', '/a', true],
  ['/a/**', '/a/**', true],
  ['/a/**', '/**', false],
  ['/a/**', '/b/**', false],
  ['/a/**', '/a/', true],
  ['/v1/items/', '/v1/items', true],
  ['/**/b', '/a/**/b', true],
  ['/a/**/b', '/**/b', false],
  ['/**/a/**', '/x/**/a', true],
  ['/**/a/*', '/a/**/a/*', true],
  ['/*/*', '/a/**/b', false],
  ['/*/*/**', '/a/**/*', true],
  // "**" absorbs segments whose count the inner pattern leaves open: the alignment is by length.
  ['/*/**', '/**/a', true],
  ['/**/*', '/*/**', true],
  ['/*/**', '/**/*', true],
  ['/*/*/**', '/**/a/**/b', true],
  ['/*/*/*/**', '/**/a/**/b', false],
  ['/*/**/a', '/**/a/a', true],
  ['/*/a/**', '/**/a', false],
  ['/**/a/**/a/**', '/a/**/a', true],
  ['/**/a/**/a/**', '/**/a/**', false],
  ['/files/caf%C3%A9', '/files/caf%c3%a9', true],
  // Invalid patterns cover nothing and are covered by nothing.
  ['/a*b', '/a*b', false],
  ['/**', 'relative', false],
  ['no-slash', '/a', false],
];

describe('globCovers', () => {
  for (const [outer, inner, expected] of COVERS) {
    it(`${outer} ${expected ? 'covers' : 'does not cover'} ${inner}`, () => {
      assert.equal(globCovers(outer, inner), expected);
    });
  }

  /**
   * Oracle: `inner` ⊆ `outer` iff `outer` matches every path built from `inner` by
   * writing a fresh segment (one no literal equals) for each `*` and 0…S+1 fresh
   * segments for each `**`, where S counts outer `*`s: past S+1, a `**` of outer must
   * absorb some of them, so longer runs change nothing.
   */
  function oracle(outer: CompiledGlob, inner: CompiledGlob): boolean {
    const fresh = '\u0001fresh';
    const limit = outer.parts.filter((p) => p.kind === 'one').length + 1;
    const anys = inner.parts.filter((p) => p.kind === 'any').length;
    const counts: number[] = new Array(anys).fill(0);
    for (;;) {
      const path: string[] = [];
      let k = 0;
      for (const part of inner.parts) {
        if (part.kind === 'literal') path.push(part.text);
        else if (part.kind === 'one') path.push(fresh);
        else for (let n = counts[k++] ?? 0; n > 0; n--) path.push(fresh);
      }
      if (!matchesGlob(outer, path)) return false;
      let digit = 0;
      while (digit < anys && counts[digit] === limit) counts[digit++] = 0;
      if (digit === anys) return true;
      counts[digit] = (counts[digit] ?? 0) + 1;
    }
  }

  it('agrees with a brute-force oracle on every pair of patterns of up to 4 segments', () => {
    const atoms = ['a', 'b', '*', '**'];
    let patterns = [''];
    const all = ['/'];
    for (let length = 1; length <= 4; length++) {
      patterns = patterns.flatMap((prefix) => atoms.map((atom) => `${prefix}/${atom}`));
      all.push(...patterns);
    }
    const compiled = all.map(glob);
    for (let o = 0; o < all.length; o++) {
      for (let i = 0; i < all.length; i++) {
        const outer = compiled[o];
        const inner = compiled[i];
        if (outer === undefined || inner === undefined) continue;
        const expected = oracle(outer, inner);
        if (globCovers(all[o] ?? '', all[i] ?? '') !== expected) {
          assert.fail(`globCovers(${all[o]}, ${all[i]}) should be ${expected}`);
        }
      }
    }
  });
});
