import { randomBytes } from 'node:crypto';

export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE62_SET = new Set(BASE62);

/**
 * `length` characters drawn uniformly from the base62 alphabet. Rejection sampling
 * (bytes >= 248 are discarded) keeps every character equally likely.
 */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= 248) continue;
      out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export function isBase62(text: string): boolean {
  for (const ch of text) if (!BASE62_SET.has(ch)) return false;
  return text.length > 0;
}

/** Fixed-width base62 encoding of a non-negative integer (left-padded with '0'). */
export function encodeBase62(value: number, width: number): string {
  let n = value;
  let out = '';
  while (n > 0) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out.padStart(width, '0');
}
