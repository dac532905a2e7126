import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { encodeBase62 } from '../../src/core/base62.ts';
import { patternBounds } from '../../src/core/secret-scan/pattern-bounds.ts';
import { SECRET_RULES } from '../../src/core/secret-scan/rules.ts';
import {
  cardBrand,
  hasGithubChecksum,
  hasJwtHeader,
  isCardNumber,
  isPlausibleSsn,
  luhnValid,
} from '../../src/core/secret-scan/validators.ts';
import { base62, withLuhn } from './corpus.ts';

describe('luhnValid and cardBrand', () => {
  it('accepts published test numbers and rejects a changed digit', () => {
    for (const n of ['4111111111111111', '5555555555554444', '378282246310005', '6011111111111117']) {
      assert.ok(luhnValid(n), n);
      assert.equal(luhnValid(n.slice(0, -1) + String((Number(n.at(-1)) + 1) % 10)), false);
    }
  });

  for (const [digits, brand] of [
    [withLuhn('411111111111111'), 'visa'],
    [withLuhn('510000000000000'), 'mastercard'],
    [withLuhn('272000000000000'), 'mastercard'],
    [withLuhn('222100000000000'), 'mastercard'],
    [withLuhn('34000000000000'), 'amex'],
    [withLuhn('601100000000000'), 'discover'],
    [withLuhn('622126000000000'), 'discover'],
    [withLuhn('352800000000000'), 'jcb'],
    [withLuhn('3000000000000'), 'diners'],
  ] as const) {
    it(`${digits} is ${brand}`, () => assert.equal(cardBrand(digits), brand));
  }

  for (const digits of [
    withLuhn('222000000000000'), // just below the Mastercard 2-series
    withLuhn('272100000000000'), // just above it
    withLuhn('56000000000000'), // 15 digits
    withLuhn('35270000000000000'), // below JCB
    withLuhn('123456789012345'),
  ]) {
    it(`${digits} belongs to no supported network`, () => assert.equal(cardBrand(digits), undefined));
  }

  it('isCardNumber strips single separators', () => {
    assert.ok(isCardNumber('4111-1111-1111-1111'));
    assert.ok(isCardNumber('3782 822463 10005'));
    assert.equal(isCardNumber('4111 1111 1111 1112'), false);
  });
});

describe('isPlausibleSsn', () => {
  for (const ssn of ['001-01-0001', '665-99-9999', '667-01-0001', '899-99-9999', '734-12-3456']) {
    it(`${ssn} may be issued`, () => assert.ok(isPlausibleSsn(ssn)));
  }
  for (const ssn of [
    '000-12-3456',
    '666-12-3456',
    '900-12-3456',
    '999-99-9999',
    '123-00-4567',
    '123-45-0000',
  ]) {
    it(`${ssn} is never issued`, () => assert.equal(isPlausibleSsn(ssn), false));
  }
});

describe('hasGithubChecksum', () => {
  it("matches the worked example published with GitHub's format analysis (coolaj86, base62-token.js)", () => {
    assert.ok(hasGithubChecksum(`gh${'p_'}zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq17`));
  });

  it('is CRC-32 of the 30 characters after the prefix (not of the prefix), base62, 6 wide', () => {
    const random = base62(30, 700);
    const check = encodeBase62(crc32(random), 6);
    assert.ok(hasGithubChecksum(`gh${'o_'}${random}${check}`));
    assert.equal(hasGithubChecksum(`gh${'o_'}${random}${encodeBase62(crc32(`gho_${random}`), 6)}`), false);
    assert.equal(hasGithubChecksum(`gh${'o_'}${random}${check}x`), false);
  });
});

describe('hasJwtHeader', () => {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  it('wants a JSON object header with a string alg', () => {
    assert.ok(hasJwtHeader(`${part({ alg: 'none' })}.${part({})}.`));
    assert.equal(hasJwtHeader(`${part({ typ: 'JWT' })}.${part({})}.x`), false);
    assert.equal(hasJwtHeader(`${part({ alg: 256 })}.${part({})}.x`), false);
    assert.equal(hasJwtHeader(`${part(['alg'])}.${part({})}.x`), false);
    assert.equal(hasJwtHeader(`${part('alg')}.${part({})}.x`), false);
    assert.equal(hasJwtHeader('eyJub3QganNvbg.e30.x'), false);
  });
});

describe('patternBounds', () => {
  it('computes match length and lookaround reach', () => {
    assert.deepEqual(patternBounds(/(?<![a-z])ab{2,5}(?:cd|e)?(?![0-9]|-\d)/), {
      maxLength: 8,
      lookbehind: 1,
      lookahead: 2,
    });
    assert.deepEqual(patternBounds(/(\d{3})-\1/), { maxLength: 7, lookbehind: 0, lookahead: 0 });
    assert.deepEqual(patternBounds(/@(?<=(?<!x)(?<lead>[a-z]{1,9})@)[a-z]{2}/), {
      maxLength: 3,
      lookbehind: 11,
      lookahead: 0,
    });
    assert.deepEqual(patternBounds(/\x41\u0042[\]\\]{3}?\bx{0,2}?/), {
      maxLength: 7,
      lookbehind: 1,
      lookahead: 1,
    });
  });

  for (const unbounded of [/a+/, /a*/, /a{2,}/, /(?:ab)+/, /[x]*y/]) {
    it(`refuses the unbounded ${unbounded}`, () =>
      assert.throws(() => patternBounds(unbounded), /unbounded/));
  }

  it('refuses anchors, which depend on where a chunk starts', () => {
    assert.throws(() => patternBounds(/^abc/), /anchors/);
    assert.throws(() => patternBounds(/abc$/), /anchors/);
  });

  it('every shipped rule is bounded', () => {
    for (const rule of SECRET_RULES) assert.ok(patternBounds(rule.pattern).maxLength > 0, rule.id);
  });
});
