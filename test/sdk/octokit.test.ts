import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Octokit } from '@octokit/rest';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { assertCleanUpstream, scopedAccess, sendJson, startFakeUpstream } from './fake-upstream.ts';

/**
 * The official `@octokit/rest` package, configured with an `rk_proxy_…` token
 * (which it sends as `Authorization: token …`) and Relay as its base URL, works
 * unchanged for reads; a delete outside the scope never reaches GitHub.
 */

const REAL_KEY = 'ghp_REALgithubTOKEN0123456789abcdefghijkl';

const REPO = {
  id: 4242,
  name: 'hello',
  full_name: 'octo/hello',
  private: false,
  owner: { login: 'octo', id: 1, type: 'User' },
  default_branch: 'main',
};
const ISSUES = [
  { id: 1, number: 7, title: 'First', state: 'open' },
  { id: 2, number: 8, title: 'Second', state: 'open' },
];

/** What Octokit's RequestError carries: status and the response it failed on. */
interface HttpFailure {
  readonly status?: number;
  readonly response?: {
    readonly headers: Record<string, string | number | undefined>;
    readonly data: unknown;
  };
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect), timeout: 30_000 }, async () => {
    const upstream = await startFakeUpstream({
      // GitHub accepts a personal access token as `Bearer` as well as `token`.
      authorized: (r) => r.headers.authorization === `Bearer ${REAL_KEY}`,
      handle(request, res) {
        const url = new URL(request.url, 'http://fake.invalid');
        if (request.method === 'GET' && url.pathname === '/repos/octo/hello') {
          return sendJson(res, 200, REPO);
        }
        if (request.method === 'GET' && url.pathname === '/repos/octo/hello/issues') {
          const perPage = Number(url.searchParams.get('per_page') ?? '30');
          return sendJson(res, 200, ISSUES.slice(0, perPage));
        }
        if (request.method === 'DELETE') {
          res.writeHead(204);
          res.end();
          return;
        }
        sendJson(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
      },
    });
    const relay = await startTestRelay(dialect);
    const access = await scopedAccess(
      relay,
      upstream,
      { id: 'conn_github', auth: { type: 'bearer', secret: REAL_KEY } },
      { methods: ['GET'], paths: ['/repos/*/*', '/repos/*/*/issues'] },
    );
    const octokit = new Octokit({
      auth: access.token,
      baseUrl: `${relay.proxyUrl}/${access.connectionId}`,
      request: { retries: 0 },
      // Octokit logs failed requests on the console; the test asserts them instead.
      log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    });

    it('gets a repository through Relay with the real key swapped in', async () => {
      const before = upstream.seen.length;
      const { data, status } = await octokit.repos.get({ owner: 'octo', repo: 'hello' });
      assert.equal(status, 200);
      assert.equal(data.full_name, 'octo/hello');
      const request = upstream.seen[before];
      assert.equal(request?.method, 'GET');
      assert.equal(request?.url, '/repos/octo/hello');
      assert.equal(request?.headers.authorization, `Bearer ${REAL_KEY}`);
      assert.match(String(request?.headers.accept), /application\/vnd\.github/);
      assertCleanUpstream(upstream, access.token);
    });

    it('lists issues with their query parameters forwarded', async () => {
      const before = upstream.seen.length;
      const { data } = await octokit.issues.listForRepo({
        owner: 'octo',
        repo: 'hello',
        state: 'open',
        per_page: 2,
      });
      assert.deepEqual(
        data.map((i) => i.number),
        [7, 8],
      );
      const request = upstream.seen[before];
      assert.equal(request?.method, 'GET');
      const url = new URL(request?.url ?? '', 'http://fake.invalid');
      assert.equal(url.pathname, '/repos/octo/hello/issues');
      assert.equal(url.searchParams.get('state'), 'open');
      assert.equal(url.searchParams.get('per_page'), '2');
      assert.equal(request?.headers.authorization, `Bearer ${REAL_KEY}`);
      assertCleanUpstream(upstream, access.token);
    });

    it('refuses repos.delete with 403 and GitHub sees nothing', async () => {
      const before = upstream.seen.length;
      await assert.rejects(octokit.repos.delete({ owner: 'octo', repo: 'hello' }), (error: unknown) => {
        const failure = error as HttpFailure;
        assert.equal(failure.status, 403, String(error));
        assert.equal(failure.response?.headers['relay-decision'], 'method_not_allowed');
        // Octokit parses only application/json bodies; the problem document arrives as bytes.
        const data = failure.response?.data;
        const text = data instanceof ArrayBuffer ? Buffer.from(data).toString('utf8') : JSON.stringify(data);
        const problem = JSON.parse(text) as { code?: string; status?: number; request_id?: string };
        assert.equal(problem.code, 'method_not_allowed');
        assert.equal(problem.status, 403);
        assert.match(problem.request_id ?? '', /^req_/);
        return true;
      });
      assert.equal(upstream.seen.length, before, 'the upstream must not be contacted');
    });
  });
}
