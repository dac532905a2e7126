import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import { DIALECTS, skipFor, startTestRelay, type TestRelay } from '../harness.ts';
import { assertCleanUpstream, scopedAccess, sendJson, startFakeUpstream } from './fake-upstream.ts';

/**
 * The official `openai` package, configured with an `rk_proxy_…` token as its API
 * key and Relay as its base URL, works unchanged: listing, a streamed chat
 * completion that arrives piece by piece, and a refusal it reports as a 403.
 */

const REAL_KEY = 'sk-proj-REALopenaiKEY0123456789abcdefghij';
const PIECES = ['Hel', 'lo', ', ', 'wor', 'ld', '!'];

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect), timeout: 30_000 }, async () => {
    // The fake sends each SSE piece only after the client has received the previous one:
    // if Relay buffered the response, the stream would stall and the test time out.
    const received = PIECES.map(() => deferred());
    const upstream = await startFakeUpstream({
      authorized: (r) => r.headers.authorization === `Bearer ${REAL_KEY}`,
      async handle(request, res) {
        if (request.method === 'GET' && request.url === '/v1/models') {
          return sendJson(res, 200, {
            object: 'list',
            data: [
              { id: 'gpt-fake-1', object: 'model', created: 1_700_000_000, owned_by: 'fake' },
              { id: 'gpt-fake-2', object: 'model', created: 1_700_000_001, owned_by: 'fake' },
            ],
          });
        }
        if (request.method === 'POST' && request.url === '/v1/chat/completions') {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          for (const [i, piece] of PIECES.entries()) {
            const chunk = {
              id: 'chatcmpl-fake',
              object: 'chat.completion.chunk',
              created: 1_700_000_000,
              model: 'gpt-fake-1',
              choices: [{ index: 0, delta: { content: piece }, finish_reason: null }],
            };
            res.write(`data: ${JSON.stringify(chunk)}\n\n`);
            await received[i]?.promise;
          }
          const last = {
            id: 'chatcmpl-fake',
            object: 'chat.completion.chunk',
            created: 1_700_000_000,
            model: 'gpt-fake-1',
            choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
          };
          res.write(`data: ${JSON.stringify(last)}\n\n`);
          res.end('data: [DONE]\n\n');
          return;
        }
        sendJson(res, 404, { error: { message: 'unknown fake route', type: 'invalid_request_error' } });
      },
    });
    const relay = await startTestRelay(dialect);
    const access = await scopedAccess(
      relay,
      upstream,
      { id: 'conn_openai', auth: { type: 'bearer', secret: REAL_KEY } },
      { methods: ['GET', 'POST'], paths: ['/v1/models', '/v1/chat/completions'] },
    );
    const client = new OpenAI({
      apiKey: access.token,
      baseURL: `${relay.proxyUrl}/${access.connectionId}/v1`,
      maxRetries: 0,
      timeout: 10_000,
    });

    it('lists models through Relay with the real key swapped in', async () => {
      const before = upstream.seen.length;
      const page = await client.models.list();
      assert.deepEqual(
        page.data.map((m) => m.id),
        ['gpt-fake-1', 'gpt-fake-2'],
      );
      const request = upstream.seen[before];
      assert.equal(request?.method, 'GET');
      assert.equal(request?.url, '/v1/models');
      assert.equal(request?.headers.authorization, `Bearer ${REAL_KEY}`);
      assertCleanUpstream(upstream, access.token);
    });

    it('streams a chat completion piece by piece, in order', async () => {
      const before = upstream.seen.length;
      const stream = await client.chat.completions.create({
        model: 'gpt-fake-1',
        messages: [{ role: 'user', content: 'Say hello' }],
        stream: true,
      });
      const pieces: string[] = [];
      let finish: string | null = null;
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        const piece = choice?.delta.content;
        if (typeof piece === 'string') {
          pieces.push(piece);
          received[pieces.length - 1]?.resolve();
        }
        finish = choice?.finish_reason ?? finish;
      }
      assert.deepEqual(pieces, PIECES);
      assert.equal(pieces.join(''), 'Hello, world!');
      assert.equal(finish, 'stop');
      const request = upstream.seen[before];
      assert.equal(request?.method, 'POST');
      assert.equal(request?.url, '/v1/chat/completions');
      assert.equal(request?.headers.authorization, `Bearer ${REAL_KEY}`);
      assert.deepEqual(JSON.parse(request?.body ?? '{}'), {
        model: 'gpt-fake-1',
        messages: [{ role: 'user', content: 'Say hello' }],
        stream: true,
      });
      assertCleanUpstream(upstream, access.token);
    });

    it('refuses a call outside the scope with 403 before the upstream', async () => {
      const before = upstream.seen.length;
      await assert.rejects(client.files.list(), (error: unknown) => {
        assert.ok(error instanceof OpenAI.PermissionDeniedError, String(error));
        assert.equal(error.status, 403);
        assert.equal(error.headers.get('relay-decision'), 'path_not_allowed');
        assert.match(error.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.match(error.requestID ?? '', /^req_/);
        return true;
      });
      assert.equal(upstream.seen.length, before, 'the upstream must not be contacted');
    });

    it("reports the refusal's reason through the SDK error", async () => {
      // openai-node takes a body without an `error` member as the error itself, so the
      // problem document's `code` and `detail` are what the SDK user reads.
      await assert.rejects(client.files.list(), (error: unknown) => {
        assert.ok(error instanceof OpenAI.APIError);
        assert.equal(error.code, 'path_not_allowed');
        assert.match(error.message, /allowed_paths/);
        return true;
      });
    });

    it('records each SDK call in the audit log', async () => {
      const expected = [
        'GET /v1/models allowed 200',
        'POST /v1/chat/completions allowed 200',
        'GET /v1/files blocked 403',
      ];
      const summary = await auditSummary(relay, access.credentialId, expected);
      for (const line of expected)
        assert.ok(summary.includes(line), `${line} missing from:\n${summary.join('\n')}`);
    });
  });
}

/** The credential's audit rows as "METHOD path decision status", polled until `expected` are stored (writes are batched). */
async function auditSummary(
  relay: TestRelay,
  credentialId: string,
  expected: readonly string[],
): Promise<string[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const res = await relay.api('GET', `/api/v1/audit?credential_id=${credentialId}&limit=1000`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const summary: string[] = res.body.data.map(
      (r: { method: string; path: string; decision: string; status: number }) =>
        `${r.method} ${r.path} ${r.decision} ${r.status}`,
    );
    if (expected.every((line) => summary.includes(line)) || Date.now() > deadline) return summary;
    await new Promise((r) => setTimeout(r, 50));
  }
}
