import { randomBytes } from 'node:crypto';

export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * Random bytes are drawn from the CSPRNG in blocks and handed out from a pool:
 * a syscall-sized `randomBytes` per id costs more than the id is worth on the
 * proxy's hot path. Every byte is used once.
 */
const POOL_SIZE = 4096;
const ALPHABET_CODES = Buffer.from(BASE62, 'latin1');
const SCRATCH = Buffer.alloc(64);
let pool = Buffer.alloc(0);
let poolOffset = 0;

function nextRandomByte(): number {
  if (poolOffset >= pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  return pool[poolOffset++] as number;
}

/**
 * `length` characters drawn uniformly from the base62 alphabet. Rejection sampling
 * (bytes >= 248 are discarded) keeps every character equally likely.
 */
export function randomBase62(length: number): string {
  // Characters go into a scratch buffer and become one string at the end: this runs
  // several times per proxied request, and `+=` per character allocates per character.
  const out = length <= SCRATCH.length ? SCRATCH : Buffer.allocUnsafe(length);
  let n = 0;
  while (n < length) {
    const byte = nextRandomByte();
    if (byte < 248) out[n++] = ALPHABET_CODES[byte % 62] as number;
  }
  return out.toString('latin1', 0, length);
}

/** 0–9, A–Z, a–z by char code. */
function isBase62Code(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

export function isBase62(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!isBase62Code(text.charCodeAt(i))) return false;
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
