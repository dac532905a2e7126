import { crc32 } from 'node:zlib';
import { encodeBase62 } from '../base62.ts';

/** Luhn (ISO/IEC 7812-1 annex B) over a string of ASCII digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let digit = digits.charCodeAt(i) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

/** `[from, to]` inclusive ranges of the first `width` digits (the IIN), and the lengths each brand issues. */
interface Brand {
  readonly name: string;
  readonly width: number;
  readonly ranges: ReadonlyArray<readonly [number, number]>;
  readonly lengths: readonly number[];
}

const SIXTEEN_TO_NINETEEN = [16, 17, 18, 19];

/** Issuer ranges as the card networks publish them; other networks are deliberately left out. */
const BRANDS: readonly Brand[] = [
  { name: 'visa', width: 1, ranges: [[4, 4]], lengths: [13, 16, 19] },
  { name: 'mastercard', width: 2, ranges: [[51, 55]], lengths: [16] },
  { name: 'mastercard', width: 4, ranges: [[2221, 2720]], lengths: [16] },
  {
    name: 'amex',
    width: 2,
    ranges: [
      [34, 34],
      [37, 37],
    ],
    lengths: [15],
  },
  { name: 'discover', width: 4, ranges: [[6011, 6011]], lengths: SIXTEEN_TO_NINETEEN },
  { name: 'discover', width: 3, ranges: [[644, 649]], lengths: SIXTEEN_TO_NINETEEN },
  { name: 'discover', width: 2, ranges: [[65, 65]], lengths: SIXTEEN_TO_NINETEEN },
  { name: 'discover', width: 6, ranges: [[622126, 622925]], lengths: SIXTEEN_TO_NINETEEN },
  { name: 'jcb', width: 4, ranges: [[3528, 3589]], lengths: SIXTEEN_TO_NINETEEN },
  { name: 'diners', width: 3, ranges: [[300, 305]], lengths: [14, 15, 16, 17, 18, 19] },
  {
    name: 'diners',
    width: 2,
    ranges: [
      [36, 36],
      [38, 39],
    ],
    lengths: [14, 15, 16, 17, 18, 19],
  },
];

/** The card network a number belongs to by IIN and length, or undefined. */
export function cardBrand(digits: string): string | undefined {
  for (const brand of BRANDS) {
    if (!brand.lengths.includes(digits.length)) continue;
    const iin = Number(digits.slice(0, brand.width));
    if (brand.ranges.some(([from, to]) => iin >= from && iin <= to)) return brand.name;
  }
  return undefined;
}

/** A card number as written (digits, single spaces or dashes): known network, right length, Luhn holds. */
export function isCardNumber(text: string): boolean {
  const digits = text.replace(/[ -]/g, '');
  return cardBrand(digits) !== undefined && luhnValid(digits);
}

/**
 * `AAA-GG-SSSS` outside what the SSA never issues: area 000, 666 or 900–999, group 00,
 * serial 0000 (SSA, "Social Security Number Randomization", 2011: any other area may be assigned).
 */
export function isPlausibleSsn(text: string): boolean {
  const area = Number(text.slice(0, 3));
  const group = Number(text.slice(4, 6));
  const serial = Number(text.slice(7, 11));
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

/**
 * GitHub's token formats (github.blog, 2021-04-05, "Behind GitHub's new authentication
 * token formats"): `gh?_`, 30 base62 characters, then a 32-bit CRC of them in 6 base62
 * characters. GitHub documents only that the last six characters are a CRC32 checksum;
 * the input (the 30 characters after the prefix, the prefix excluded) and the alphabet
 * (0-9A-Za-z, left-padded with '0') are as independent verifiers implement them
 * (Samsung CredSweeper's ValueGitHubCheck; therootcompany/base62-token.js, derived from real tokens).
 */
export function hasGithubChecksum(token: string): boolean {
  const prefixLength = 4;
  const checksumLength = 6;
  if (token.length !== prefixLength + 30 + checksumLength) return false;
  const random = token.slice(prefixLength, token.length - checksumLength);
  return encodeBase62(crc32(random), checksumLength) === token.slice(-checksumLength);
}

/** A JWS/JWT compact serialization whose first part is base64url JSON with a string `alg` (RFC 7515 §4.1.1). */
export function hasJwtHeader(token: string): boolean {
  const header = token.slice(0, token.indexOf('.'));
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    return false;
  }
  return (
    typeof decoded === 'object' &&
    decoded !== null &&
    !Array.isArray(decoded) &&
    typeof (decoded as { alg?: unknown }).alg === 'string'
  );
}
