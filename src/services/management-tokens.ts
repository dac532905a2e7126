import { RelayError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Actor, ApiScope, ManagementRole, ManagementToken, ProvisionerBounds } from '../core/model.ts';
import { hashToken, issueToken, isWellFormedToken } from '../core/tokens.ts';
import type { ListOptions, Page, Repositories } from '../ports/store.ts';
import { recordAdminAction } from './admin-audit.ts';
import { checkIpAllowlist } from './credentials.ts';
import type { ServiceDeps } from './deps.ts';

export interface CreateManagementTokenInput {
  readonly name: string;
  readonly role: ManagementRole;
  readonly expires_at?: string;
  readonly ip_allowlist?: readonly string[];
  readonly api_scope?: ApiScope;
  readonly bounds?: ProvisionerBounds;
}

/** `last_used_at` is written at most this often per token, so reads do not turn into writes. */
const TOUCH_INTERVAL_MS = 60_000;

export async function insertManagementToken(
  tx: Repositories,
  actor: Actor,
  nowMs: number,
  input: CreateManagementTokenInput,
): Promise<{ record: ManagementToken; token: string }> {
  const issued = issueToken('management');
  const record: ManagementToken = {
    workspaceId: actor.workspaceId,
    id: newId('managementToken'),
    name: input.name,
    role: input.role,
    tokenHash: issued.hash,
    tokenPrefix: issued.displayPrefix,
    expiresAt: input.expires_at === undefined ? null : new Date(input.expires_at).toISOString(),
    ipAllowlist: checkIpAllowlist(input.ip_allowlist ?? []),
    apiScope: input.api_scope ?? null,
    bounds: input.bounds ?? null,
    createdBy: actor.actor,
    createdAt: new Date(nowMs).toISOString(),
    revokedAt: null,
    lastUsedAt: null,
  };
  await tx.managementTokens.insert(record);
  return { record, token: issued.token };
}

export class ManagementTokenService {
  readonly #deps: ServiceDeps;

  constructor(deps: ServiceDeps) {
    this.#deps = deps;
  }

  async create(
    actor: Actor,
    input: CreateManagementTokenInput,
  ): Promise<{ record: ManagementToken; token: string }> {
    const { clock, store } = this.#deps;
    if (input.expires_at !== undefined) {
      const at = Date.parse(input.expires_at);
      if (Number.isNaN(at) || at <= clock.now())
        throw new RelayError('invalid_expiry', 'expires_at must be a future RFC 3339 date-time');
    }
    if (input.role === 'provisioner' && input.bounds === undefined) {
      throw new RelayError('validation_failed', 'a provisioner token needs bounds');
    }
    return store.transaction(async (tx) => {
      const created = await insertManagementToken(tx, actor, clock.now(), input);
      await recordAdminAction(tx, clock, actor, 'management_token.create', created.record.id, {
        name: input.name,
        role: input.role,
      });
      return created;
    });
  }

  /**
   * Resolves a presented token. Lookup is by SHA-256 hash, never by comparing
   * plaintext; every failure is the same 401 except expiry, which says so (seed 003).
   */
  async authenticate(presented: string | undefined): Promise<ManagementToken> {
    const { store, clock } = this.#deps;
    if (presented === undefined || !isWellFormedToken(presented, 'management')) {
      throw new RelayError('unauthenticated', 'Invalid or missing API key');
    }
    const token = await store.managementTokens.findByHash(hashToken(presented));
    if (!token || token.revokedAt !== null)
      throw new RelayError('unauthenticated', 'Invalid or missing API key');
    const now = clock.now();
    if (token.expiresAt !== null && Date.parse(token.expiresAt) <= now) {
      throw new RelayError('token_expired', 'API key expired');
    }
    if (token.lastUsedAt === null || now - Date.parse(token.lastUsedAt) > TOUCH_INTERVAL_MS) {
      // Best effort and off the request path: a failed touch must not fail the request.
      store.managementTokens.touch(token.workspaceId, token.id, new Date(now).toISOString()).catch(() => {});
    }
    return token;
  }

  list(workspaceId: string, options: ListOptions): Promise<Page<ManagementToken>> {
    return this.#deps.store.managementTokens.list(workspaceId, options);
  }

  async revoke(actor: Actor, id: string): Promise<ManagementToken> {
    const { clock, store, bus } = this.#deps;
    await store.transaction(async (tx) => {
      const current = await tx.managementTokens.get(actor.workspaceId, id);
      if (!current) throw new RelayError('not_found', `token ${id} not found`);
      if (current.revokedAt === null) {
        await tx.managementTokens.markRevoked(actor.workspaceId, id, new Date(clock.now()).toISOString());
        await recordAdminAction(tx, clock, actor, 'management_token.revoke', id);
      }
    });
    await bus.publishInvalidation({ kind: 'management_token', workspaceId: actor.workspaceId, id });
    return (await store.managementTokens.get(actor.workspaceId, id)) as ManagementToken;
  }
}
