/** The new-IP confirmation e-mail (seed 004's "Confirm a new IP"), as plain text. */
export interface ConfirmationMailInput {
  readonly recipientName: string;
  readonly credentialName: string;
  readonly ip: string;
  /** The network that will be trusted, when it is wider than the address (IPv6 /64, a shared range). */
  readonly ipGroup: string;
  readonly userAgent: string | null;
  readonly connection: { readonly id: string; readonly name: string };
  /** When the blocked request arrived (ms since the epoch). */
  readonly at: number;
  readonly link: string;
  readonly ttlHours: number;
}

export const CONFIRMATION_SUBJECT = 'Confirm a new IP for your Relay key';

/** Caller-supplied text in a mail: one line, printable, bounded (the user agent is the attacker's to choose). */
export function printable(text: string, max = 200): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export function utcTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function confirmationMail(input: ConfirmationMailInput): { subject: string; text: string } {
  const network = input.ipGroup === input.ip ? '' : ` (network ${input.ipGroup})`;
  const connection =
    input.connection.name === input.connection.id
      ? input.connection.id
      : `${printable(input.connection.name)} (${input.connection.id})`;
  const hours = input.ttlHours === 1 ? '1 hour' : `${input.ttlHours} hours`;
  const text = [
    `Hello ${printable(input.recipientName)},`,
    '',
    `Relay saw a request from a new IP for your Relay key "${printable(input.credentialName)}".`,
    'The call was blocked until you confirm.',
    '',
    `IP:         ${input.ip}${network}`,
    `Client:     ${input.userAgent === null ? '(no user agent)' : printable(input.userAgent)}`,
    `Connection: ${connection}`,
    `Time:       ${utcTime(input.at)}`,
    '',
    'Confirm this IP (the page asks you to press a button):',
    input.link,
    '',
    `The link expires in ${hours}. Once confirmed, this network works for all your Relay keys.`,
    '',
    "If this wasn't you, ignore this email — the request was blocked. Tell your Relay administrator:",
    'someone else may hold your key.',
    '',
  ].join('\n');
  return { subject: CONFIRMATION_SUBJECT, text };
}
