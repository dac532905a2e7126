import assert from 'node:assert/strict';
import { randomBase62 } from '../../src/core/base62.ts';
import type { ApiResponse, TestRelay } from '../harness.ts';

/** Shared fixtures and assertions for the management API suites. */

export interface AuthCase {
  readonly type: 'bearer' | 'basic' | 'header' | 'query' | 'oauth2_client_credentials';
  /** The `auth` object sent, secret included. */
  readonly auth: Record<string, string>;
  /** What the API must show back under `auth`: the settings, never the secret. */
  readonly shown: Record<string, string>;
  readonly secret: string;
}

/** A distinctive secret per call: long enough to have a last-4, easy to search for. */
export function distinctSecret(label: string): string {
  return `SeCrEt-${label}-${randomBase62(24)}`;
}

export function authCases(): AuthCase[] {
  const bearer = distinctSecret('bearer');
  const basic = distinctSecret('basic');
  const header = distinctSecret('header');
  const query = distinctSecret('query');
  const oauth = distinctSecret('oauth');
  return [
    { type: 'bearer', secret: bearer, auth: { type: 'bearer', secret: bearer }, shown: { type: 'bearer' } },
    {
      type: 'basic',
      secret: basic,
      auth: { type: 'basic', secret: basic, username: 'api-user' },
      shown: { type: 'basic', username: 'api-user' },
    },
    {
      type: 'header',
      secret: header,
      auth: { type: 'header', secret: header, header_name: 'X-Api-Key' },
      shown: { type: 'header', header_name: 'x-api-key' },
    },
    {
      type: 'query',
      secret: query,
      auth: { type: 'query', secret: query, query_param: 'api_key' },
      shown: { type: 'query', query_param: 'api_key' },
    },
    {
      type: 'oauth2_client_credentials',
      secret: oauth,
      auth: {
        type: 'oauth2_client_credentials',
        secret: oauth,
        token_url: 'https://auth.example.com/oauth/token',
        client_id: 'client-123',
        scope: 'read:things',
      },
      shown: {
        type: 'oauth2_client_credentials',
        token_url: 'https://auth.example.com/oauth/token',
        client_id: 'client-123',
        scope: 'read:things',
      },
    },
  ];
}

export function connectionBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Example API',
    base_url: 'https://api.example.com',
    auth: { type: 'bearer', secret: distinctSecret('conn') },
    ...over,
  };
}

export function grant(connectionId: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { connection_id: connectionId, allowed_methods: ['GET'], allowed_paths: ['/v1/**'], ...over };
}

/** Asserts an RFC 9457 problem document with the registry's code and status. */
export function assertProblem(res: ApiResponse, status: number, code: string): void {
  assert.equal(
    res.status,
    status,
    `expected ${status} ${code}, got ${res.status} ${JSON.stringify(res.body)}`,
  );
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const body = res.body;
  assert.equal(typeof body, 'object');
  assert.equal(body.status, status);
  assert.equal(body.code, code);
  assert.equal(body.type, `https://relay.dev/errors/${code}`);
  assert.equal(typeof body.title, 'string');
  assert.ok(body.title.length > 0);
  assert.equal(typeof body.detail, 'string');
  assert.ok(body.detail.length > 0);
  assert.match(body.request_id, /^req_[0-9A-Za-z]+$/);
  assert.equal(res.headers.get('x-request-id'), body.request_id);
}

/** Creates a connection through the API and returns its body (asserting 201). */
export async function createConnection(
  relay: TestRelay,
  over: Record<string, unknown> = {},
  token?: string,
): Promise<Record<string, unknown> & { id: string }> {
  const res = await relay.api('POST', '/api/v1/connections', connectionBody(over), token);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

export async function createRecipient(
  relay: TestRelay,
  over: Record<string, unknown> = {},
  token?: string,
): Promise<Record<string, unknown> & { id: string }> {
  const res = await relay.api('POST', '/api/v1/recipients', { name: 'Agent', kind: 'agent', ...over }, token);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

export async function issueCredential(
  relay: TestRelay,
  body: Record<string, unknown>,
  token?: string,
): Promise<Record<string, unknown> & { id: string; token: string }> {
  const res = await relay.api('POST', '/api/v1/credentials', { name: 'cred', ...body }, token);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** Sends a raw request (any headers, any body) to the management API. */
export async function rawApi(
  relay: TestRelay,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<ApiResponse> {
  const res = await fetch(relay.apiUrl + path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Everything a workspace holds, as the API lists it: to prove that bad input changed nothing. */
export async function snapshot(relay: TestRelay, token?: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const path of [
    '/api/v1/connections?limit=200',
    '/api/v1/recipients?limit=200',
    '/api/v1/credentials?limit=200',
    '/api/v1/tokens?limit=200',
    '/api/v1/admin-audit?limit=200',
    '/api/v1/workspace',
  ]) {
    const res = await relay.api('GET', path, undefined, token);
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
    // last_used_at of the calling token moves on its own: leave it out
    out[path] = JSON.parse(JSON.stringify(res.body), (key, value) =>
      key === 'last_used_at' ? undefined : value,
    );
  }
  return out;
}
