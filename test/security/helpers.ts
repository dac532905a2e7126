import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after } from 'node:test';
import type { OutboxMessage } from '../../src/ports/store.ts';
import { type ApiResponse, callApi, type TestRelay, tempDir } from '../harness.ts';

/**
 * Fixtures of the security suites: a leak-report signer with its own ECDSA
 * P-256 key pair (GitHub's real keys are never needed), a local webhook
 * receiver, and readers for the outbox and the events.
 */

export interface LeakReportSigner {
  /** For RELAY_LEAK_REPORT_KEYS_FILE. */
  readonly keysFile: string;
  readonly keyIdentifier: string;
  /** The two GitHub headers for `body`, signed with the listed key (or `key`, to forge). */
  headers(body: string, key?: KeyObject): Record<string, string>;
}

export function leakReportSigner(): LeakReportSigner {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keyIdentifier = `test-key-${Math.random().toString(16).slice(2)}`;
  const old = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keysFile = join(tempDir('relay-leak-keys-'), 'github-keys.json');
  writeFileSync(
    keysFile,
    JSON.stringify({
      public_keys: [
        {
          key_identifier: 'retired-key',
          key: old.publicKey.export({ type: 'spki', format: 'pem' }),
          is_current: false,
        },
        {
          key_identifier: keyIdentifier,
          key: publicKey.export({ type: 'spki', format: 'pem' }),
          is_current: true,
        },
      ],
    }),
  );
  return {
    keysFile,
    keyIdentifier,
    headers(body, key = privateKey) {
      const signature = sign('sha256', Buffer.from(body, 'utf8'), { key, dsaEncoding: 'der' });
      return {
        'content-type': 'application/json',
        'github-public-key-identifier': keyIdentifier,
        'github-public-key-signature': signature.toString('base64'),
      };
    },
  };
}

/** Sends a leak report to the public endpoint (no management token). */
export async function postLeakReport(
  relay: TestRelay,
  body: string,
  headers: Record<string, string>,
): Promise<ApiResponse> {
  const res = await fetch(`${relay.apiUrl}/api/v1/leak-reports/github`, { method: 'POST', headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export interface ReceivedHook {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface WebhookReceiver {
  readonly url: string;
  readonly received: ReceivedHook[];
  /** Answers with this status from now on. */
  status: number;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = { url: '', received: [], status: 200 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(receiver.status);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/relay`,
  });
}

/** Waits for every security reaction under way (events, lockdowns, mails, webhooks) to finish. */
export async function settle(relay: TestRelay): Promise<void> {
  // Listeners of a raised event start on the next microtask: let them register first.
  await new Promise((resolve) => setImmediate(resolve));
  await relay.running.relay.security.drain();
  await new Promise((resolve) => setImmediate(resolve));
  await relay.running.relay.security.drain();
}

/** The workspace's outbox, read from the store, oldest first. */
export async function outbox(relay: TestRelay, workspaceId = relay.workspaceId): Promise<OutboxMessage[]> {
  const messages = await relay.running.relay.store.outbox.list({ workspaceId, limit: 500 });
  return [...messages].reverse();
}

/** Every security event the admin token sees (all pages). */
// biome-ignore lint/suspicious/noExplicitAny: events are read as parsed JSON
export async function listEvents(relay: TestRelay, query = '', token = relay.adminToken): Promise<any[]> {
  // biome-ignore lint/suspicious/noExplicitAny: events are read as parsed JSON
  const out: any[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    if (++pages > 100) throw new Error('security events: the cursor never ends');
    const sep = query === '' ? '?' : `?${query}&`;
    const path = `/api/v1/security-events${sep}limit=200${cursor === null ? '' : `&cursor=${cursor}`}`;
    const res = await callApi(relay.apiUrl, 'GET', path, token);
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    out.push(...res.body.data);
    cursor = res.body.next_cursor;
  } while (cursor !== null);
  return out;
}
