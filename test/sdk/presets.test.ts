import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { Octokit } from '@octokit/rest';
import OpenAI from 'openai';
import Stripe from 'stripe';
import { DIALECTS, skipFor, startTestRelay, type TestRelay } from '../harness.ts';
import {
  assertCleanUpstream,
  type FakeUpstream,
  RELAY_TOKEN_MARK,
  sendJson,
  startFakeUpstream,
} from './fake-upstream.ts';
import { pathPrefixingClient, type WireExchange } from './stripe-client.ts';

/**
 * Issue 4, point 6: the OpenAI, Anthropic, Stripe and GitHub presets, each driven
 * by the vendor's official SDK. A connection is created with only `preset`, a
 * base URL pointing at a loopback fake, and the real key; the injection style and
 * extra headers come from the preset. The credential's grant is exactly the
 * preset's read-only scope from GET /api/v1/presets, issued without acknowledging
 * risks (a read-only template must pass the safety review). Reads work through
 * the SDK; a call outside that scope is refused by Relay and never reaches the fake.
 */

const OPENAI_KEY = 'sk-proj-PRESETopenaiKEY0123456789abcdefgh';
const ANTHROPIC_KEY = 'sk-ant-api03-PRESETanthropicKEY0123456789abcd';
const STRIPE_KEY = 'sk_live_PRESETstripeKEY0123456789abcdefghijkl';
const GITHUB_KEY = 'ghp_PRESETgithubTOKEN0123456789abcdefghij';

interface PresetDoc {
  readonly id: string;
  readonly base_url: string;
  readonly auth: { readonly type: string; readonly header_name?: string };
  readonly extra_headers: Record<string, string>;
  readonly read_only_scope: { readonly allowed_methods: string[]; readonly allowed_paths: string[] };
}

interface PresetAccess {
  readonly connectionId: string;
  readonly token: string;
  readonly preset: PresetDoc;
}

