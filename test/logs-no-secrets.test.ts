import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { randomBase62 } from '../src/core/base62.ts';
import { issueToken } from '../src/core/tokens.ts';
import { DIALECTS, skipFor } from './harness.ts';
import { startFakeUpstream } from './proxy/fake-upstream.ts';
import {
  assertDecision,
  assertPassedThrough,
  fullGrant,
  send,
  startProxyFixture,
} from './proxy/proxy-helpers.ts';
import { leakReportSigner, postLeakReport, settle, startWebhookReceiver } from './security/helpers.ts';

/**
 * SPEC §12, issue 6 point 7: never a secret in any log line. A realistic flow
 * runs against a Relay logging at `trace` (every line captured): connections of
 * every auth type, credentials (one by share link, one canary), proxied calls
 * allowed and refused with the token in every place a caller may put it,
 * management-token rotation, an API key, the share link opened, a webhook and
 * alert mail, a leak report, a metrics scrape. Then every secret the flow
 * created, and the encodings it travels in, is searched for in the whole log.
 */
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const secrets = new Map<string, string>();
    const remember = (label: string, value: string) => {
      assert.ok(value.length >= 8, `${label} is too short to search for`);
      secrets.set(label, value);
    };
    const signer = leakReportSigner();
    const metricsToken = `metrics-${randomBase62(32)}`;
    remember('metrics token', metricsToken);
    const upstream = await startFakeUpstream();
    const accessToken = `oauth-at-${randomBase62(24)}`;
    remember('oauth access token', accessToken);
    upstream.route('/oauth/token', (req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: accessToken, token_type: 'bearer', expires_in: 3600 }));
      });
    });
    const fx = await startProxyFixture(dialect, upstream, {
      RELAY_LOG_LEVEL: 'trace',
      RELAY_LEAK_REPORT_KEYS_FILE: signer.keysFile,
      RELAY_METRICS_TOKEN: metricsToken,
    });
    const { relay } = fx;

    it('runs the whole flow', async () => {
      // Connections of every auth type.
      const upstreamSecret = (label: string) => {
        const value = `up-${label}-${randomBase62(24)}`;
        remember(`upstream ${label} secret`, value);
        return value;
      };
      const auths: Record<string, Record<string, string>> = {
        conn_l_bearer: { type: 'bearer', secret: upstreamSecret('bearer') },
        conn_l_basic: { type: 'basic', username: 'acct', secret: upstreamSecret('basic') },
        conn_l_header: { type: 'header', header_name: 'x-api-key', secret: upstreamSecret('header') },
        conn_l_query: { type: 'query', query_param: 'api_key', secret: upstreamSecret('query') },
        conn_l_oauth: {
          type: 'oauth2_client_credentials',
          token_url: `${upstream.url}/oauth/token`,
          client_id: 'client-1',
          secret: upstreamSecret('oauth client'),
        },
      };
      remember('basic header', b64(`acct:${secrets.get('upstream basic secret')}`));
      for (const [id, auth] of Object.entries(auths)) {
        await fx.connection({
          id,
          name: id,
          base_url: upstream.url,
          auth,
          options: { log_query_strings: true },
        });
      }
      const replaced = upstreamSecret('replaced');
      assert.equal(
        (await relay.api('PUT', '/api/v1/connections/conn_l_bearer/secret', { secret: replaced })).status,
        200,
      );

      // Credentials: plain, by share link, canary.
      const grants = Object.keys(auths).map(fullGrant);
      const plain = await fx.credential({ grants });
      remember('proxy token', plain.token);
      const shared = await relay.api('POST', '/api/v1/credentials', {
        name: 'shared',
        ip_mode: 'none',
        acknowledge_risks: true,
        grants,
        share_link: {},
      });
      assert.equal(shared.status, 201, JSON.stringify(shared.body));
      const shareSecret = String(shared.body.share_url).split('/share/')[1] ?? '';
      remember('share link secret', shareSecret);
      const page = await fetch(`${relay.apiUrl}/share/${shareSecret}`);
      assert.equal(page.status, 200);
      const opened = await fetch(`${relay.apiUrl}/share/${shareSecret}`, {
        method: 'POST',
        headers: { accept: 'application/json' },
      });
      assert.equal(opened.status, 200);
      const sharedToken = ((await opened.json()) as { token: string }).token;
      remember('shared proxy token', sharedToken);
      assert.equal(
        (
          await fetch(`${relay.apiUrl}/share/${shareSecret}`, {
            method: 'POST',
            headers: { accept: 'application/json' },
          })
        ).status,
        410,
      );
      const canary = await fx.credential({ canary: true, grants });
      remember('canary token', canary.token);

      // Webhook and alert mail, so that the canary below is announced.
      const hook = await startWebhookReceiver();
      await relay.api('PATCH', '/api/v1/workspace', { settings: { alert_emails: ['sec@example.test'] } });
      const webhook = await relay.api('PUT', '/api/v1/workspace/security-webhook', { url: hook.url });
      remember('webhook secret', webhook.body.secret);

      // Proxied calls, allowed: every connection, the token in every place a caller may put it.
      for (const id of Object.keys(auths))
        assertPassedThrough(await fx.get(`/${id}/v1/x?page=1`, plain.token));
      assertPassedThrough(
        await send(relay.proxyUrl, { path: `/conn_l_query/v1/x?api_key=${plain.token}&q=1` }),
      );
      assertPassedThrough(
        await send(relay.proxyUrl, { path: '/conn_l_header/v1/x', headers: { 'x-api-key': plain.token } }),
      );
      assertPassedThrough(
        await send(relay.proxyUrl, {
          path: '/conn_l_basic/v1/x',
          headers: { authorization: `Basic ${b64(`acct:${plain.token}`)}` },
        }),
      );
      assertPassedThrough(await fx.get('/conn_l_bearer/v1/x', sharedToken));
      assertPassedThrough(
        await send(relay.proxyUrl, {
          method: 'POST',
          path: '/conn_l_bearer/v1/things',
          headers: { authorization: `Bearer ${plain.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ note: `carrying ${replaced.slice(0, 4)}` }),
        }),
      );
      // Refused: scope, unknown, garbage, revoked, canary, a token in the query of the wrong place.
      const scoped = await fx.credential({
        grants: [{ connection_id: 'conn_l_bearer', allowed_methods: ['GET'], allowed_paths: ['/v1/read/*'] }],
      });
      remember('scoped token', scoped.token);
      assertDecision(await fx.get('/conn_l_bearer/admin/keys', scoped.token), 403, 'path_not_allowed');
      const unknown = issueToken('proxy').token;
      remember('unknown token', unknown);
      assertDecision(await fx.get('/conn_l_bearer/v1/x', unknown), 401, 'unauthenticated');
      assertDecision(
        await fx.get('/conn_l_bearer/v1/x', `rk_proxy_${randomBase62(10)}`),
        401,
        'unauthenticated',
      );
      const revoked = await fx.credential({ grants });
      remember('revoked token', revoked.token);
      assert.equal((await relay.api('POST', `/api/v1/credentials/${revoked.id}/revoke`)).status, 200);
      assertDecision(await fx.get('/conn_l_bearer/v1/x', revoked.token), 401, 'unauthenticated');
      assertDecision(await fx.get('/conn_l_bearer/v1/x', canary.token), 401, 'unauthenticated');
      assertDecision(
        await send(relay.proxyUrl, { path: `/conn_l_bearer/v1/x?api_key=${plain.token}` }),
        401,
        'unauthenticated',
      );

      // Management tokens: create, use, rotate (old and new both used), an API key; a bad one.
      const created = await relay.api('POST', '/api/v1/tokens', { name: 'ops', role: 'admin' });
      remember('management token', created.body.token);
      assert.equal(
        (await relay.api('GET', '/api/v1/connections', undefined, created.body.token)).status,
        200,
      );
      const rotated = await relay.api('POST', `/api/v1/tokens/${created.body.id}/rotate`, {
        grace_period_seconds: 60,
      });
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      remember('rotated management token', rotated.body.token);
      assert.equal((await relay.api('GET', '/api/v1/workspace', undefined, created.body.token)).status, 200);
      assert.equal((await relay.api('GET', '/api/v1/workspace', undefined, rotated.body.token)).status, 200);
      const apiKey = await relay.api('POST', '/api/v1/auth/api-keys', {
        name: 'script',
        scopes: ['audit:read'],
      });
      remember('api key', apiKey.body.key);
      assert.equal((await relay.api('GET', '/api/v1/connections', undefined, apiKey.body.key)).status, 403);
      assert.equal(
        (await relay.api('GET', '/api/v1/connections', undefined, issueToken('management').token)).status,
        401,
      );
      remember('admin token', relay.adminToken);

      // A leak report revokes a credential.
      const leaked = await fx.credential({ grants });
      remember('leaked token', leaked.token);
      const body = JSON.stringify([
        { token: leaked.token, type: 'relay_proxy_token', url: 'https://github.com/x', source: 'content' },
      ]);
      const report = await postLeakReport(relay, body, signer.headers(body));
      assert.equal(report.status, 200, JSON.stringify(report.body));
      assertDecision(await fx.get('/conn_l_bearer/v1/x', leaked.token), 401, 'unauthenticated');

      // A metrics scrape with its token.
      const scrape = await fetch(`${relay.apiUrl}/metrics`, {
        headers: { authorization: `Bearer ${metricsToken}` },
      });
      assert.equal(scrape.status, 200);
      await scrape.text();

      await settle(relay);
      await relay.running.relay.ipConfirmations.drain();
      assert.ok(hook.received.length >= 1, 'the canary was announced by webhook');
      assert.ok(upstream.requestsTo('/oauth/token').length >= 1, 'the OAuth token was fetched');
    });

    it('no log line carries any secret the flow created, in any encoding it travelled in', () => {
      const text = relay.logs.text;
      assert.ok(relay.logs.lines.length > 30, `only ${relay.logs.lines.length} log lines: is logging on?`);
      assert.match(text, /management request/);
      assert.match(text, /canary credential used/);
      assert.match(text, /leak report received/);
      const leaks: string[] = [];
      for (const [label, value] of secrets) {
        for (const form of new Set([
          value,
          encodeURIComponent(value),
          b64(value),
          JSON.stringify(value).slice(1, -1),
        ])) {
          if (text.includes(form)) {
            const line = relay.logs.lines.find((l) => l.includes(form)) ?? '';
            leaks.push(`${label} in: ${line.slice(0, 300)}`);
          }
        }
      }
      assert.deepEqual(leaks, []);
    });
  });
}
