import assert from 'node:assert/strict';
import { type OutgoingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';
import { SMTPServer } from 'smtp-server';
import type { RawResponse } from '../proxy/proxy-helpers.ts';

/** One message the local SMTP server accepted, decoded. */
export interface ReceivedMail {
  readonly envelopeTo: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
  readonly subject: string;
  readonly text: string;
  readonly raw: string;
}

export interface SmtpSink {
  readonly url: string;
  readonly messages: ReceivedMail[];
  /** Resolves with the `n`-th message (0-based) once it has arrived. */
  nth(n: number, timeoutMs?: number): Promise<ReceivedMail>;
}

/** RFC 2045 §6.7 quoted-printable: soft line breaks and =XX octets, then UTF-8. */
function decodeQuotedPrintable(body: string): string {
  const joined = body.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    const c = joined[i] as string;
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(joined.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** RFC 2047 encoded words (`=?UTF-8?Q?…?=` / `=?UTF-8?B?…?=`) in a header. */
function decodeHeader(value: string): string {
  return value.replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=\s*/g, (_m, _charset, enc: string, text: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64').toString('utf8')
      : decodeQuotedPrintable(text.replace(/_/g, ' ')),
  );
}

export function parseMail(raw: string, envelopeTo: readonly string[]): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const body = raw.slice(split + 4);
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const encoding = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  const text =
    encoding === 'quoted-printable'
      ? decodeQuotedPrintable(body)
      : encoding === 'base64'
        ? Buffer.from(body, 'base64').toString('utf8')
        : body;
  return {
    envelopeTo,
    headers,
    subject: decodeHeader(headers.subject ?? ''),
    text: text.replace(/\r\n/g, '\n'),
    raw,
  };
}

/** A real SMTP server on 127.0.0.1, port 0 (no TLS offered, no authentication), collecting what it receives. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address);
        messages.push(parseMail(Buffer.concat(chunks).toString('utf8'), to));
        for (const wake of waiters) wake();
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    nth(n, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages[n];
          if (found === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`mail #${n + 1} did not arrive within ${timeoutMs} ms (got ${messages.length})`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

/** The confirm link of a new-IP mail, and its secret. */
export function confirmLinkIn(text: string): { url: string; secret: string; path: string } {
  const match = /(https?:\/\/\S+)\/confirm-ip\/([0-9A-Za-z]{40})(?=\s)/.exec(text);
  assert.ok(match, `no confirm link in:\n${text}`);
  const secret = match[2] as string;
  return { url: `${match[1]}/confirm-ip/${secret}`, secret, path: `/confirm-ip/${secret}` };
}

/** GET with a Bearer token (none: no Authorization header) over a fresh connection from `localAddress` (127.0.0.0/8 is all loopback). */
export function callFrom(
  proxyUrl: string,
  localAddress: string,
  path: string,
  token: string | undefined,
  headers: OutgoingHttpHeaders = {},
): Promise<RawResponse> {
  const url = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: Number(url.port),
        localAddress,
        method: 'GET',
        path,
        headers: token === undefined ? headers : { authorization: `Bearer ${token}`, ...headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            method: 'GET',
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: body.toString('utf8'),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A plain HTTP call to a page (no token), as a browser or a mail scanner makes it. */
export async function page(
  url: string,
  method: 'GET' | 'POST',
): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, {
    method,
    ...(method === 'POST'
      ? { body: '', headers: { 'content-type': 'application/x-www-form-urlencoded' } }
      : {}),
    redirect: 'manual',
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}
