/**
 * Sends one plain-text e-mail (SPEC §6, §8). The SMTP adapter delivers it; the
 * outbox adapter records every message in the store and the log, and hands it
 * to SMTP when one is configured.
 */
export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** The tenant the message concerns (the outbox API shows a workspace only its own); null for operator mail. */
  readonly workspaceId?: string | null;
  /** Identifiers safe to log beside the subject (a confirmation id, say): never a link or a secret. */
  readonly logContext?: Readonly<Record<string, string>>;
}

export interface Mailer {
  /** Resolves once the message is handed over; rejects when delivery failed. */
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}
