import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  decodeMasterKey,
  type Keyring,
  keyIdFor,
  keyringFromEnv,
  LocalKeyProvider,
  MasterKeyError,
  readKeyFile,
  writeKeyFile,
} from '../../src/adapters/local-key/local-key-provider.ts';
import { associatedData, associatedDataById, type SealRef, Vault, VaultError } from '../../src/core/vault.ts';
import { tempDir } from '../harness.ts';

const ringOf = (...keys: Buffer[]): Keyring => ({
  primary: keyIdFor(keys[0] as Buffer),
  keys: new Map(keys.map((k) => [keyIdFor(k), k])),
});
const vaultOf = (...keys: Buffer[]) => new Vault(new LocalKeyProvider(ringOf(...keys)));

const REF: SealRef = {
  table: 'connections',
  workspaceId: 'ws_A',
  id: 'conn_hubspot',
  field: 'secret_sealed',
};
// 33 bytes: every base64url part then encodes whole bytes, so a changed byte always changes the text
const PLAINTEXT = 'pat-na1-0123456789abcdef-SECRET!!';

function parts(sealed: string): string[] {
  return sealed.split('.');
}

/** Flips one bit of byte `index` of part `part` (1: key id, 2: wrapped key, 3: iv+ciphertext+tag). */
function tamper(sealed: string, part: number, index: number): string {
  const p = parts(sealed);
  const bytes = Buffer.from(p[part] as string, 'base64url');
  bytes[index] = (bytes[index] as number) ^ 0x01;
  p[part] = bytes.toString('base64url');
  return p.join('.');
}

describe('Vault', () => {
  const key = randomBytes(32);
  const vault = vaultOf(key);

  it('seals and opens a value; the sealed form names the key and hides the plaintext', async () => {
    const sealed = await vault.seal(PLAINTEXT, REF);
    assert.ok(!sealed.includes(PLAINTEXT));
    assert.ok(!sealed.includes(Buffer.from(PLAINTEXT).toString('base64url')));
    assert.match(sealed, /^v1\.[0-9a-f]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.equal(Vault.keyIdOf(sealed), keyIdFor(key));
    assert.equal(await vault.open(sealed, REF), PLAINTEXT);
  });

  it('sealing the same value twice gives different ciphertexts (fresh data key and IV)', async () => {
    const [a, b] = await Promise.all([vault.seal(PLAINTEXT, REF), vault.seal(PLAINTEXT, REF)]);
    assert.notEqual(a, b);
    assert.notEqual(parts(a)[2], parts(b)[2]);
    assert.notEqual(parts(a)[3], parts(b)[3]);
  });

  it('round-trips the empty string and multi-byte text', async () => {
    for (const text of ['', 'ключ-🔑-鍵', 'x'.repeat(10_000)]) {
      assert.equal(await vault.open(await vault.seal(text, REF), REF), text);
    }
  });

  const moved: ReadonlyArray<readonly [string, SealRef]> = [
    ['another row id', { ...REF, id: 'conn_other' }],
    ['another workspace', { ...REF, workspaceId: 'ws_B' }],
    ['another field', { ...REF, field: 'client_secret_sealed' }],
    ['another table', { ...REF, table: 'apps' }],
    // the associated data must not be ambiguous across field boundaries
    ['a shifted boundary', { ...REF, workspaceId: 'ws_A|conn_hubspot', id: '' }],
  ];
  for (const [label, ref] of moved) {
    it(`a sealed value moved to ${label} fails to open`, async () => {
      const sealed = await vault.seal(PLAINTEXT, REF);
      await assert.rejects(vault.open(sealed, ref), VaultError);
    });
  }

  it('changing any byte of the wrapped key, IV, ciphertext or tag fails to open', async () => {
    const sealed = await vault.seal(PLAINTEXT, REF);
    for (const part of [2, 3]) {
      const length = Buffer.from(parts(sealed)[part] as string, 'base64url').length;
      for (let i = 0; i < length; i++) {
        await assert.rejects(vault.open(tamper(sealed, part, i), REF), VaultError, `part ${part} byte ${i}`);
      }
    }
  });

  it('a changed key id, version, truncation or extra part fails to open', async () => {
    const sealed = await vault.seal(PLAINTEXT, REF);
    const p = parts(sealed);
    const variants = [
      [p[0], '0000000000000000', p[2], p[3]].join('.'),
      ['v2', p[1], p[2], p[3]].join('.'),
      [p[0], p[1], p[2]].join('.'),
      [...p, 'x'].join('.'),
      [p[0], p[1], p[2], (p[3] as string).slice(0, 10)].join('.'),
      [p[0], p[1], p[2], ''].join('.'),
      'not sealed at all',
      '',
    ];
    for (const variant of variants) await assert.rejects(vault.open(variant, REF), VaultError, variant);
  });

  it('a wrong master key cannot unwrap: neither an unknown key id nor another key under the same id', async () => {
    const sealed = await vault.seal(PLAINTEXT, REF);
    await assert.rejects(vaultOf(randomBytes(32)).open(sealed, REF), VaultError);
    const impostor: Keyring = { primary: keyIdFor(key), keys: new Map([[keyIdFor(key), randomBytes(32)]]) };
    await assert.rejects(new Vault(new LocalKeyProvider(impostor)).open(sealed, REF), VaultError);
  });

  it('rewrap moves the data key to the new primary key and keeps the plaintext', async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const sealed = await vaultOf(oldKey).seal(PLAINTEXT, REF);
    const rewrapped = await vaultOf(newKey, oldKey).rewrap(sealed, REF);
    assert.equal(Vault.keyIdOf(sealed), keyIdFor(oldKey));
    assert.equal(Vault.keyIdOf(rewrapped), keyIdFor(newKey));
    assert.notEqual(rewrapped, sealed);
    assert.equal(parts(rewrapped)[3], parts(sealed)[3], 'the ciphertext itself is untouched');
    assert.equal(await vaultOf(newKey).open(rewrapped, REF), PLAINTEXT);
    await assert.rejects(vaultOf(oldKey).open(rewrapped, REF), VaultError);
    // already under the primary: unchanged
    assert.equal(await vaultOf(newKey, oldKey).rewrap(rewrapped, REF), rewrapped);
    // rewrap checks the binding too
    await assert.rejects(vaultOf(newKey, oldKey).rewrap(sealed, { ...REF, id: 'conn_other' }), VaultError);
  });
});

