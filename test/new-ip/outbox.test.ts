import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli, cliJson } from '../cli/cli-harness.ts';
import { DIALECTS, skipFor } from '../harness.ts';
import { closedPort, startFakeUpstream } from '../proxy/fake-upstream.ts';
import {
  assertDecision,
  assertPassedThrough,
  fullGrant,
  secondWorkspace,
  startProxyFixture,
} from '../proxy/proxy-helpers.ts';
import { callFrom, confirmLinkIn, page } from './helpers.ts';

/**
 * SPEC §6 without SMTP: the confirmation mail lands in the outbox, readable by
 * admins (`GET /api/v1/outbox`, this workspace only) and operators
 * (`relay outbox`), and in the log by subject and address only.
 */
for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream);
    const { relay } = fx;
    await fx.connection({
      id: 'conn_outbox',
      name: 'Outbox API',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-outbox-REAL-0001' },
    });
    const rcp = await relay.api('POST', '/api/v1/recipients', {
      name: 'Olga',
      kind: 'human',
      email: 'olga@example.test',
    });
    assert.equal(rcp.status, 201, JSON.stringify(rcp.body));
    const credential = await fx.credential({
      recipient_id: rcp.body.id,
      ip_mode: 'confirm_new_ip',
      grants: [fullGrant('conn_outbox')],
    });
    const cliEnv = {
      RELAY_DATA_DIR: relay.config.dataDir,
      RELAY_DATABASE_URL: relay.config.databaseUrl,
      RELAY_LOG_LEVEL: 'silent',
    };
    let secret = '';

    it('with no SMTP, the confirmation goes to the outbox and the log', async () => {
      assertPassedThrough(await callFrom(relay.proxyUrl, '127.0.0.1', '/conn_outbox/x', credential.token));
      const res = await callFrom(relay.proxyUrl, '127.0.0.3', '/conn_outbox/x', credential.token, {
        'user-agent': 'curl/8.5.0',
      });
      assertDecision(res, 423, 'new_ip_confirmation_required');
      await relay.running.relay.ipConfirmations.drain();
      const outbox = await relay.api('GET', '/api/v1/outbox');
      assert.equal(outbox.status, 200, JSON.stringify(outbox.body));
      assert.equal(outbox.body.data.length, 1);
      const [message] = outbox.body.data;
      assert.equal(message.to, 'olga@example.test');
      assert.equal(message.subject, 'Confirm a new IP for your Relay key');
      assert.equal(message.status, 'unsent');
      assert.match(message.text, /IP: +127\.0\.0\.3\n/);
      assert.match(message.text, /Client: +curl\/8\.5\.0\n/);
      assert.match(message.text, /Connection: +Outbox API \(conn_outbox\)\n/);
      secret = confirmLinkIn(message.text).secret;
      const logs = relay.logs.text;
      assert.match(logs, /"msg":"mail written to the outbox \(no SMTP configured\)"/);
      assert.match(logs, /"to":"olga@example\.test"/);
      assert.ok(!logs.includes(secret), 'the confirm-link secret reached the log');
    });

    it('`relay outbox` shows it to the operator, link included', async () => {
      const json = await cliJson(['outbox', '--limit', '5'], cliEnv);
      assert.equal(json.length, 1);
      assert.equal(json[0].to, 'olga@example.test');
      assert.equal(confirmLinkIn(json[0].text).secret, secret);
      const text = await cli(['outbox'], cliEnv);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /Subject: Confirm a new IP for your Relay key/);
      assert.match(text.stdout, /To: +olga@example\.test/);
      assert.ok(text.stdout.includes(secret));
      const bad = await cli(['outbox', '--limit', 'lots'], cliEnv);
      assert.equal(bad.code, 2);
    });

    it('the outbox is admin-only and shows a workspace only its own mail', async () => {
      const viewer = await relay.api('POST', '/api/v1/tokens', { name: 'viewer', role: 'viewer' });
      assert.equal(viewer.status, 201, JSON.stringify(viewer.body));
      const asViewer = await relay.api('GET', '/api/v1/outbox', undefined, viewer.body.token);
      assert.equal(asViewer.status, 403);
      const readKey = await relay.api('POST', '/api/v1/auth/api-keys', {
        name: 'reader',
        scopes: ['recipients:read', 'audit:read'],
      });
      assert.equal(readKey.status, 201, JSON.stringify(readKey.body));
      assert.equal((await relay.api('GET', '/api/v1/outbox', undefined, readKey.body.key)).status, 403);
      const other = await secondWorkspace(relay);
      const theirs = await other.api('GET', '/api/v1/outbox');
      assert.equal(theirs.status, 200, JSON.stringify(theirs.body));
      assert.deepEqual(theirs.body.data, []);
    });

    it('the outbox link confirms like a mailed one', async () => {
      const path = `/confirm-ip/${secret}`;
      assert.equal((await page(relay.apiUrl + path, 'POST')).status, 200);
      assertPassedThrough(await callFrom(relay.proxyUrl, '127.0.0.3', '/conn_outbox/x', credential.token));
    });

    it('`relay trusted-ips` lists and removes a recipient’s networks', async () => {
      const listed = await cliJson(['trusted-ips', 'list', rcp.body.id], cliEnv);
      assert.deepEqual(
        listed.map((t: { ip_group: string; source: string }) => [t.ip_group, t.source]),
        [
          ['127.0.0.1', 'first_use'],
          ['127.0.0.3', 'confirmed'],
        ],
      );
      const removed = await cli(['trusted-ips', 'remove', rcp.body.id, '127.0.0.3'], cliEnv);
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(removed.stdout, /no longer trusts 127\.0\.0\.3/);
      const again = await cliJson(['trusted-ips', 'list', rcp.body.id], cliEnv);
      assert.deepEqual(
        again.map((t: { ip_group: string }) => t.ip_group),
        ['127.0.0.1'],
      );
      const audit = await relay.api('GET', '/api/v1/admin-audit?limit=200');
      assert.ok(
        audit.body.data.some(
          (e: { action: string; actor: string }) => e.action === 'trusted_ip.remove' && e.actor === 'cli',
        ),
      );
      const missing = await cli(['trusted-ips', 'remove', rcp.body.id, '127.0.0.3'], cliEnv);
      assert.equal(missing.code, 1);
      // The CLI is another process in production: the proxy learns of the removal within the cache TTL.
    });
  });

  describe(`${dialect}: SMTP unreachable`, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream, {
      RELAY_SMTP_URL: `smtp://127.0.0.1:${await closedPort()}`,
    });
    await fx.connection({
      id: 'conn_down',
      name: 'Down',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-down-REAL-0001' },
    });
    const rcp = await fx.relay.api('POST', '/api/v1/recipients', {
      name: 'Dee',
      kind: 'human',
      email: 'dee@example.test',
    });
    const credential = await fx.credential({
      recipient_id: rcp.body.id,
      ip_mode: 'confirm_new_ip',
      grants: [fullGrant('conn_down')],
    });

    it('the call is still refused with 423, and the outbox records the failed delivery', async () => {
      assertPassedThrough(await callFrom(fx.relay.proxyUrl, '127.0.0.1', '/conn_down/x', credential.token));
      assertDecision(
        await callFrom(fx.relay.proxyUrl, '127.0.0.2', '/conn_down/x', credential.token),
        423,
        'new_ip_confirmation_required',
      );
      await fx.relay.running.relay.ipConfirmations.drain();
      const outbox = await fx.relay.api('GET', '/api/v1/outbox');
      assert.equal(outbox.body.data.length, 1);
      assert.equal(outbox.body.data[0].status, 'error');
      assert.match(outbox.body.data[0].error, /ECONNREFUSED|connect/i);
      assert.match(fx.relay.logs.text, /"msg":"mail delivery failed"/);
    });
  });
}
