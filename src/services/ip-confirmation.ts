import type { Logger } from 'pino';
import { randomBase62 } from '../core/base62.ts';
import type { Clock } from '../core/clock.ts';
import { RelayError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { IpGrouping } from '../core/ip-group.ts';
import type { Actor, Recipient } from '../core/model.ts';
import { hashToken } from '../core/tokens.ts';
import type { Bus, Invalidation } from '../ports/bus.ts';
import type { Mailer } from '../ports/mailer.ts';
import type { IpConfirmation, Store, TrustedIp } from '../ports/store.ts';
import { recordAdminAction } from './admin-audit.ts';
import { confirmationMail } from './ip-confirmation-mail.ts';
import type { SecurityEventService } from './security-events.ts';
import { RecipientNetworkCache } from './trusted-ip-cache.ts';

export interface IpConfirmationDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly bus: Bus;
  readonly logger: Logger;
  readonly mailer: Mailer;
  readonly securityEvents: SecurityEventService;
  readonly grouping: IpGrouping;
  /** How long a confirm link stays valid (RELAY_IP_CONFIRMATION_TTL_HOURS). */
  readonly ttlHours: number;
  /** Longest time a trusted network is believed from memory (every removal also drops it at once). */
  readonly cacheTtlMs: number;
  /** Where people reach the confirm page (the management listener's public URL). */
  readonly publicApiUrl: string;
}

/** One request that a credential in `confirm_new_ip` mode makes. */
export interface AdmissionRequest {
  readonly workspaceId: string;
  readonly recipient: Recipient;
  /** Where the confirmation goes: the recipient's address. */
  readonly email: string;
  readonly credential: { readonly id: string; readonly name: string };
  readonly connection: { readonly id: string; readonly name: string };
  readonly ip: string;
  readonly userAgent: string | null;
}

/** `trusted`/`first_use`: let it through; `locked`: 423, a confirmation is pending; `unknown_address`: refuse. */
export type Admission = 'trusted' | 'first_use' | 'locked' | 'unknown_address';

/** What the confirm page shows about a pending confirmation. */
export interface PendingConfirmation {
  readonly confirmation: IpConfirmation;
  readonly recipientName: string;
  readonly connectionName: string;
}

const CACHE_ENTRIES = 10_000;
/** A refusal is remembered this long, so a caller retrying from a locked network costs no store read. */
const LOCKED_TTL_MS = 5_000;
/** Trust on first use happens once per recipient: removing every trusted network does not re-arm it. */
const firstUseKey = (workspaceId: string, recipientId: string) =>
  `first_use_spent:${workspaceId}:${recipientId}`;

/**
 * New-IP confirmation, "2FA for API access" (SPEC §6, seed 002).
 *
 * A recipient's first network is trusted on first use; any other gets 423 and
 * one pending confirmation, e-mailed with a link whose secret is stored only as
 * its SHA-256. Confirming (a POST, never a GET) trusts the network for every
 * credential of the recipient. Trust on first use happens once per recipient:
 * an admin who removes every trusted network (say, an attacker's, trusted
 * because the token leaked before its holder used it) does not re-open it.
 *
 * No mail storm: concurrent refusals for one recipient and network share one
 * in-flight creation on this node, and later ones find the pending row. Two
 * cluster nodes refused at the same instant may each create one (at most one
 * extra mail per node): the store has no unique "pending" constraint to arbitrate.
 *
 * The proxy's fast path asks memory only: trusted networks are cached (bounded
 * in size and time) and dropped through the bus when a recipient changes.
 */
export class IpConfirmationService {
  readonly #deps: IpConfirmationDeps;
  readonly #trusted: RecipientNetworkCache;
  readonly #locked: RecipientNetworkCache;
  readonly #creating = new Map<string, Promise<void>>();
  readonly #firstUseQueue = new Map<string, Promise<void>>();
  readonly #background = new Set<Promise<void>>();
  readonly #unsubscribe: () => void;
  readonly #unsubscribeHealth: () => void;
  #publicApiUrl: string;
  /** Bumped by every invalidation: a store read that raced one is used once but not cached. */
  #generation = 0;