describe('master keys', () => {
  it('RELAY_MASTER_KEY in base64 and in hex give the same key and key id', () => {
    const key = randomBytes(32);
    const fromB64 = keyringFromEnv(key.toString('base64'));
    const fromHex = keyringFromEnv(key.toString('hex'));
    assert.equal(fromB64.primary, keyIdFor(key));
    assert.equal(fromHex.primary, keyIdFor(key));
    assert.deepEqual(fromB64.keys.get(fromB64.primary), key);
    assert.deepEqual(fromHex.keys.get(fromHex.primary), key);
    assert.deepEqual(decodeMasterKey(` ${key.toString('hex').toUpperCase()}\n`, 'test'), key);
  });

  it('several comma-separated keys: the first is primary, all can unwrap', async () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const ring = keyringFromEnv(`${a.toString('base64')},${b.toString('hex')}`);
    assert.equal(ring.primary, keyIdFor(a));
    assert.equal(ring.keys.size, 2);
    const sealedUnderB = await vaultOf(b).seal(PLAINTEXT, REF);
    assert.equal(await new Vault(new LocalKeyProvider(ring)).open(sealedUnderB, REF), PLAINTEXT);
  });

  for (const [label, value] of [
    ['16 bytes', randomBytes(16).toString('base64')],
    ['31 bytes (hex)', randomBytes(31).toString('hex')],
    ['33 bytes', randomBytes(33).toString('base64')],
    ['64 bytes', randomBytes(64).toString('base64')],
    ['empty', ''],
  ] as const) {
    it(`a key of the wrong length is refused: ${label}`, () => {
      assert.throws(
        () => keyringFromEnv(value),
        (error: Error) => {
          assert.ok(error instanceof MasterKeyError);
          assert.match(error.message, /32 bytes/);
          assert.ok(!value || !error.message.includes(value), 'the message must not echo the key');
          return true;
        },
      );
    });
  }

  it('fromConfig prefers RELAY_MASTER_KEY over the key file', () => {
    const key = randomBytes(32);
    const provider = LocalKeyProvider.fromConfig({
      masterKey: key.toString('base64'),
      masterKeyFile: '/nonexistent/master.key',
    });
    assert.equal(provider.primaryKeyId(), keyIdFor(key));
  });
});