/** The connection from `preset` (only base_url overridden) and a credential granting its read-only scope. */
async function presetAccess(
  relay: TestRelay,
  presets: readonly PresetDoc[],
  presetId: string,
  upstream: FakeUpstream,
  secret: string,
): Promise<PresetAccess> {
  const preset = presets.find((p) => p.id === presetId);
  assert.ok(preset, `GET /api/v1/presets lacks ${presetId}`);
  const connectionId = `conn_${presetId}`;
  const created = await relay.api('POST', '/api/v1/connections', {
    id: connectionId,
    name: preset.id,
    preset: preset.id,
    base_url: upstream.url,
    auth: { secret },
    options: { allow_insecure_upstream: true },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.preset, preset.id);
  assert.equal(created.body.auth.type, preset.auth.type);
  assert.equal(created.body.auth.header_name, preset.auth.header_name);
  const scope = preset.read_only_scope;
  const issued = await relay.api('POST', '/api/v1/credentials', {
    name: `${presetId} read-only`,
    grants: [
      {
        connection_id: connectionId,
        allowed_methods: scope.allowed_methods,
        allowed_paths: scope.allowed_paths,
      },
    ],
    ttl_seconds: 3600,
    ip_mode: 'none',
  });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  assert.ok(String(issued.body.token).startsWith(RELAY_TOKEN_MARK));
  assert.deepEqual(issued.body.grants, [
    {
      connection_id: connectionId,
      allowed_methods: scope.allowed_methods,
      allowed_paths: scope.allowed_paths,
      deny_query_params: [],
    },
  ]);
  return { connectionId, token: issued.body.token, preset };
}

/** What Octokit's RequestError carries. */
interface HttpFailure {
  readonly status?: number;
  readonly response?: { readonly headers: Record<string, string | number | undefined> };
}

const notFound = (res: Parameters<typeof sendJson>[0]) =>
  sendJson(res, 404, { error: { message: 'unknown fake route', type: 'invalid_request_error' } });

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect), timeout: 30_000 }, async () => {
    const openaiUpstream = await startFakeUpstream({
      authorized: (r) => r.headers.authorization === `Bearer ${OPENAI_KEY}`,
      handle(request, res) {
        if (request.method === 'GET' && request.url === '/v1/models') {
          return sendJson(res, 200, {
            object: 'list',
            data: [{ id: 'gpt-x', object: 'model', created: 1_700_000_000, owned_by: 'fake' }],
          });
        }
        if (request.method === 'GET' && request.url === '/v1/models/gpt-x') {
          return sendJson(res, 200, {
            id: 'gpt-x',
            object: 'model',
            created: 1_700_000_000,
            owned_by: 'fake',
          });
        }
        notFound(res);
      },
    });
    const anthropicUpstream = await startFakeUpstream({
      authorized: (r) => r.headers['x-api-key'] === ANTHROPIC_KEY && r.headers.authorization === undefined,
      handle(request, res) {
        if (typeof request.headers['anthropic-version'] !== 'string') {
          return sendJson(res, 400, {
            type: 'error',
            error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' },
          });
        }
        const url = new URL(request.url, 'http://fake.invalid');
        if (request.method === 'GET' && url.pathname === '/v1/models') {
          return sendJson(res, 200, {
            data: [
              {
                type: 'model',
                id: 'claude-fake-1',
                display_name: 'Claude Fake',
                created_at: '2025-01-01T00:00:00Z',
              },
            ],
            has_more: false,
            first_id: 'claude-fake-1',
            last_id: 'claude-fake-1',
          });
        }
        notFound(res);
      },
    });
    const stripeUpstream = await startFakeUpstream({
      authorized: (r) => r.headers.authorization === `Bearer ${STRIPE_KEY}`,
      handle(request, res) {
        const url = new URL(request.url, 'http://fake.invalid');
        if (request.method === 'GET' && url.pathname === '/v1/customers') {
          return sendJson(res, 200, {
            object: 'list',
            url: '/v1/customers',
            has_more: false,
            data: [{ id: 'cus_preset', object: 'customer', email: 'preset@example.com' }],
          });
        }
        if (request.method === 'POST' && url.pathname === '/v1/charges') {
          return sendJson(res, 200, { id: 'ch_MUST_NOT_HAPPEN', object: 'charge', amount: 2000 });
        }
        notFound(res);
      },
    });
    const githubUpstream = await startFakeUpstream({
      authorized: (r) => r.headers.authorization === `Bearer ${GITHUB_KEY}`,
      handle(request, res) {
        const url = new URL(request.url, 'http://fake.invalid');
        if (request.method === 'GET' && url.pathname === '/repos/octo/hello') {
          return sendJson(res, 200, { id: 1, name: 'hello', full_name: 'octo/hello', private: false });
        }
        if (request.method === 'GET' && url.pathname === '/repos/octo/hello/commits') {
          return sendJson(res, 200, [
            { sha: 'abc123', commit: { message: 'first' } },
            { sha: 'def456', commit: { message: 'second' } },
          ]);
        }
        if (request.method === 'DELETE' || url.pathname.startsWith('/orgs/')) {
          res.writeHead(204);
          res.end();
          return;
        }
        sendJson(res, 404, { message: 'Not Found' });
      },
    });

    const relay = await startTestRelay(dialect);
    const listed = await relay.api('GET', '/api/v1/presets');
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    const presets: PresetDoc[] = listed.body.data;
    const openai = await presetAccess(relay, presets, 'openai', openaiUpstream, OPENAI_KEY);
    const anthropic = await presetAccess(relay, presets, 'anthropic', anthropicUpstream, ANTHROPIC_KEY);
    const stripe = await presetAccess(relay, presets, 'stripe', stripeUpstream, STRIPE_KEY);
    const github = await presetAccess(relay, presets, 'github', githubUpstream, GITHUB_KEY);

    describe('openai', () => {
      const client = new OpenAI({
        apiKey: openai.token,
        baseURL: `${relay.proxyUrl}/${openai.connectionId}/v1`,
        maxRetries: 0,
        timeout: 10_000,
      });

      it('lists and retrieves models with the real key as Bearer', async () => {
        const before = openaiUpstream.seen.length;
        const page = await client.models.list();
        assert.deepEqual(
          page.data.map((m) => m.id),
          ['gpt-x'],
        );
        const model = await client.models.retrieve('gpt-x');
        assert.equal(model.id, 'gpt-x');
        const seen = openaiUpstream.seen.slice(before);
        assert.deepEqual(
          seen.map((r) => `${r.method} ${r.url}`),
          ['GET /v1/models', 'GET /v1/models/gpt-x'],
        );
        for (const r of seen) assert.equal(r.headers.authorization, `Bearer ${OPENAI_KEY}`);
        assertCleanUpstream(openaiUpstream, openai.token);
      });

      it('refuses files.list (outside the read-only scope) before the upstream', async () => {
        const before = openaiUpstream.seen.length;
        await assert.rejects(client.files.list(), (error: unknown) => {
          assert.ok(error instanceof OpenAI.PermissionDeniedError, String(error));
          assert.equal(error.status, 403);
          assert.equal(error.headers.get('relay-decision'), 'path_not_allowed');
          return true;
        });
        await assert.rejects(
          client.chat.completions.create({ model: 'gpt-x', messages: [{ role: 'user', content: 'hi' }] }),
          (error: unknown) => {
            assert.ok(error instanceof OpenAI.PermissionDeniedError, String(error));
            assert.equal(error.headers.get('relay-decision'), 'method_not_allowed');
            return true;
          },
        );
        assert.equal(openaiUpstream.seen.length, before, 'the upstream must not be contacted');
      });
    });

    describe('anthropic', () => {
      const client = new Anthropic({
        apiKey: anthropic.token,
        authToken: null,
        baseURL: `${relay.proxyUrl}/${anthropic.connectionId}`,
        maxRetries: 0,
        timeout: 10_000,
      });

      it('lists models with the real key in x-api-key and anthropic-version present', async () => {
        const before = anthropicUpstream.seen.length;
        const page = await client.models.list();
        assert.deepEqual(
          page.data.map((m) => m.id),
          ['claude-fake-1'],
        );
        const request = anthropicUpstream.seen[before];
        assert.equal(request?.method, 'GET');
        assert.equal(new URL(request?.url ?? '', 'http://fake.invalid').pathname, '/v1/models');
        assert.equal(request?.headers['x-api-key'], ANTHROPIC_KEY);
        assert.match(String(request?.headers['anthropic-version']), /^\d{4}-\d{2}-\d{2}$/);
        assertCleanUpstream(anthropicUpstream, anthropic.token);
      });

      it("sends the preset's anthropic-version when the caller does not", async () => {
        const before = anthropicUpstream.seen.length;
        const res = await fetch(`${relay.proxyUrl}/${anthropic.connectionId}/v1/models`, {
          headers: { 'x-api-key': anthropic.token },
        });
        assert.equal(res.status, 200, await res.clone().text());
        await res.arrayBuffer();
        const request = anthropicUpstream.seen[before];
        assert.equal(
          request?.headers['anthropic-version'],
          anthropic.preset.extra_headers['anthropic-version'],
        );
        assert.equal(request?.headers['anthropic-version'], '2023-06-01');
        assertCleanUpstream(anthropicUpstream, anthropic.token);
      });

      it('refuses messages.create (outside the read-only scope) before the upstream', async () => {
        const before = anthropicUpstream.seen.length;
        await assert.rejects(
          client.messages.create({
            model: 'claude-fake-1',
            max_tokens: 16,
            messages: [{ role: 'user', content: 'hi' }],
          }),
          (error: unknown) => {
            assert.ok(error instanceof Anthropic.PermissionDeniedError, String(error));
            assert.equal(error.status, 403);
            assert.equal(error.headers?.get('relay-decision'), 'method_not_allowed');
            return true;
          },
        );
        assert.equal(anthropicUpstream.seen.length, before, 'the upstream must not be contacted');
      });
    });

    describe('stripe', () => {
      const proxy = new URL(relay.proxyUrl);
      const wire: WireExchange[] = [];
      const client = new Stripe(stripe.token, {
        host: proxy.hostname,
        port: proxy.port,
        protocol: 'http',
        httpClient: pathPrefixingClient(`/${stripe.connectionId}`, wire),
        maxNetworkRetries: 0,
        telemetry: false,
        timeout: 10_000,
      });

      it('lists customers with the real key as Bearer', async () => {
        const before = stripeUpstream.seen.length;
        const list = await client.customers.list({ limit: 1 });
        assert.deepEqual(
          list.data.map((c) => c.id),
          ['cus_preset'],
        );
        const request = stripeUpstream.seen[before];
        assert.equal(request?.method, 'GET');
        assert.equal(request?.url, '/v1/customers?limit=1');
        assert.equal(request?.headers.authorization, `Bearer ${STRIPE_KEY}`);
        assertCleanUpstream(stripeUpstream, stripe.token);
      });

      it('refuses charges.create (money-moving write) with 403 before the upstream', async () => {
        const before = stripeUpstream.seen.length;
        await assert.rejects(
          client.charges.create({ amount: 2000, currency: 'usd', source: 'tok_visa' }),
          (error: unknown) => {
            assert.ok(error instanceof Stripe.errors.StripePermissionError, `got ${String(error)}`);
            assert.equal(error.statusCode, 403);
            assert.equal(error.headers?.['relay-decision'], 'method_not_allowed');
            return true;
          },
        );
        assert.equal(wire.at(-1)?.path, `/${stripe.connectionId}/v1/charges`);
        assert.equal(wire.at(-1)?.status, 403);
        assert.equal(stripeUpstream.seen.length, before, 'the upstream must not be contacted');
      });
    });

    describe('github', () => {
      const octokit = new Octokit({
        auth: github.token,
        baseUrl: `${relay.proxyUrl}/${github.connectionId}`,
        request: { retries: 0 },
        log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
      });

      it("gets a repo and lists commits with the real key as Bearer and the preset's API version", async () => {
        const before = githubUpstream.seen.length;
        const repo = await octokit.repos.get({ owner: 'octo', repo: 'hello' });
        assert.equal(repo.data.full_name, 'octo/hello');
        const commits = await octokit.repos.listCommits({ owner: 'octo', repo: 'hello', per_page: 2 });
        assert.deepEqual(
          commits.data.map((c) => c.sha),
          ['abc123', 'def456'],
        );
        const seen = githubUpstream.seen.slice(before);
        assert.deepEqual(
          seen.map((r) => `${r.method} ${new URL(r.url, 'http://fake.invalid').pathname}`),
          ['GET /repos/octo/hello', 'GET /repos/octo/hello/commits'],
        );
        for (const r of seen) {
          assert.equal(r.headers.authorization, `Bearer ${GITHUB_KEY}`);
          assert.equal(
            r.headers['x-github-api-version'],
            github.preset.extra_headers['x-github-api-version'],
          );
          assert.equal(r.headers['x-github-api-version'], '2022-11-28');
          assert.match(String(r.headers.accept), /application\/vnd\.github/);
        }
        assertCleanUpstream(githubUpstream, github.token);
      });

      it('refuses repos.delete and orgs.get (outside the read-only scope) before the upstream', async () => {
        const before = githubUpstream.seen.length;
        const refused = (decision: string) => (error: unknown) => {
          const failure = error as HttpFailure;
          assert.equal(failure.status, 403, String(error));
          assert.equal(failure.response?.headers['relay-decision'], decision);
          return true;
        };
        await assert.rejects(
          octokit.repos.delete({ owner: 'octo', repo: 'hello' }),
          refused('method_not_allowed'),
        );
        await assert.rejects(octokit.orgs.get({ org: 'octo' }), refused('path_not_allowed'));
        assert.equal(githubUpstream.seen.length, before, 'the upstream must not be contacted');
      });
    });
  });
}
