import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { BASE62, encodeBase62, isBase62, randomBase62 } from '../../src/core/base62.ts';
import {
  displayPrefix,
  hashToken,
  issueToken,
  isWellFormedToken,
  kindOf,
  TOKEN_KINDS,
  type TokenKind,
} from '../../src/core/tokens.ts';

const KINDS = Object.keys(TOKEN_KINDS) as TokenKind[];

/** Replaces the character at `i` with a different base62 character. */
function changeAt(token: string, i: number): string {
  const ch = token[i] as string;
  const other = BASE62[(BASE62.indexOf(ch) + 1 + (i % 61)) % 62] as string;
  assert.notEqual(other, ch);
  return token.slice(0, i) + other + token.slice(i + 1);
}

describe('base62', () => {
  it('the alphabet is exactly 0-9, A-Z, a-z, each once', () => {
    assert.equal(BASE62.length, 62);
    assert.equal(new Set(BASE62).size, 62);
    assert.match(BASE62, /^[0-9A-Za-z]+$/);
  });

  it('randomBase62 draws only from the alphabet, at the asked length, and reaches every character', () => {
    const sample = randomBase62(20_000);
    assert.equal(sample.length, 20_000);
    assert.ok(isBase62(sample));
    assert.equal(new Set(sample).size, 62);
    assert.equal(randomBase62(1).length, 1);
  });

  for (const [text, expected] of [
    ['abcXYZ019', true],
    ['', false],
    ['abc-def', false],
    ['abc_def', false],
    ['abc def', false],
    ['é', false],
  ] as const) {
    it(`isBase62(${JSON.stringify(text)}) is ${expected}`, () => assert.equal(isBase62(text), expected));
  }

  for (const [value, width, expected] of [
    [0, 6, '000000'],
    [61, 1, 'z'],
    [62, 2, '10'],
    [62 * 62 - 1, 2, 'zz'],
    [0xffffffff, 6, '4gfFC3'],
  ] as const) {
    it(`encodeBase62(${value}, ${width}) is ${expected}`, () =>
      assert.equal(encodeBase62(value, width), expected));
  }
});

describe('token format', () => {
  for (const kind of KINDS) {
    const prefix = TOKEN_KINDS[kind];
    it(`${kind}: prefix + 32 base62 + 6 base62 checksum, well formed, hash is its SHA-256`, () => {
      const issued = issueToken(kind);
      const escaped = prefix.replace(/_/g, '\\_');
      assert.match(issued.token, new RegExp(`^${escaped}[0-9A-Za-z]{38}$`));
      assert.equal(issued.token.length, prefix.length + 38);
      assert.ok(isWellFormedToken(issued.token));
      assert.ok(isWellFormedToken(issued.token, kind));
      assert.equal(kindOf(issued.token), kind);
      assert.equal(issued.hash, createHash('sha256').update(issued.token).digest('hex'));
      assert.equal(issued.hash, hashToken(issued.token));
      assert.match(issued.hash, /^[0-9a-f]{64}$/);
    });

    it(`${kind}: the display prefix is the kind prefix plus the first 8 random characters`, () => {
      const { token, displayPrefix: shown } = issueToken(kind);
      assert.equal(shown, token.slice(0, prefix.length + 8));
      assert.equal(displayPrefix(token), shown);
      assert.equal(token.length - shown.length, 30, 'the random tail and checksum stay hidden');
    });

    it(`${kind}: the checksum catches a one-character change at every position`, () => {
      const { token } = issueToken(kind);
      for (let i = prefix.length; i < token.length; i++) {
        const changed = changeAt(token, i);
        assert.equal(isWellFormedToken(changed), false, `change at ${i} went unnoticed: ${changed}`);
      }
    });
  }

  it('random parts do not repeat', () => {
    const seen = new Set(Array.from({ length: 500 }, () => issueToken('proxy').token));
    assert.equal(seen.size, 500);
  });

  it('a token of one kind is not well formed as another kind', () => {
    assert.equal(isWellFormedToken(issueToken('proxy').token, 'management'), false);
    assert.equal(isWellFormedToken(issueToken('management').token, 'proxy'), false);
    assert.equal(isWellFormedToken(issueToken('app').token, 'proxy'), false);
  });

  const valid = issueToken('proxy').token;
  for (const [label, text] of [
    ['empty', ''],
    ['prefix only', 'rk_proxy_'],
    ['unknown prefix', `rk_other_${valid.slice('rk_proxy_'.length)}`],
    ['one character short', valid.slice(0, -1)],
    ['one character long', `${valid}0`],
    ['a non-base62 character', `${valid.slice(0, 12)}-${valid.slice(13)}`],
    ['upper-cased prefix', valid.replace('rk_proxy_', 'RK_PROXY_')],
    ['surrounding whitespace', ` ${valid}`],
  ] as const) {
    it(`refuses ${label}`, () => assert.equal(isWellFormedToken(text), false));
  }

  it('displayPrefix of a string of no known kind shows 8 characters only', () => {
    assert.equal(displayPrefix('abcdefghijklmnop'), 'abcdefgh');
  });
});
