import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { KeyProvider } from '../ports/key-provider.ts';

/**
 * Envelope encryption (SPEC §9): every sealed value gets its own random 256-bit
 * data key; the value is encrypted with AES-256-GCM under that key, and the data
 * key is wrapped by the KeyProvider's key-encryption key. Both layers bind the
 * same associated data, naming the table, workspace, row and field, so a
 * ciphertext copied to another row or field fails to open.
 *
 * Sealed form: `v1.<keyId>.<wrapped data key>.<iv>.<ciphertext+tag>` (base64url parts).
 */

export interface SealRef {
  readonly table: string;
  readonly workspaceId: string;
  readonly id: string;
  readonly field: string;
}

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class VaultError extends Error {
  override name = 'VaultError';
}

export function associatedData(ref: SealRef): string {
  return ['relay', VERSION, ref.table, ref.workspaceId, ref.id, ref.field].map(encodeURIComponent).join('|');
}

/**
 * `associatedData` for many ids of one table, workspace and field: the parts that
 * do not change are encoded once (the audit writer builds one per record).
 */
export function associatedDataById(ref: Omit<SealRef, 'id'>): (id: string) => string {
  const prefix = `${['relay', VERSION, ref.table, ref.workspaceId].map(encodeURIComponent).join('|')}|`;
  const suffix = `|${encodeURIComponent(ref.field)}`;
  return (id) => prefix + encodeURIComponent(id) + suffix;
}

/** AES-256-GCM with a fresh 96-bit IV: returns iv‖ciphertext‖tag. */
export function gcmEncrypt(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

export function gcmDecrypt(key: Buffer, box: Buffer, aad: string): Buffer {
  if (box.length < IV_BYTES + TAG_BYTES) throw new VaultError('sealed value is truncated');
  const iv = box.subarray(0, IV_BYTES);
  const tag = box.subarray(box.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(box.subarray(IV_BYTES, box.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new VaultError('sealed value failed authentication (wrong key, or moved to another row or field)');
  }
}

interface Parsed {
  readonly keyId: string;
  readonly wrapped: Buffer;
  readonly box: Buffer;
}

function parse(sealed: string): Parsed {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) throw new VaultError('not a sealed value');
  const [, keyId = '', wrapped = '', box = ''] = parts;
  return { keyId, wrapped: Buffer.from(wrapped, 'base64url'), box: Buffer.from(box, 'base64url') };
}

export class Vault {
  readonly #keys: KeyProvider;

  constructor(keys: KeyProvider) {
    this.#keys = keys;
  }

  async seal(plaintext: string, ref: SealRef): Promise<string> {
    const aad = associatedData(ref);
    const dataKey = randomBytes(32);
    try {
      const { keyId, wrapped } = await this.#keys.wrap(dataKey, aad);
      const box = gcmEncrypt(dataKey, Buffer.from(plaintext, 'utf8'), aad);
      return [VERSION, keyId, wrapped.toString('base64url'), box.toString('base64url')].join('.');
    } finally {
      dataKey.fill(0);
    }
  }

  async open(sealed: string, ref: SealRef): Promise<string> {
    const aad = associatedData(ref);
    const { keyId, wrapped, box } = parse(sealed);
    const dataKey = await this.#keys.unwrap(keyId, wrapped, aad);
    try {
      return gcmDecrypt(dataKey, box, aad).toString('utf8');
    } finally {
      dataKey.fill(0);
    }
  }

  /** Re-wraps the data key under the primary KEK; the ciphertext itself is untouched. */
  async rewrap(sealed: string, ref: SealRef): Promise<string> {
    const aad = associatedData(ref);
    const { keyId, wrapped, box } = parse(sealed);
    if (keyId === this.#keys.primaryKeyId()) return sealed;
    const dataKey = await this.#keys.unwrap(keyId, wrapped, aad);
    try {
      const next = await this.#keys.wrap(dataKey, aad);
      return [VERSION, next.keyId, next.wrapped.toString('base64url'), box.toString('base64url')].join('.');
    } finally {
      dataKey.fill(0);
    }
  }

  static keyIdOf(sealed: string): string {
    return parse(sealed).keyId;
  }
}
