import { RelayError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Actor, Recipient, RecipientKind } from '../core/model.ts';
import type { ListOptions, Page } from '../ports/store.ts';
import { recordAdminAction } from './admin-audit.ts';
import type { ServiceDeps } from './deps.ts';

export interface CreateRecipientInput {
  readonly name: string;
  readonly kind: RecipientKind;
  readonly email?: string;
}

export class RecipientService {
  readonly #deps: ServiceDeps;

  constructor(deps: ServiceDeps) {
    this.#deps = deps;
  }

  async create(actor: Actor, input: CreateRecipientInput): Promise<Recipient> {
    const { clock, store } = this.#deps;
    if (input.kind === 'human' && input.email === undefined) {
      // New-IP confirmation mails the holder: a human recipient must be reachable.
      throw new RelayError('validation_failed', 'a human recipient needs an email', [
        { path: '/email', message: 'required for kind human' },
      ]);
    }
    const recipient: Recipient = {
      workspaceId: actor.workspaceId,
      id: newId('recipient'),
      name: input.name,
      kind: input.kind,
      email: input.email?.toLowerCase() ?? null,
      createdAt: new Date(clock.now()).toISOString(),
      revokedAt: null,
    };
    await store.transaction(async (tx) => {
      await tx.recipients.insert(recipient);
      await recordAdminAction(tx, clock, actor, 'recipient.create', recipient.id, {
        name: input.name,
        kind: input.kind,
      });
    });
    return recipient;
  }

  async get(workspaceId: string, id: string): Promise<Recipient> {
    const recipient = await this.#deps.store.recipients.get(workspaceId, id);
    if (!recipient) throw new RelayError('not_found', `recipient ${id} not found`);
    return recipient;
  }

  list(workspaceId: string, options: ListOptions): Promise<Page<Recipient>> {
    return this.#deps.store.recipients.list(workspaceId, options);
  }

  /** Revokes the recipient and, in the same transaction, every credential it holds. */
  async revoke(
    actor: Actor,
    id: string,
  ): Promise<{ recipient: Recipient; revokedCredentials: readonly string[] }> {
    const { clock, store, bus } = this.#deps;
    const at = new Date(clock.now()).toISOString();
    const revokedCredentials = await store.transaction(async (tx) => {
      const recipient = await tx.recipients.get(actor.workspaceId, id);
      if (!recipient) throw new RelayError('not_found', `recipient ${id} not found`);
      if (recipient.revokedAt !== null) return []; // already revoked: nothing changes, nothing to audit
      await tx.recipients.markRevoked(actor.workspaceId, id, at);
      const ids = await tx.credentials.revokeAllOfRecipient(actor.workspaceId, id, at);
      await recordAdminAction(tx, clock, actor, 'recipient.revoke', id, { revoked_credentials: ids });
      return ids;
    });
    await bus.publishInvalidation({ kind: 'recipient', workspaceId: actor.workspaceId, id });
    for (const credentialId of revokedCredentials) {
      await bus.publishInvalidation({ kind: 'credential', workspaceId: actor.workspaceId, id: credentialId });
    }
    return { recipient: await this.get(actor.workspaceId, id), revokedCredentials };
  }
}
