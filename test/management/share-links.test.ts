import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashToken, isWellFormedToken } from '../../src/core/tokens.ts';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { assertProblem, createConnection, grant, rawApi } from './helpers.ts';

/**
 * SPEC §5: a share link lets a vendor or contractor pick a new credential up
 * once. The GET only shows a button (mail scanners prefetch links); the POST
 * reveals the token once; afterwards, or once expired or revoked, it is 410.
 */

const PROXY_TOKEN = /rk_proxy_[0-9A-Za-z]{38}/;
const JSON_ACCEPT = { accept: 'application/json' };
/** What a browser sends when the button's empty form is submitted. */
const FORM_POST = {
  accept: 'text/html,application/xhtml+xml',
  'content-type': 'application/x-www-form-urlencoded',
};

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    // Where recipients reach the API from outside; the link is built on it (trailing slash and all).
    const relay = await startTestRelay(dialect, { RELAY_PUBLIC_API_URL: 'https://relay.example.test/' });
    const { store } = relay.running.relay;
    const { db } = store;
    await createConnection(relay, { id: 'conn_vendor' });

    /** Issues a credential handed over by link; returns the issue response and the link's path. */
    const share = async (over: Record<string, unknown> = {}) => {
      const res = await relay.api('POST', '/api/v1/credentials', {
        name: 'for the vendor',
        grants: [grant('conn_vendor', { allowed_paths: ['/v1/items'] })],
        ttl_seconds: 3600,
        share_link: {},
        ...over,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const path = new URL(res.body.share_url).pathname;
      return { issued: res.body, path };
    };
    const linkRow = async (credentialId: string) =>
      db
        .selectFrom('share_links')
        .selectAll()
        .where('credential_id', '=', credentialId)
        .executeTakeFirstOrThrow();

    it('issuing with share_link returns no token, a share URL and its expiry', async () => {
      const before = Date.now();
      const { issued, path } = await share();
      assert.equal(issued.token, null);
      assert.match(path, /^\/share\/[0-9A-Za-z]{40}$/);
      assert.match(issued.share_url, /^https:\/\/relay\.example\.test\/share\/[0-9A-Za-z]{40}$/);
      const expires = Date.parse(issued.share_expires_at);
      assert.ok(expires >= before + 7 * 86_400_000 - 1000 && expires <= Date.now() + 7 * 86_400_000 + 1000);
      assert.ok(!PROXY_TOKEN.test(JSON.stringify(issued)), 'no token anywhere in the response');
      const got = await relay.api('GET', `/api/v1/credentials/${issued.id}`);
      assert.equal('share_url' in got.body, false);
      assert.equal('token' in got.body, false);
      const custom = await share({ share_link: { ttl_seconds: 600 } });
      const customExpires = Date.parse(custom.issued.share_expires_at);
      assert.ok(Math.abs(customExpires - (Date.now() + 600_000)) < 5000);
    });

    it('the link secret is stored only as its hash', async () => {
      const { issued, path } = await share();
      const secret = path.slice('/share/'.length);
      const row = await linkRow(issued.id);
      assert.equal(row.secret_hash, hashToken(secret));
      assert.ok(!JSON.stringify(row).includes(secret));
      assert.ok(row.token_sealed, 'the token waits, sealed');
      assert.ok(!PROXY_TOKEN.test(JSON.stringify(row)), 'sealed, not in plain text');
    });

    it('GET shows a form and never reveals: a second GET works, and the POST still reveals', async () => {
      const { issued, path } = await share();
      for (let i = 0; i < 2; i++) {
        const page = await rawApi(relay, 'GET', path, {});
        assert.equal(page.status, 200);
        assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
        assert.match(page.body, /<form method="post"/);
        assert.ok(!PROXY_TOKEN.test(page.body), 'a GET must not reveal the token');
        assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
      }
      assert.ok((await linkRow(issued.id)).token_sealed, 'GET spent nothing');
      const reveal = await rawApi(relay, 'POST', path, JSON_ACCEPT);
      assert.equal(reveal.status, 200, JSON.stringify(reveal.body));
    });

    it('POST with Accept: application/json reveals the token once; the second POST is 410 share_link_spent', async () => {
      const { issued, path } = await share();
      const reveal = await rawApi(relay, 'POST', path, JSON_ACCEPT);
      assert.equal(reveal.status, 200, JSON.stringify(reveal.body));
      assert.equal(reveal.headers.get('cache-control'), 'no-store');
      assert.equal(reveal.body.credential_id, issued.id);
      assert.equal(reveal.body.name, 'for the vendor');
      assert.equal(reveal.body.expires_at, issued.expires_at);
      assert.ok(isWellFormedToken(reveal.body.token, 'proxy'));
      assert.equal(reveal.body.token.slice(0, issued.token_prefix.length), issued.token_prefix);
      const stored = await store.credentials.findByHash(hashToken(reveal.body.token));
      assert.equal(stored?.id, issued.id, 'the revealed token is the credential');
      const again = await rawApi(relay, 'POST', path, JSON_ACCEPT);
      assertProblem(again, 410, 'share_link_spent');
      assert.ok(!PROXY_TOKEN.test(JSON.stringify(again.body)));
    });

    it('the HTML variant: the form POST shows the token once, then a 410 page', async () => {
      const { path } = await share();
      const reveal = await rawApi(relay, 'POST', path, FORM_POST, '');
      assert.equal(reveal.status, 200, String(reveal.body));
      assert.match(reveal.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(reveal.headers.get('cache-control'), 'no-store');
      const token = PROXY_TOKEN.exec(reveal.body)?.[0];
      assert.ok(token, 'the page shows the token');
      assert.ok(isWellFormedToken(token, 'proxy'));
      const again = await rawApi(relay, 'POST', path, FORM_POST, '');
      assert.equal(again.status, 410);
      assert.match(again.headers.get('content-type') ?? '', /^text\/html/);
      assert.ok(!PROXY_TOKEN.test(again.body));
    });

    it('after opening, the sealed token is gone from the database', async () => {
      const { issued, path } = await share();
      assert.equal((await rawApi(relay, 'POST', path, JSON_ACCEPT)).status, 200);
      const row = await linkRow(issued.id);
      assert.equal(row.token_sealed, null);
      assert.ok(row.opened_at);
      const audit = await relay.api('GET', '/api/v1/admin-audit?limit=200');
      const actions = audit.body.data
        .filter((r: { subject: string }) => r.subject === issued.id)
        .map((r: { action: string }) => r.action);
      assert.deepEqual(actions, ['credential.issue', 'credential.share_link.open']);
    });

    it('two opens at the same moment: exactly one reveals', async () => {
      const { path } = await share();
      const answers = await Promise.all([1, 2, 3].map(() => rawApi(relay, 'POST', path, JSON_ACCEPT)));
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 410, 410]);
    });

    it('an expired link is 410, and reveals nothing', async () => {
      const { issued, path } = await share();
      await db
        .updateTable('share_links')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('credential_id', '=', issued.id)
        .execute();
      assertProblem(await rawApi(relay, 'POST', path, JSON_ACCEPT), 410, 'share_link_spent');
      const html = await rawApi(relay, 'POST', path, FORM_POST, '');
      assert.equal(html.status, 410);
      assert.ok(!PROXY_TOKEN.test(html.body));
    });

    it("a revoked credential's link is 410", async () => {
      const { issued, path } = await share();
      assert.equal((await relay.api('POST', `/api/v1/credentials/${issued.id}/revoke`)).status, 200);
      const res = await rawApi(relay, 'POST', path, JSON_ACCEPT);
      assertProblem(res, 410, 'share_link_spent');
      assert.ok(!PROXY_TOKEN.test(JSON.stringify(res.body)));
    });

    it('an unknown link is the same 410; a malformed one is 400', async () => {
      const unknown = await rawApi(relay, 'POST', `/share/${'A'.repeat(40)}`, JSON_ACCEPT);
      assertProblem(unknown, 410, 'share_link_spent');
      const malformed = await rawApi(relay, 'POST', '/share/short', JSON_ACCEPT);
      assertProblem(malformed, 400, 'validation_failed');
    });

    it('the links need no management token, and a management token does not change them', async () => {
      const { path } = await share();
      const withToken = await rawApi(relay, 'GET', path, { authorization: `Bearer ${relay.adminToken}` });
      assert.equal(withToken.status, 200);
      assert.ok(!PROXY_TOKEN.test(withToken.body));
    });
  });
}
