import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import { newId } from '../../core/ids.ts';
import type { Mailer, MailMessage } from '../../ports/mailer.ts';
import type { OutboxMessage, OutboxRepo } from '../../ports/store.ts';

export interface OutboxMailerDeps {
  readonly outbox: OutboxRepo;
  readonly clock: Clock;
  readonly logger: Logger;
  /** SMTP (or any delivering mailer); absent, mail lands only in the outbox and the log. */
  readonly transport?: Mailer;
}

/** SMTP errors can be long and multi-line; the outbox keeps one bounded line. */
function summary(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, ' ').trim().slice(0, 500) || 'delivery failed';
}

/**
 * Every message Relay sends goes through here (SPEC §6): it is written to the
 * outbox table first (so `relay outbox` and `GET /api/v1/outbox` show it, sent
 * or not), handed to SMTP when one is configured, marked sent or failed, and
 * logged by subject and address. The log never carries the body: a body may
 * hold a capability (a confirm link), and logs travel further than the database.
 */
export class OutboxMailer implements Mailer {
  readonly #deps: OutboxMailerDeps;

  constructor(deps: OutboxMailerDeps) {
    this.#deps = deps;
  }

  /** True when mail leaves the machine (SMTP configured). */
  get delivers(): boolean {
    return this.#deps.transport !== undefined;
  }

  async send(message: MailMessage): Promise<void> {
    const { outbox, clock, logger, transport } = this.#deps;
    const id = newId('outboxMessage');
    const workspaceId = message.workspaceId ?? null;
    await outbox.insert({
      id,
      workspaceId,
      to: message.to,
      subject: message.subject,
      text: message.text,
      createdAt: new Date(clock.now()).toISOString(),
      sentAt: null,
      error: null,
    });
    const fields = {
      ...message.logContext,
      mail_id: id,
      workspace_id: workspaceId,
      to: message.to,
      subject: message.subject,
    };
    if (transport === undefined) {
      logger.info({ ...fields, delivery: 'outbox' }, 'mail written to the outbox (no SMTP configured)');
      return;
    }
    try {
      await transport.send(message);
    } catch (error) {
      const reason = summary(error);
      await outbox.markSent(id, new Date(clock.now()).toISOString(), reason);
      logger.warn({ ...fields, delivery: 'smtp', error: reason }, 'mail delivery failed');
      throw new Error(`mail ${id} could not be delivered: ${reason}`);
    }
    await outbox.markSent(id, new Date(clock.now()).toISOString(), null);
    logger.info({ ...fields, delivery: 'smtp' }, 'mail sent');
  }

  /** Newest first; `workspaceId` undefined lists every workspace's (the operator's view). */
  list(options: {
    readonly workspaceId?: string;
    readonly limit: number;
  }): Promise<readonly OutboxMessage[]> {
    return this.#deps.outbox.list(options);
  }

  async close(): Promise<void> {
    await this.#deps.transport?.close();
  }
}