  constructor(deps: IpConfirmationDeps) {
    this.#deps = deps;
    this.#publicApiUrl = deps.publicApiUrl.replace(/\/+$/, '');
    this.#trusted = new RecipientNetworkCache({ maxEntries: CACHE_ENTRIES, ttlMs: deps.cacheTtlMs });
    this.#locked = new RecipientNetworkCache({
      maxEntries: CACHE_ENTRIES,
      ttlMs: Math.min(LOCKED_TTL_MS, deps.cacheTtlMs),
    });
    this.#unsubscribe = deps.bus.onInvalidation((m) => this.#invalidate(m));
    // Fail closed: a bus that went down or came back may have missed a change, so drop everything.
    this.#unsubscribeHealth = deps.bus.onHealth(() => {
      this.#generation++;
      this.#trusted.clear();
      this.#locked.clear();
    });
  }

  /** The management listener's URL is known only once it listens (port 0): links use the latest. */
  setPublicApiUrl(url: string): void {
    this.#publicApiUrl = url.replace(/\/+$/, '');
  }

  /**
   * What memory already knows, synchronously (the proxy's fast path: no store
   * read, no allocation beyond the key); undefined when `admit` must ask the store.
   */
  known(workspaceId: string, recipientId: string, ip: string): Admission | undefined {
    const group = this.#deps.grouping.groupOf(ip);
    if (group === undefined) return 'unknown_address';
    // While the bus is down memory is not believed: `admit` reads the store.
    if (!this.#deps.bus.healthy) return undefined;
    const key = RecipientNetworkCache.key(workspaceId, recipientId, group);
    const now = this.#deps.clock.now();
    if (this.#trusted.has(key, now)) return 'trusted';
    if (this.#locked.has(key, now)) return 'locked';
    return undefined;
  }

  /** Decides from the store: trusted, trusted now on first use, or locked with a pending confirmation. */
  admit(request: AdmissionRequest): Promise<Admission> {
    const group = this.#deps.grouping.groupOf(request.ip);
    if (group === undefined) return Promise.resolve('unknown_address');
    const key = RecipientNetworkCache.key(request.workspaceId, request.recipient.id, group);
    return this.#admitFromStore(request, group, key);
  }

  async #admitFromStore(request: AdmissionRequest, group: string, key: string): Promise<Admission> {
    const { store, clock } = this.#deps;
    const { workspaceId, recipient } = request;
    const generation = this.#generation;
    const remember = (cache: RecipientNetworkCache) => {
      if (generation === this.#generation) cache.add(key, workspaceId, recipient.id, clock.now());
    };
    if (await store.trustedIps.has(workspaceId, recipient.id, group)) {
      remember(this.#trusted);
      return 'trusted';
    }
    if (await this.#firstUse(request, group)) {
      remember(this.#trusted);
      return 'first_use';
    }
    await this.#ensurePending(request, group, key);
    remember(this.#locked);
    return 'locked';
  }

  /** Serialised per recipient on this node, so two first calls from two networks cannot both be trusted. */
  #firstUse(request: AdmissionRequest, group: string): Promise<boolean> {
    const queueKey = `${request.workspaceId}\n${request.recipient.id}`;
    const previous = this.#firstUseQueue.get(queueKey) ?? Promise.resolve();
    const run = previous.then(() => this.#tryFirstUse(request, group));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#firstUseQueue.set(queueKey, settled);
    void settled.then(() => {
      if (this.#firstUseQueue.get(queueKey) === settled) this.#firstUseQueue.delete(queueKey);
    });
    return run;
  }

  /** True when `group` is trusted now: added as the recipient's first network, or added meanwhile. */
  #tryFirstUse(request: AdmissionRequest, group: string): Promise<boolean> {
    const { store, clock } = this.#deps;
    const { workspaceId, recipient } = request;
    return store.transaction(async (tx) => {
      if ((await tx.trustedIps.count(workspaceId, recipient.id)) > 0)
        return tx.trustedIps.has(workspaceId, recipient.id, group);
      const spentKey = firstUseKey(workspaceId, recipient.id);
      if ((await tx.meta.get(spentKey)) !== undefined) return false;
      const at = new Date(clock.now()).toISOString();
      await tx.trustedIps.add({
        workspaceId,
        recipientId: recipient.id,
        ipGroup: group,
        firstIp: request.ip,
        source: 'first_use',
        createdAt: at,
      });
      await tx.meta.set(spentKey, at);
      const actor: Actor = { workspaceId, actor: 'trust_on_first_use', ip: request.ip };
      await recordAdminAction(tx, clock, actor, 'trusted_ip.first_use', recipient.id, {
        ip_group: group,
        credential_id: request.credential.id,
        connection_id: request.connection.id,
      });
      return true;
    });
  }

  async #ensurePending(request: AdmissionRequest, group: string, key: string): Promise<void> {
    let creating = this.#creating.get(key);
    if (creating === undefined) {
      creating = this.#createPending(request, group).finally(() => this.#creating.delete(key));
      this.#creating.set(key, creating);
    }
    await creating;
  }

  async #createPending(request: AdmissionRequest, group: string): Promise<void> {
    const { store, clock, ttlHours } = this.#deps;
    const now = clock.now();
    const nowIso = new Date(now).toISOString();
    const { workspaceId, recipient } = request;
    if (await store.ipConfirmations.findPending(workspaceId, recipient.id, group, nowIso)) return;
    const secret = randomBase62(40);
    const confirmation: IpConfirmation = {
      workspaceId,
      id: newId('ipConfirmation'),
      secretHash: hashToken(secret),
      recipientId: recipient.id,
      credentialId: request.credential.id,
      connectionId: request.connection.id,
      ipGroup: group,
      ip: request.ip,
      userAgent: request.userAgent === null ? null : request.userAgent.slice(0, 512),
      createdAt: nowIso,
      expiresAt: new Date(now + ttlHours * 3_600_000).toISOString(),
      confirmedAt: null,
    };
    await store.ipConfirmations.insert(confirmation);
    this.#inBackground(this.#announce(request, confirmation, secret));
  }

  /** The security event and the e-mail, off the request path: the 423 does not wait for SMTP. */
  async #announce(request: AdmissionRequest, confirmation: IpConfirmation, secret: string): Promise<void> {
    const { securityEvents, mailer, logger, ttlHours } = this.#deps;
    const context = {
      confirmation_id: confirmation.id,
      recipient_id: confirmation.recipientId,
      credential_id: confirmation.credentialId,
      connection_id: confirmation.connectionId,
    };
    logger.info({ ...context, ip: confirmation.ip, ip_group: confirmation.ipGroup }, 'new IP blocked');
    await securityEvents.raise({
      workspaceId: confirmation.workspaceId,
      kind: 'new_ip_blocked',
      severity: 'low',
      subject: confirmation.ip,
      detail: { ...context, ip_group: confirmation.ipGroup, user_agent: confirmation.userAgent },
    });
    const mail = confirmationMail({
      recipientName: request.recipient.name,
      credentialName: request.credential.name,
      ip: confirmation.ip,
      ipGroup: confirmation.ipGroup,
      userAgent: confirmation.userAgent,
      connection: request.connection,
      at: Date.parse(confirmation.createdAt),
      link: `${this.#publicApiUrl}/confirm-ip/${secret}`,
      ttlHours,
    });
    try {
      await mailer.send({
        to: request.email,
        ...mail,
        workspaceId: confirmation.workspaceId,
        logContext: { confirmation_id: confirmation.id },
      });
    } catch (error) {
      logger.warn(
        { confirmation_id: confirmation.id, err: { message: (error as Error).message } },
        'new-IP confirmation mail not delivered',
      );
    }
  }

  #inBackground(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) =>
      this.#deps.logger.error({ err: { message: (error as Error).message } }, 'new-IP confirmation failed'),
    );
    this.#background.add(tracked);
    void tracked.finally(() => this.#background.delete(tracked));
  }

  /** The pending confirmation a link names, or undefined when it is unknown, used, expired or moot. */
  async pending(secret: string): Promise<PendingConfirmation | undefined> {
    const { store, clock } = this.#deps;
    const confirmation = await store.ipConfirmations.findBySecretHash(hashToken(secret));
    if (
      !confirmation ||
      confirmation.confirmedAt !== null ||
      Date.parse(confirmation.expiresAt) <= clock.now()
    )
      return undefined;
    const recipient = await store.recipients.get(confirmation.workspaceId, confirmation.recipientId);
    if (!recipient || recipient.revokedAt !== null) return undefined;
    const connection = await store.connections.get(confirmation.workspaceId, confirmation.connectionId);
    return {
      confirmation,
      recipientName: recipient.name,
      connectionName: connection?.name ?? confirmation.connectionId,
    };
  }

  /**
   * Confirms the link's network for the recipient, once: the confirmation is
   * marked, the network trusted and the action audited in one transaction.
   * Undefined when the link is unknown, used or expired.
   */
  async confirm(secret: string, confirmerIp: string | null): Promise<PendingConfirmation | undefined> {
    const { store, clock, bus, logger } = this.#deps;
    const found = await this.pending(secret);
    if (!found) return undefined;
    const { confirmation: c } = found;
    const at = new Date(clock.now()).toISOString();
    const confirmed = await store.transaction(async (tx) => {
      if (!(await tx.ipConfirmations.markConfirmed(c.workspaceId, c.id, at))) return false;
      await tx.trustedIps.add({
        workspaceId: c.workspaceId,
        recipientId: c.recipientId,
        ipGroup: c.ipGroup,
        firstIp: c.ip,
        source: 'confirmed',
        createdAt: at,
      });
      const actor: Actor = { workspaceId: c.workspaceId, actor: 'ip_confirmation', ip: confirmerIp };
      await recordAdminAction(tx, clock, actor, 'trusted_ip.confirm', c.recipientId, {
        ip_group: c.ipGroup,
        ip: c.ip,
        confirmation_id: c.id,
      });
      return true;
    });
    if (!confirmed) return undefined;
    logger.info(
      { confirmation_id: c.id, recipient_id: c.recipientId, ip_group: c.ipGroup },
      'new IP confirmed',
    );
    await bus.publishInvalidation({ kind: 'recipient', workspaceId: c.workspaceId, id: c.recipientId });
    return found;
  }

  async listTrusted(workspaceId: string, recipientId: string): Promise<readonly TrustedIp[]> {
    const { store } = this.#deps;
    const recipient = await store.recipients.get(workspaceId, recipientId);
    if (!recipient) throw new RelayError('not_found', `recipient ${recipientId} not found`);
    return store.trustedIps.list(workspaceId, recipientId);
  }

  /** Removes a trusted network, named by an address in it or by its text; the next call from it is 423 again. */
  async removeTrusted(actor: Actor, recipientId: string, ipOrGroup: string): Promise<string> {
    const { store, clock, bus } = this.#deps;
    const group = this.#deps.grouping.normalise(ipOrGroup);
    if (group === undefined)
      throw new RelayError('validation_failed', `${ipOrGroup} is not an IP address or network`, [
        { path: '/ip', message: 'must be an IP address or a trusted network such as 2001:db8::/64' },
      ]);
    const removed = await store.transaction(async (tx) => {
      const recipient = await tx.recipients.get(actor.workspaceId, recipientId);
      if (!recipient) throw new RelayError('not_found', `recipient ${recipientId} not found`);
      // A group recorded under an older grouping configuration is still removable by its exact text.
      const candidates = group === ipOrGroup ? [group] : [group, ipOrGroup];
      for (const candidate of candidates) {
        if (await tx.trustedIps.remove(actor.workspaceId, recipientId, candidate)) {
          await recordAdminAction(tx, clock, actor, 'trusted_ip.remove', recipientId, {
            ip_group: candidate,
          });
          return candidate;
        }
      }
      throw new RelayError('not_found', `recipient ${recipientId} does not trust ${group}`);
    });
    await bus.publishInvalidation({ kind: 'recipient', workspaceId: actor.workspaceId, id: recipientId });
    return removed;
  }

  #invalidate(message: Invalidation): void {
    if (message.kind === 'recipient') {
      this.#generation++;
      this.#trusted.dropRecipient(message.id);
      this.#locked.dropRecipient(message.id);
    } else if (message.kind === 'workspace') {
      this.#generation++;
      this.#trusted.dropWorkspace(message.workspaceId);
      this.#locked.dropWorkspace(message.workspaceId);
    }
  }

  /** Waits for mail and security events still being sent (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  close(): void {
    this.#unsubscribe();
    this.#unsubscribeHealth();
    this.#trusted.clear();
    this.#locked.clear();
  }
}
