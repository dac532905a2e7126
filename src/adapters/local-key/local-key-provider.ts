import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { gcmDecrypt, gcmEncrypt, VaultError } from '../../core/vault.ts';
import type { KeyProvider } from '../../ports/key-provider.ts';

/**
 * Key-encryption keys held locally: from `RELAY_MASTER_KEY` (comma-separated,
 * first is primary) or from a key file with one `<kid> <base64 key>` per line.
 * A key id is derived from the key (first 8 bytes of its SHA-256), so two
 * nodes with the same key agree on its id without configuration.
 *
 * When asked for an unknown key id and backed by a file, the provider re-reads
 * the file once: `relay keys rotate-master` on one node then reaches the others
 * without a restart.
 */

export class MasterKeyError extends Error {
  override name = 'MasterKeyError';
}

export interface Keyring {
  readonly primary: string;
  readonly keys: ReadonlyMap<string, Buffer>;
}

export function keyIdFor(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export function decodeMasterKey(text: string, source: string): Buffer {
  const value = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (key.length !== 32) throw new MasterKeyError(`${source}: a master key must be 32 bytes (base64 or hex)`);
  return key;
}

export function generateMasterKey(): Buffer {
  return randomBytes(32);
}

export function keyringFromEnv(value: string): Keyring {
  const keys = new Map<string, Buffer>();
  const list = value.split(',').map((part, i) => decodeMasterKey(part, `RELAY_MASTER_KEY[${i}]`));
  for (const key of list) keys.set(keyIdFor(key), key);
  return { primary: keyIdFor(list[0] as Buffer), keys };
}

export function readKeyFile(path: string): Keyring {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    throw new MasterKeyError(`master key file ${path} not found`);
  }
  if ((stat.mode & 0o077) !== 0) {
    throw new MasterKeyError(
      `master key file ${path} is readable by group or others (mode ${(stat.mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
    );
  }
  const keys = new Map<string, Buffer>();
  let primary: string | undefined;
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const [i, line] of lines.entries()) {
    const [kid, b64] = line.split(/\s+/);
    if (kid === undefined || b64 === undefined)
      throw new MasterKeyError(`${path}:${i + 1}: expected "<kid> <base64 key>"`);
    const key = decodeMasterKey(b64, `${path}:${i + 1}`);
    if (keyIdFor(key) !== kid)
      throw new MasterKeyError(`${path}:${i + 1}: key id ${kid} does not match its key`);
    keys.set(kid, key);
    primary ??= kid;
  }
  if (primary === undefined) throw new MasterKeyError(`master key file ${path} holds no key`);
  return { primary, keys };
}

/** Writes a key file atomically with mode 0600 (written to a temp file, then renamed). */
export function writeKeyFile(path: string, keys: readonly Buffer[]): void {
  const body = [
    '# Relay master key file: keep it secret, back it up apart from the database.',
    ...keys.map((k) => `${keyIdFor(k)} ${k.toString('base64')}`),
    '',
  ].join('\n');
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, body, { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export class LocalKeyProvider implements KeyProvider {
  #ring: Keyring;
  readonly #reload: (() => Keyring) | undefined;

  constructor(ring: Keyring, reload?: () => Keyring) {
    this.#ring = ring;
    this.#reload = reload;
  }

  static fromConfig(config: { masterKey: string; masterKeyFile: string }): LocalKeyProvider {
    if (config.masterKey !== '') return new LocalKeyProvider(keyringFromEnv(config.masterKey));
    const load = () => readKeyFile(config.masterKeyFile);
    return new LocalKeyProvider(load(), load);
  }

  get keyring(): Keyring {
    return this.#ring;
  }

  primaryKeyId(): string {
    return this.#ring.primary;
  }

  async wrap(dataKey: Buffer, aad: string) {
    const kek = this.#ring.keys.get(this.#ring.primary) as Buffer;
    return { keyId: this.#ring.primary, wrapped: gcmEncrypt(kek, dataKey, `kek|${aad}`) };
  }

  async unwrap(keyId: string, wrapped: Buffer, aad: string): Promise<Buffer> {
    let kek = this.#ring.keys.get(keyId);
    if (kek === undefined && this.#reload) {
      this.#ring = this.#reload();
      kek = this.#ring.keys.get(keyId);
    }
    if (kek === undefined) throw new VaultError(`no master key with id ${keyId} is configured`);
    return gcmDecrypt(kek, wrapped, `kek|${aad}`);
  }
}
