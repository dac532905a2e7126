import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { issueToken } from '../../src/core/tokens.ts';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { startFakeUpstream } from '../proxy/fake-upstream.ts';
import { assertDecision, assertPassedThrough, fullGrant, startProxyFixture } from '../proxy/proxy-helpers.ts';
import { leakReportSigner, listEvents, postLeakReport, settle } from './helpers.ts';

/**
 * SPEC §8, issue 6 point 4: a leak report in the format of GitHub's
 * secret-scanning partner program, signature-verified (ECDSA P-256 over the raw
 * body, keys from RELAY_LEAK_REPORT_KEYS_FILE), revokes every Relay token it
 * names at once, raises a critical `leaked_token` event in the token's
 * workspace, and answers in the program's format. Tests sign with their own
 * key pair.
 */
const report = (entries: Array<{ token: string; type?: string }>) =>
  JSON.stringify(
    entries.map((e) => ({
      token: e.token,
      type: e.type ?? 'relay_proxy_token',
      url: 'https://github.com/octo/leaky/blob/abc123/.env',
      source: 'content',
    })),
  );

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const signer = leakReportSigner();
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream, { RELAY_LEAK_REPORT_KEYS_FILE: signer.keysFile });
    const { relay } = fx;
    await fx.connection({
      id: 'conn_leaky',
      name: 'Leaky',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-leaky-REAL-0001' },
    });
    const credential = () => fx.credential({ grants: [fullGrant('conn_leaky')] });

    it('a signed report revokes the credential at once and answers true_positive', async () => {
      const leaked = await credential();
      const bystander = await credential();
      // Warm the proxy's cache: revocation must reach it through the bus, not a TTL.
      assertPassedThrough(await fx.get('/conn_leaky/v1/x', leaked.token));
      const body = report([{ token: leaked.token }]);
      const res = await postLeakReport(relay, body, signer.headers(body));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body, [
        { token_raw: leaked.token, token_type: 'relay_proxy_token', label: 'true_positive' },
      ]);
      assertDecision(await fx.get('/conn_leaky/v1/x', leaked.token), 401, 'unauthenticated');
      assertPassedThrough(await fx.get('/conn_leaky/v1/x', bystander.token));
      const view = await relay.api('GET', `/api/v1/credentials/${leaked.id}`);
      assert.equal(view.body.status, 'revoked');
      await settle(relay);
      const [event] = (await listEvents(relay, 'kind=leaked_token')).filter((e) => e.subject === leaked.id);
      assert.ok(event, 'a leaked_token event');
      assert.equal(event.severity, 'critical');
      assert.equal(event.scope, 'workspace');
      assert.equal(event.detail.url, 'https://github.com/octo/leaky/blob/abc123/.env');
      assert.equal(event.detail.revoked_now, true);
      assert.ok(!JSON.stringify(event).includes(leaked.token), 'the event never holds the token');
      const audit = await relay.api('GET', '/api/v1/admin-audit?limit=200');
      const row = audit.body.data.find(
        (r: { action: string; subject: string }) =>
          r.action === 'credential.revoke' && r.subject === leaked.id,
      );
      assert.ok(row);
      assert.equal(row.actor, 'system');
      assert.equal(row.metadata.reason, 'leak_report');
    });

    it('management tokens and API keys are revoked too; look-alikes and unknown tokens are false positives', async () => {
      const mgmt = await relay.api('POST', '/api/v1/tokens', { name: 'ci', role: 'admin' });
      const key = await relay.api('POST', '/api/v1/auth/api-keys', { name: 'script' });
      assert.equal((await relay.api('GET', '/api/v1/workspace', undefined, mgmt.body.token)).status, 200);
      const unknown = issueToken('proxy').token;
      const lookAlike = `${unknown.slice(0, -1)}${unknown.endsWith('A') ? 'B' : 'A'}`;
      const body = report([
        { token: mgmt.body.token, type: 'relay_management_token' },
        { token: key.body.key, type: 'relay_management_token' },
        { token: unknown },
        { token: lookAlike },
        { token: 'ghp_notours' },
        { token: mgmt.body.token, type: 'relay_management_token' },
      ]);
      const res = await postLeakReport(relay, body, signer.headers(body));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(
        res.body.map((a: { label: string }) => a.label),
        [
          'true_positive',
          'true_positive',
          'false_positive',
          'false_positive',
          'false_positive',
          'true_positive',
        ],
      );
      const refused = await relay.api('GET', '/api/v1/workspace', undefined, mgmt.body.token);
      assert.equal(refused.status, 401);
      assert.equal((await relay.api('GET', '/api/v1/workspace', undefined, key.body.key)).status, 401);
      await settle(relay);
      const events = (await listEvents(relay, 'kind=leaked_token')).filter(
        (e) => e.subject === mgmt.body.id || e.subject === key.body.id,
      );
      assert.equal(events.length, 2, 'one event per token, however often it is named');
      // Three live tokens leaked within the hour: the workspace is now in lockdown. Clear it.
      const workspace = await relay.api('GET', '/api/v1/workspace');
      assert.equal(workspace.body.settings.lockdown?.locked, true);
      for (const e of await listEvents(relay, 'status=open'))
        assert.equal((await relay.api('POST', `/api/v1/security-events/${e.id}/resolve`)).status, 200);
      assert.equal((await relay.api('POST', '/api/v1/workspace/lockdown/lift')).status, 200);
    });

    it('a bad or missing signature is 401 and changes nothing', async () => {
      const victim = await credential();
      const body = report([{ token: victim.token }]);
      const forged = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
      const attempts: Array<Record<string, string>> = [
        { 'content-type': 'application/json' },
        signer.headers(body, forged),
        { ...signer.headers(body), 'github-public-key-identifier': 'no-such-key' },
        { ...signer.headers(body), 'github-public-key-identifier': 'retired-key' },
        { ...signer.headers(body), 'github-public-key-signature': 'bm90IGEgc2lnbmF0dXJl' },
        signer.headers(`${body} `),
      ];
      for (const headers of attempts) {
        const res = await postLeakReport(relay, body, headers);
        assert.equal(res.status, 401, JSON.stringify(headers));
        assert.equal(res.body.code, 'unauthenticated');
      }
      // The signature covers the raw bytes: the same JSON re-spaced does not verify.
      const respaced = JSON.stringify(JSON.parse(body), null, 2);
      assert.equal((await postLeakReport(relay, respaced, signer.headers(body))).status, 401);
      assertPassedThrough(await fx.get('/conn_leaky/v1/x', victim.token));
      const view = await relay.api('GET', `/api/v1/credentials/${victim.id}`);
      assert.equal(view.body.status, 'active');
    });

    it('a signed but malformed report is 400; an oversized one 413', async () => {
      for (const body of ['{"token":"x"}', '[{"type":"t"}]', '[1]', 'not json']) {
        const res = await postLeakReport(relay, body, signer.headers(body));
        assert.equal(res.status, 400, body);
      }
      const big = report(Array.from({ length: 3000 }, () => ({ token: 'x'.repeat(100) })));
      const res = await postLeakReport(relay, big, signer.headers(big));
      assert.equal(res.status, 413);
    });

    it('a token of another workspace is revoked and its event raised there, not here', async () => {
      const { secondWorkspace } = await import('../proxy/proxy-helpers.ts');
      const other = await secondWorkspace(relay);
      const conn = await other.api('POST', '/api/v1/connections', {
        id: 'conn_leaky',
        name: 'Theirs',
        base_url: upstream.url,
        auth: { type: 'bearer', secret: 'sk-theirs-REAL-0002' },
        options: { allow_insecure_upstream: true },
      });
      assert.equal(conn.status, 201, JSON.stringify(conn.body));
      const theirs = await other.api('POST', '/api/v1/credentials', {
        name: 'theirs',
        ip_mode: 'none',
        acknowledge_risks: true,
        grants: [fullGrant('conn_leaky')],
      });
      assert.equal(theirs.status, 201, JSON.stringify(theirs.body));
      const body = report([{ token: theirs.body.token }]);
      assert.equal((await postLeakReport(relay, body, signer.headers(body))).status, 200);
      await settle(relay);
      assert.equal((await other.api('GET', `/api/v1/credentials/${theirs.body.id}`)).body.status, 'revoked');
      assert.equal(
        (await listEvents(relay, 'kind=leaked_token')).filter((e) => e.subject === theirs.body.id).length,
        0,
      );
      const stored = await relay.running.relay.store.securityEvents.list(other.workspaceId, {
        limit: 10,
        kind: 'leaked_token',
      });
      assert.equal(stored.data.length, 1);
    });
  });

  describe(`${dialect}: without verification keys`, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    it('leak reports are refused (503) when no key list is configured', async () => {
      const signer = leakReportSigner();
      const body = report([{ token: issueToken('proxy').token }]);
      const res = await postLeakReport(relay, body, signer.headers(body));
      assert.equal(res.status, 503);
      assert.equal(res.body.code, 'service_unavailable');
    });
  });
}
