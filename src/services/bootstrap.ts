import type { Clock } from '../core/clock.ts';
import { newId } from '../core/ids.ts';
import { type SealRef, Vault } from '../core/vault.ts';
import type { KeyProvider } from '../ports/key-provider.ts';
import type { Store } from '../ports/store.ts';
import { recordAdminAction } from './admin-audit.ts';
import { insertManagementToken } from './management-tokens.ts';
import { DEFAULT_WORKSPACE_SETTINGS } from './workspaces.ts';

/**
 * A known value sealed under the master key when the database is created.
 * Opening it at start-up proves the configured key is the database's key,
 * before anything is migrated or written.
 */
const KEK_CHECK_KEY = 'kek_check';
const KEK_CHECK_REF: SealRef = { table: 'relay_meta', workspaceId: '-', id: KEK_CHECK_KEY, field: 'value' };
const KEK_CHECK_PLAINTEXT = 'relay master key check';

export class WrongMasterKeyError extends Error {
  override name = 'WrongMasterKeyError';
}

export async function verifyMasterKey(store: Store, vault: Vault): Promise<'verified' | 'absent'> {
  const sealed = await store.meta.get(KEK_CHECK_KEY);
  if (sealed === undefined) return 'absent';
  try {
    if ((await vault.open(sealed, KEK_CHECK_REF)) === KEK_CHECK_PLAINTEXT) return 'verified';
  } catch {
    // fall through to the one clear message below
  }
  throw new WrongMasterKeyError(
    `the master key does not open this database (it was sealed with key id ${Vault.keyIdOf(sealed)}). ` +
      'Check RELAY_MASTER_KEY / RELAY_MASTER_KEY_FILE; nothing was changed.',
  );
}

export interface BootstrapResult {
  readonly workspaceId: string;
  readonly adminToken: string;
}

/** On an empty database: seals the key check, creates the `default` workspace and its first admin token. */
export async function bootstrapIfEmpty(
  store: Store,
  vault: Vault,
  clock: Clock,
): Promise<BootstrapResult | undefined> {
  if ((await store.meta.get(KEK_CHECK_KEY)) === undefined) {
    await store.meta.set(KEK_CHECK_KEY, await vault.seal(KEK_CHECK_PLAINTEXT, KEK_CHECK_REF));
  }
  if ((await store.workspaces.list()).length > 0) return undefined;
  const workspaceId = newId('workspace');
  const now = clock.now();
  return store.transaction(async (tx) => {
    await tx.workspaces.insert({
      id: workspaceId,
      name: 'default',
      settings: DEFAULT_WORKSPACE_SETTINGS,
      createdAt: new Date(now).toISOString(),
    });
    const actor = { workspaceId, actor: 'system', ip: null };
    const { record, token } = await insertManagementToken(tx, actor, now, {
      name: 'initial admin',
      role: 'admin',
    });
    await recordAdminAction(tx, clock, actor, 'workspace.create', workspaceId, {
      name: 'default',
      admin_token_id: record.id,
    });
    return { workspaceId, adminToken: token };
  });
}

/** Re-wraps every data key (and the key check) under the provider's primary key, in one transaction. */
export async function rewrapAll(
  store: Store,
  keys: KeyProvider,
): Promise<{ rewrapped: number; total: number }> {
  const vault = new Vault(keys);
  return store.transaction(async (tx) => {
    let rewrapped = 0;
    const fields = await tx.sealedFields.listAll();
    for (const field of fields) {
      const next = await vault.rewrap(field.sealed, field);
      if (next !== field.sealed) {
        await tx.sealedFields.replace(field, next);
        rewrapped++;
      }
    }
    const check = await tx.meta.get(KEK_CHECK_KEY);
    if (check !== undefined) {
      const next = await vault.rewrap(check, KEK_CHECK_REF);
      if (next !== check) {
        await tx.meta.set(KEK_CHECK_KEY, next);
        rewrapped++;
      }
    }
    return { rewrapped, total: fields.length + (check === undefined ? 0 : 1) };
  });
}
