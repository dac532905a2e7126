import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { newId } from '../../src/core/ids.ts';
import type { StoreDialect } from '../../src/ports/store.ts';
import { insertManagementToken } from '../../src/services/management-tokens.ts';
import { DEFAULT_WORKSPACE_SETTINGS } from '../../src/services/workspaces.ts';
import { type ApiResponse, callApi, startTestRelay, type TestRelay } from '../harness.ts';
import type { FakeUpstream, RecordedRequest } from './fake-upstream.ts';

/** What the proxy answered, read whole. */
export interface RawResponse {
  readonly method: string;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
}

export interface RawRequest {
  readonly method?: string;
  /** The request target, sent byte for byte (fetch would normalize it). */
  readonly path: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: Buffer | string;
}

/** Sends one request over a fresh connection with node:http, so the target is exactly `path`. */
export function send(baseUrl: string, options: RawRequest): Promise<RawResponse> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: Number(port),
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers ?? {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            method: options.method ?? 'GET',
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
    req.end(options.body);
  });
}

/**
 * Writes `head` (request line and header lines, without the final blank line) on a
 * raw socket, for requests node:http refuses to send (a Trailer field without a
 * chunked body, say), and resolves with the status and the response head once the
 * response's Content-Length bytes have arrived.
 */
export function exchangeRaw(
  baseUrl: string,
  head: readonly string[],
): Promise<{ status: number; head: string }> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      const text = received.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? '0');
      if (received.length < end + 4 + length) return;
      socket.destroy();
      resolve({ status: Number(text.slice(9, 12)), head: text });
    });
    socket.on('error', reject);
    socket.write(`${head.join('\r\n')}\r\n\r\n`);
  });
}

/**
 * Asserts a decision Relay made itself: the status, `Relay-Decision: <code>`, and an
 * RFC 9457 problem document carrying type, title, status, detail, code and request_id.
 */
// biome-ignore lint/suspicious/noExplicitAny: problem documents are read as parsed JSON
export function assertDecision(res: RawResponse, status: number, code: string): any {
  const context = `${res.status} ${res.text}`;
  assert.equal(res.status, status, context);
  assert.equal(res.headers['relay-decision'], code, context);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/, context);
  if (res.method === 'HEAD') return undefined; // RFC 9110 §9.3.2: the same headers, no content
  const body = JSON.parse(res.text);
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.equal(typeof body.type, 'string');
  assert.ok(body.type.length > 0);
  assert.equal(typeof body.title, 'string');
  assert.ok(body.title.length > 0);
  assert.equal(typeof body.detail, 'string');
  assert.ok(body.detail.length > 0);
  assert.equal(typeof body.request_id, 'string');
  assert.ok(body.request_id.length > 0);
  assert.equal(res.headers['x-request-id'], body.request_id);
  return body;
}

/** Asserts the upstream's own answer reached the caller: no Relay decision on it. */
export function assertPassedThrough(res: RawResponse, status = 200): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers['relay-decision'], undefined, 'an upstream answer carries no Relay-Decision');
}

export interface ProxyFixture {
  readonly relay: TestRelay;
  readonly upstream: FakeUpstream;
  /** POST /api/v1/connections (http upstream allowed), asserting 201. */
  // biome-ignore lint/suspicious/noExplicitAny: connection views are read as parsed JSON
  connection(body: Record<string, unknown>, api?: ApiCaller): Promise<any>;
  /** POST /api/v1/credentials (risks acknowledged, no IP mode unless given), asserting 201. */
  credential(body: Record<string, unknown>, api?: ApiCaller): Promise<{ id: string; token: string }>;
  /** GET on the proxy with `token` as Bearer. */
  get(path: string, token: string, headers?: OutgoingHttpHeaders): Promise<RawResponse>;
}

export type ApiCaller = (method: string, path: string, body?: unknown) => Promise<ApiResponse>;

