import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';
import type { TestRelay } from '../harness.ts';

/**
 * A loopback stand-in for a vendor API, for the SDK and end-to-end suites. It
 * records every request it sees, and refuses (like the vendor would) any request
 * that lacks the real key in the vendor's style or that carries anything that
 * looks like a Relay token, so a leak fails the SDK call as well as the asserts.
 */

export const RELAY_TOKEN_MARK = 'rk_proxy_';

export interface SeenRequest {
  readonly method: string;
  /** The request target as received: path and query. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface FakeUpstreamOptions {
  /** True when the request carries the real key where the vendor expects it. */
  readonly authorized: (request: SeenRequest) => boolean;
  /** Answers an authorized request. */
  readonly handle: (request: SeenRequest, res: ServerResponse) => void | Promise<void>;
}

export interface FakeUpstream {
  readonly url: string;
  readonly seen: SeenRequest[];
  /** Why requests were refused by the fake itself (missing key, leaked token); empty when all is well. */
  readonly problems: string[];
}

/** Every place a request could carry a Relay token upstream: target, each header value, body. */
export function leaksRelayToken(request: SeenRequest, token = RELAY_TOKEN_MARK): boolean {
  const decodedUrl = (() => {
    try {
      return decodeURIComponent(request.url);
    } catch {
      return request.url;
    }
  })();
  if (request.url.includes(token) || decodedUrl.includes(token)) return true;
  for (const [name, value] of Object.entries(request.headers)) {
    if (name.includes(token)) return true;
    for (const v of Array.isArray(value) ? value : [value ?? '']) {
      if (v.includes(token)) return true;
      // A basic-auth header hides its fields in base64.
      const basic = /^basic\s+(\S+)/i.exec(v);
      if (basic?.[1] && Buffer.from(basic[1], 'base64').toString('utf8').includes(token)) return true;
    }
  }
  return request.body.includes(token);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startFakeUpstream(options: FakeUpstreamOptions): Promise<FakeUpstream> {
  const seen: SeenRequest[] = [];
  const problems: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(request);
      if (leaksRelayToken(request)) {
        problems.push(`${request.method} ${request.url}: a Relay token reached the upstream`);
        return sendJson(res, 400, { error: { message: 'relay token leaked upstream', type: 'fake' } });
      }
      if (!options.authorized(request)) {
        problems.push(`${request.method} ${request.url}: the real key did not arrive`);
        return sendJson(res, 401, { error: { message: 'invalid api key', type: 'fake' } });
      }
      Promise.resolve(options.handle(request, res)).catch((error: unknown) => {
        problems.push(`${request.method} ${request.url}: handler failed: ${(error as Error).message}`);
        if (!res.headersSent) sendJson(res, 500, { error: { message: 'fake failed', type: 'fake' } });
        else res.destroy();
      });
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
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, problems };
}

export interface ScopedAccess {
  readonly connectionId: string;
  readonly token: string;
  readonly credentialId: string;
}

/**
 * Adds a connection to `upstream` (plain http allowed: it is a loopback fake) and
 * a credential granting exactly `methods` on `paths`, with no IP rule.
 */
export async function scopedAccess(
  relay: TestRelay,
  upstream: FakeUpstream,
  connection: { readonly id: string; readonly auth: Record<string, string> },
  grant: { readonly methods: readonly string[]; readonly paths: readonly string[] },
): Promise<ScopedAccess> {
  const created = await relay.api('POST', '/api/v1/connections', {
    id: connection.id,
    name: connection.id,
    base_url: upstream.url,
    auth: connection.auth,
    options: { allow_insecure_upstream: true },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const issued = await relay.api('POST', '/api/v1/credentials', {
    name: `${connection.id} sdk test`,
    grants: [{ connection_id: created.body.id, allowed_methods: grant.methods, allowed_paths: grant.paths }],
    ip_mode: 'none',
    acknowledge_risks: true,
  });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  assert.ok(String(issued.body.token).startsWith(RELAY_TOKEN_MARK));
  return { connectionId: created.body.id, token: issued.body.token, credentialId: issued.body.id };
}

/** The fake saw only well-formed requests: the real key in place, no Relay token anywhere. */
export function assertCleanUpstream(upstream: FakeUpstream, token: string): void {
  assert.deepEqual(upstream.problems, []);
  for (const request of upstream.seen) {
    assert.equal(leaksRelayToken(request, token), false, `${request.method} ${request.url} leaked the token`);
    assert.equal(leaksRelayToken(request), false, `${request.method} ${request.url} carries rk_proxy_`);
  }
}
