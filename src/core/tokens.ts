import { hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { encodeBase62, isBase62, randomBase62 } from './base62.ts';

/**
 * Relay token format (SPEC §3): `<kind prefix><random><checksum>`.
 *
 * - random: 32 base62 characters, ~190 bits of entropy (≥ 160 required);
 * - checksum: CRC-32 of prefix+random, base62, 6 characters, so a secret scanner
 *   can tell a real Relay token from a look-alike offline, as GitHub's formats allow.
 *
 * Tokens are shown once, stored only as their SHA-256 hash and looked up by it.
 */
export const TOKEN_KINDS = Object.freeze({
  proxy: 'rk_proxy_',
  management: 'rk_mgmt_',
  app: 'rly_',
});

export type TokenKind = keyof typeof TOKEN_KINDS;

const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const DISPLAY_RANDOM_CHARS = 8;

export interface IssuedToken {
  /** The whole secret: show once, never store. */
  readonly token: string;
  /** SHA-256 of the token, hex: what the store keeps and looks up by. */
  readonly hash: string;
  /** Kind prefix plus the first 8 random characters, safe to display. */
  readonly displayPrefix: string;
}

function checksum(body: string): string {
  return encodeBase62(crc32(body), CHECKSUM_LENGTH);
}

export function issueToken(kind: TokenKind): IssuedToken {
  const body = TOKEN_KINDS[kind] + randomBase62(RANDOM_LENGTH);
  const token = body + checksum(body);
  return { token, hash: hashToken(token), displayPrefix: displayPrefix(token) };
}

export function hashToken(token: string): string {
  // One-shot: no Hash object per call (this runs for every proxied request).
  return hash('sha256', token, 'hex');
}

export function displayPrefix(token: string): string {
  const kind = kindOf(token);
  const prefix = kind === undefined ? '' : TOKEN_KINDS[kind];
  return token.slice(0, prefix.length + DISPLAY_RANDOM_CHARS);
}

const KIND_PREFIXES = Object.entries(TOKEN_KINDS) as ReadonlyArray<readonly [TokenKind, string]>;

export function kindOf(token: string): TokenKind | undefined {
  for (const [kind, prefix] of KIND_PREFIXES) {
    if (token.startsWith(prefix)) return kind;
  }
  return undefined;
}

/**
 * True when `token` has the shape of a Relay token of `kind` and its checksum holds.
 * Cheap and offline: used to refuse garbage before any store lookup, and by secret scanners.
 * Not a secret comparison (the checksum is public), so plain equality is fine here.
 */
export function isWellFormedToken(token: string, kind?: TokenKind): boolean {
  const actual = kindOf(token);
  if (actual === undefined || (kind !== undefined && actual !== kind)) return false;
  const prefix = TOKEN_KINDS[actual];
  if (token.length !== prefix.length + RANDOM_LENGTH + CHECKSUM_LENGTH) return false;
  const rest = token.slice(prefix.length);
  if (!isBase62(rest)) return false;
  const body = token.slice(0, token.length - CHECKSUM_LENGTH);
  return checksum(body) === token.slice(-CHECKSUM_LENGTH);
}
