import { createTransport } from 'nodemailer';
import type { Mailer, MailMessage } from '../../ports/mailer.ts';

export interface SmtpMailerOptions {
  /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://host:465`; query options as nodemailer reads them. */
  readonly url: string;
  /** The sender, e.g. `Relay <relay@example.com>`. */
  readonly from: string;
}

/**
 * Delivers mail over SMTP with nodemailer. Timeouts are short enough that a
 * dead mail server shows up in the outbox as an error within seconds rather
 * than minutes; the URL may override them.
 */
export class SmtpMailer implements Mailer {
  readonly #transport: ReturnType<typeof createTransport>;
  readonly #from: string;

  constructor(options: SmtpMailerOptions) {
    this.#from = options.from;
    this.#transport = createTransport({
      url: options.url,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
  }

  async send(message: MailMessage): Promise<void> {
    await this.#transport.sendMail({
      from: this.#from,
      to: message.to,
      subject: message.subject,
      text: message.text,
    });
  }

  async close(): Promise<void> {
    this.#transport.close();
  }
}