describe('key file', () => {
  it('writeKeyFile writes mode 0600 and readKeyFile reads every key, first is primary', () => {
    const path = join(tempDir(), 'master.key');
    const [a, b] = [randomBytes(32), randomBytes(32)];
    writeKeyFile(path, [a, b]);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const ring = readKeyFile(path);
    assert.equal(ring.primary, keyIdFor(a));
    assert.deepEqual(ring.keys.get(keyIdFor(b)), b);
    assert.ok(!readFileSync(path, 'utf8').includes(a.toString('hex')));
  });

  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    it(`readKeyFile refuses a ${mode.toString(8)} file and says to chmod 600`, () => {
      const path = join(tempDir(), 'master.key');
      writeKeyFile(path, [randomBytes(32)]);
      chmodSync(path, mode);
      assert.throws(
        () => readKeyFile(path),
        (error: Error) => {
          assert.ok(error instanceof MasterKeyError);
          assert.match(error.message, /chmod 600/);
          return true;
        },
      );
    });
  }

  it('readKeyFile refuses a missing file, an empty file, a bad line and a key id that does not match', () => {
    const dir = tempDir();
    assert.throws(() => readKeyFile(join(dir, 'absent.key')), /not found/);
    const write = (name: string, body: string) => {
      const path = join(dir, name);
      writeFileSync(path, body, { mode: 0o600 });
      return path;
    };
    assert.throws(() => readKeyFile(write('empty.key', '# nothing\n')), MasterKeyError);
    assert.throws(() => readKeyFile(write('bad.key', 'justonefield\n')), MasterKeyError);
    const key = randomBytes(32);
    assert.throws(
      () => readKeyFile(write('mismatch.key', `0000000000000000 ${key.toString('base64')}\n`)),
      /does not match/,
    );
    const short = randomBytes(16);
    assert.throws(
      () => readKeyFile(write('short.key', `${keyIdFor(short)} ${short.toString('base64')}\n`)),
      /32 bytes/,
    );
  });

  it('a file-backed provider re-reads the key file when asked for an unknown key id', async () => {
    const path = join(tempDir(), 'master.key');
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    writeKeyFile(path, [oldKey]);
    const provider = LocalKeyProvider.fromConfig({ masterKey: '', masterKeyFile: path });
    assert.equal(provider.primaryKeyId(), keyIdFor(oldKey));
    // another node rotates: the file now leads with the new key
    writeKeyFile(path, [newKey, oldKey]);
    const sealedElsewhere = await vaultOf(newKey).seal(PLAINTEXT, REF);
    assert.equal(await new Vault(provider).open(sealedElsewhere, REF), PLAINTEXT);
    assert.equal(provider.primaryKeyId(), keyIdFor(newKey));
    assert.ok(existsSync(path));
  });

  it('an env-backed provider does not reload and refuses an unknown key id', async () => {
    const provider = LocalKeyProvider.fromConfig({
      masterKey: randomBytes(32).toString('base64'),
      masterKeyFile: '',
    });
    const sealed = await vaultOf(randomBytes(32)).seal(PLAINTEXT, REF);
    await assert.rejects(new Vault(provider).open(sealed, REF), /no master key with id/);
  });
});

describe('associated data', () => {
  it('names the format version, table, workspace, id and field, each percent-encoded', () => {
    // Fixed: every value sealed so far was sealed with exactly this text.
    assert.equal(
      associatedData({
        table: 'audit_events',
        workspaceId: 'ws_A',
        id: 'evt_x|y%',
        field: 'path,query,ip,user_agent',
      }),
      'relay|v1|audit_events|ws_A|evt_x%7Cy%25|path%2Cquery%2Cip%2Cuser_agent',
    );
  });

  it('built per id, it is the same text', () => {
    for (const ref of [
      REF,
      { table: 'audit_events', workspaceId: '', id: 'evt_0AbCdEf', field: 'path,query,ip,user_agent' },
      { table: 'a|b', workspaceId: 'ws_|%', id: 'id with spaces and é', field: 'f|g' },
    ]) {
      const { id, ...rest } = ref;
      assert.equal(associatedDataById(rest)(id), associatedData(ref));
    }
  });
});
