import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { RelayError } from '../core/errors.ts';
import type { Actor, Workspace, WorkspaceLockdown } from '../core/model.ts';
import type { Bus } from '../ports/bus.ts';
import type { Mailer } from '../ports/mailer.ts';
import type { SecurityEvent, Store } from '../ports/store.ts';
import { recordAdminAction } from './admin-audit.ts';
import { securityEventView } from './security-alerts-inbox.ts';
import { type AlertMail, lockdownMail, securityEventMail } from './security-alerts-mail.ts';
import { newWebhookSecret, type WebhookSender } from './security-alerts-webhook.ts';
import { type SecurityEventService, SYSTEM_WORKSPACE } from './security-events.ts';

export interface SecurityAlertsDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly bus: Bus;
  readonly logger: Logger;
  readonly mailer: Mailer;
  readonly webhook: WebhookSender;
  readonly securityEvents: SecurityEventService;
}

/** Severities that page someone; low and medium are only listed. */
const ALERTED: ReadonlySet<SecurityEvent['severity']> = new Set(['high', 'critical']);

/**
 * Tells people about security events (SPEC §8): every high or critical event is
 * mailed to the workspace's `alert_emails` and POSTed, signed, to its
 * `security_webhook_url`; so are lockdowns and their lifting. A system-wide
 * event (no workspace to pin it on) goes to every workspace's recipients.
 *
 * Everything runs in the background, off the request path: a slow SMTP server
 * or webhook never delays an answer. Failures are logged (host only: a webhook
 * URL's path may itself be a capability) and never retried; the event stays
 * listed in the API whatever happens to its notifications.
 */
export class SecurityAlerts {
  readonly #deps: SecurityAlertsDeps;
  readonly #background = new Set<Promise<void>>();
  readonly #unsubscribe: () => void;

  constructor(deps: SecurityAlertsDeps) {
    this.#deps = deps;
    this.#unsubscribe = deps.securityEvents.onRaised((event) => {
      if (ALERTED.has(event.severity)) this.#inBackground(this.#announceEvent(event));
    });
  }

  /**
   * Sets the workspace's security webhook and gives it a fresh signing secret,
   * returned here once (a view never shows it). Setting it again replaces both.
   */
  async setWebhook(actor: Actor, url: string): Promise<{ url: string; secret: string }> {
    const { store, clock, bus, webhook } = this.#deps;
    const checked = await webhook.check(url);
    const secret = newWebhookSecret();
    await store.transaction(async (tx) => {
      const workspace = await tx.workspaces.getForUpdate(actor.workspaceId);
      if (!workspace) throw new RelayError('not_found', 'workspace not found');
      await tx.workspaces.updateSettings(actor.workspaceId, {
        ...workspace.settings,
        security_webhook_url: checked,
        security_webhook_secret: secret,
      });
      // The host only: a webhook URL's path can itself be a capability.
      await recordAdminAction(tx, clock, actor, 'workspace.security_webhook.set', actor.workspaceId, {
        host: new URL(checked).host,
      });
    });
    await bus.publishInvalidation({
      kind: 'workspace',
      workspaceId: actor.workspaceId,
      id: actor.workspaceId,
    });
    return { url: checked, secret };
  }

  async removeWebhook(actor: Actor): Promise<void> {
    const { store, clock, bus } = this.#deps;
    const removed = await store.transaction(async (tx) => {
      const workspace = await tx.workspaces.getForUpdate(actor.workspaceId);
      if (!workspace) throw new RelayError('not_found', 'workspace not found');
      if (!workspace.settings.security_webhook_url) return false;
      await tx.workspaces.updateSettings(actor.workspaceId, {
        ...workspace.settings,
        security_webhook_url: null,
        security_webhook_secret: null,
      });
      await recordAdminAction(tx, clock, actor, 'workspace.security_webhook.remove', actor.workspaceId);
      return true;
    });
    if (removed)
      await bus.publishInvalidation({
        kind: 'workspace',
        workspaceId: actor.workspaceId,
        id: actor.workspaceId,
      });
  }

  /** A lockdown put in place or lifted. */
  announceLockdown(workspaceId: string, lockdown: WorkspaceLockdown): void {
    this.#inBackground(
      (async () => {
        const workspace = await this.#deps.store.workspaces.get(workspaceId);
        if (!workspace) return;
        await this.#deliver(workspace, lockdownMail(lockdown, workspace.name), {
          type: lockdown.locked ? 'workspace.locked' : 'workspace.lockdown_lifted',
          workspace_id: workspaceId,
          lockdown,
        });
      })(),
    );
  }

  async #announceEvent(event: SecurityEvent): Promise<void> {
    const { store } = this.#deps;
    const workspaces =
      event.workspaceId === SYSTEM_WORKSPACE
        ? await store.workspaces.list()
        : [await store.workspaces.get(event.workspaceId)].filter((w) => w !== undefined);
    await Promise.all(
      workspaces.map((workspace) =>
        this.#deliver(workspace, securityEventMail(event, workspace.name), {
          type: 'security_event.raised',
          workspace_id: workspace.id,
          event: securityEventView(event),
        }),
      ),
    );
  }

  async #deliver(workspace: Workspace, mail: AlertMail, payload: Record<string, unknown>): Promise<void> {
    const { mailer, logger } = this.#deps;
    const settings = workspace.settings;
    const context = { workspace_id: workspace.id, alert: String(payload.type) };
    const mails = (settings.alert_emails ?? []).map((to) =>
      mailer
        .send({ to, ...mail, workspaceId: workspace.id, logContext: context })
        .catch((error: unknown) =>
          logger.warn(
            { ...context, err: { message: (error as Error).message } },
            'security alert mail failed',
          ),
        ),
    );
    const url = settings.security_webhook_url;
    const secret = settings.security_webhook_secret;
    const hook =
      typeof url === 'string' && url !== '' && typeof secret === 'string' && secret !== ''
        ? this.#callWebhook(url, secret, { ...payload, sent_at: this.#now() }, context)
        : Promise.resolve();
    await Promise.all([...mails, hook]);
  }

  async #callWebhook(
    url: string,
    secret: string,
    payload: Record<string, unknown>,
    context: Record<string, string>,
  ): Promise<void> {
    const { webhook, logger, clock } = this.#deps;
    let host = '(invalid url)';
    try {
      host = new URL(url).host;
    } catch {
      // logged as invalid below
    }
    try {
      const status = await webhook.send(url, secret, JSON.stringify(payload), clock.now());
      if (status >= 200 && status < 300)
        logger.info({ ...context, host, status }, 'security webhook delivered');
      else logger.warn({ ...context, host, status }, 'security webhook answered with an error status');
    } catch (error) {
      logger.warn(
        { ...context, host, err: { message: (error as Error).message } },
        'security webhook delivery failed',
      );
    }
  }

  #now(): string {
    return new Date(this.#deps.clock.now()).toISOString();
  }

  #inBackground(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) =>
      this.#deps.logger.error({ err: { message: (error as Error).message } }, 'security alerting failed'),
    );
    this.#background.add(tracked);
    void tracked.finally(() => this.#background.delete(tracked));
  }

  /** Resolves once every notification started so far has been sent or has failed. */
  async drain(): Promise<void> {
    while (this.#background.size > 0) await Promise.all([...this.#background]);
  }

  close(): void {
    this.#unsubscribe();
  }
}