export async function startProxyFixture(
  dialect: StoreDialect,
  upstream: FakeUpstream,
  env: Record<string, string> = {},
): Promise<ProxyFixture> {
  const relay = await startTestRelay(dialect, {
    RELAY_AUDIT_FLUSH_MS: '10',
    // These suites refuse credentials on purpose; brute-force throttling has its own tests.
    RELAY_BRUTE_FORCE_MAX_FAILURES: '100000',
    ...env,
  });
  const adminApi: ApiCaller = (method, path, body) => relay.api(method, path, body);
  return {
    relay,
    upstream,
    async connection(body, api = adminApi) {
      const options = { allow_insecure_upstream: true, ...(body.options as object | undefined) };
      const res = await api('POST', '/api/v1/connections', { ...body, options });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    },
    async credential(body, api = adminApi) {
      const res = await api('POST', '/api/v1/credentials', {
        name: 'test credential',
        ip_mode: 'none',
        acknowledge_risks: true,
        ...body,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.match(res.body.token, /^rk_proxy_/);
      return { id: res.body.id, token: res.body.token };
    },
    get(path, token, headers = {}) {
      return send(relay.proxyUrl, { path, headers: { authorization: `Bearer ${token}`, ...headers } });
    },
  };
}

/** A grant on every path and method of one connection. */
export const fullGrant = (connectionId: string) => ({
  connection_id: connectionId,
  allowed_methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
  allowed_paths: ['/**'],
});

/** The target, headers and body of recorded upstream requests, as one string to search. */
export function everythingUpstreamSaw(requests: readonly RecordedRequest[]): string {
  return requests
    .map((r) => `${r.method} ${r.url}\n${r.rawHeaders.join('\n')}\n${r.body.toString('latin1')}`)
    .join('\n---\n');
}

// biome-ignore lint/suspicious/noExplicitAny: audit events are read as parsed JSON
export type AuditEvent = any;

/** Every audit event matching `query` (all pages of GET /api/v1/audit). */
export async function listAudit(api: ApiCaller, query: Record<string, string> = {}): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const params = new URLSearchParams({ limit: '1000', ...query });
    if (cursor !== null) params.set('cursor', cursor);
    const res = await api('GET', `/api/v1/audit?${params}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    out.push(...res.body.data);
    cursor = res.body.next_cursor;
    if (cursor === null) return out;
  }
  throw new Error('audit pagination did not end');
}

/**
 * Polls GET /api/v1/audit (records are written in batches, off the request path)
 * until `done` holds for the matching events, for at most `timeoutMs`.
 */
export async function waitForAudit(
  api: ApiCaller,
  query: Record<string, string>,
  done: (events: AuditEvent[]) => boolean,
  timeoutMs = 5000,
): Promise<AuditEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await listAudit(api, query);
    if (done(events)) return events;
    if (Date.now() > deadline) {
      assert.fail(`audit records never matched within ${timeoutMs} ms: ${JSON.stringify(events)}`);
    }
    await delay(20);
  }
}

/**
 * A second workspace with its own admin token, made through the store as
 * `relay init` makes the first one (no API creates workspaces).
 */
export async function secondWorkspace(relay: TestRelay): Promise<{ workspaceId: string; api: ApiCaller }> {
  const { store } = relay.running.relay;
  const workspaceId = newId('workspace');
  const token = await store.transaction(async (tx) => {
    await tx.workspaces.insert({
      id: workspaceId,
      name: 'other',
      settings: DEFAULT_WORKSPACE_SETTINGS,
      createdAt: new Date().toISOString(),
    });
    const actor = { workspaceId, actor: 'test', ip: null };
    const { token } = await insertManagementToken(tx, actor, Date.now(), { name: 'admin', role: 'admin' });
    return token;
  });
  return {
    workspaceId,
    api: (method, path, body) => callApi(relay.apiUrl, method, path, token, body),
  };
}
