import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DIALECTS, skipFor } from '../harness.ts';
import { startFakeUpstream } from '../proxy/fake-upstream.ts';
import {
  assertDecision,
  assertPassedThrough,
  fullGrant,
  startProxyFixture,
  waitForAudit,
} from '../proxy/proxy-helpers.ts';
import { callFrom, confirmLinkIn, page, type ReceivedMail, startSmtpSink } from './helpers.ts';

/**
 * SPEC §6 end to end, over real SMTP (a local `smtp-server`): trust on first
 * use; 423 Locked from any other network before the upstream is reached; one
 * e-mail per pending confirmation with the IP, client, connection, time and a
 * link; a GET never confirms, a POST does, for all the recipient's credentials;
 * admins list and remove trusted networks; spent and expired links answer 410;
 * the link's secret never reaches the log.
 */
const HOME = '127.0.0.1';
const AWAY = '127.0.0.2';
const UA = 'cursor/0.42 (new-ip test)';

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const smtp = await startSmtpSink();
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream, {
      RELAY_SMTP_URL: smtp.url,
      RELAY_SMTP_FROM: 'Relay <relay@example.test>',
    });
    const { relay } = fx;
    const service = relay.running.relay.ipConfirmations;
    await fx.connection({
      id: 'conn_hibob',
      name: 'HiBob',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-hibob-REAL-0001' },
    });
    await fx.connection({
      id: 'conn_absorb',
      name: 'Absorb',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-absorb-REAL-0001' },
    });
    const kate = await relay.api('POST', '/api/v1/recipients', {
      name: 'Kate Mason',
      kind: 'human',
      email: 'kate@example.test',
    });
    assert.equal(kate.status, 201, JSON.stringify(kate.body));
    const recipientId: string = kate.body.id;
    const hibob = await fx.credential({
      name: 'kate hibob',
      recipient_id: recipientId,
      ip_mode: 'confirm_new_ip',
      grants: [fullGrant('conn_hibob')],
    });
    const absorb = await fx.credential({
      name: 'kate absorb',
      recipient_id: recipientId,
      ip_mode: 'confirm_new_ip',
      grants: [fullGrant('conn_absorb')],
    });
    const trusted = async () => {
      const res = await relay.api('GET', `/api/v1/recipients/${recipientId}/trusted-ips`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.data as Array<{ ip_group: string; first_ip: string; source: string }>;
    };
    const newIpEvents = async () =>
      (
        await relay.running.relay.store.securityEvents.list(relay.workspaceId, {
          limit: 100,
          kind: 'new_ip_blocked',
        })
      ).data;
    const adminActions = async (action: string) => {
      const res = await relay.api('GET', '/api/v1/admin-audit?limit=200');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return (
        res.body.data as Array<{
          action: string;
          actor: string;
          subject: string;
          metadata: Record<string, unknown>;
        }>
      ).filter((e) => e.action === action);
    };
    /** The call is refused with 423 and the upstream never sees it. */
    const locked = async (from: string, token: string, path = '/conn_hibob/v1/people') => {
      const hits = upstream.hits;
      const res = await callFrom(relay.proxyUrl, from, path, token, { 'user-agent': UA });
      assertDecision(res, 423, 'new_ip_confirmation_required');
      assert.equal(upstream.hits, hits, 'the upstream must not be contacted');
      return res;
    };
    const mails: ReceivedMail[] = [];

    it('the first IP a human recipient calls from is trusted on first use', async () => {
      assertPassedThrough(await callFrom(relay.proxyUrl, HOME, '/conn_hibob/v1/people', hibob.token));
      assert.deepEqual(
        (await trusted()).map(({ ip_group, first_ip, source }) => ({ ip_group, first_ip, source })),
        [{ ip_group: HOME, first_ip: HOME, source: 'first_use' }],
      );
      const [first] = await adminActions('trusted_ip.first_use');
      assert.equal(first?.subject, recipientId);
      assert.equal(first?.actor, 'trust_on_first_use');
    });

    it('an already trusted network is answered from memory: no store read per request', async () => {
      const repo = relay.running.relay.store.trustedIps;
      const original = repo.has;
      let reads = 0;
      repo.has = (...args) => {
        reads++;
        return original.apply(repo, args);
      };
      try {
        for (let i = 0; i < 10; i++)
          assertPassedThrough(await callFrom(relay.proxyUrl, HOME, '/conn_hibob/v1/people', hibob.token));
      } finally {
        repo.has = original;
      }
      assert.equal(reads, 0);
    });

    it('another IP gets 423 Locked before the upstream is reached, audited, and the holder is mailed', async () => {
      const res = await locked(AWAY, hibob.token);
      assert.doesNotMatch(res.text, /kate@example\.test/, 'the caller does not learn the address');
      await waitForAudit(fx.relay.api, { credential_id: hibob.id, decision: 'blocked' }, (events) =>
        events.some((e) => e.status === 423 && e.reason === 'new_ip_confirmation_required' && e.ip === AWAY),
      );
      const mail = await smtp.nth(0);
      mails.push(mail);
      assert.deepEqual(mail.envelopeTo, ['kate@example.test']);
      assert.match(mail.headers.from ?? '', /relay@example\.test/);
      assert.equal(mail.subject, 'Confirm a new IP for your Relay key');
      assert.match(mail.text, /IP: +127\.0\.0\.2\n/);
      assert.match(mail.text, /Client: +cursor\/0\.42 \(new-ip test\)\n/);
      assert.match(mail.text, /Connection: +HiBob \(conn_hibob\)\n/);
      assert.match(mail.text, /Time: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n/);
      assert.match(mail.text, /expires in 24 hours/);
      assert.match(mail.text, /If this wasn't you, ignore this email — the request was blocked/);
      const link = confirmLinkIn(mail.text);
      assert.ok(link.url.startsWith(`http://localhost:${relay.running.ports.api}/confirm-ip/`), link.url);
      // Only the SHA-256 of the secret is stored.
      const rows = await relay.running.relay.store.db.selectFrom('ip_confirmations').selectAll().execute();
      assert.equal(rows.length, 1);
      assert.ok(!JSON.stringify(rows).includes(link.secret));
      await service.drain();
      const events = await newIpEvents();
      assert.equal(events.length, 1);
      assert.equal(events[0]?.severity, 'low');
      assert.equal(events[0]?.subject, AWAY);
    });

    it('more calls from the same network, even at once, get 423 and no second mail', async () => {
      await locked(AWAY, hibob.token);
      await Promise.all(Array.from({ length: 8 }, () => locked(AWAY, hibob.token)));
      await locked(AWAY, absorb.token, '/conn_absorb/v1/users'); // one pending per recipient and network
      await service.drain();
      assert.equal(smtp.messages.length, 1);
      assert.equal((await newIpEvents()).length, 1);
      const pending = await relay.running.relay.store.db.selectFrom('ip_confirmations').selectAll().execute();
      assert.equal(pending.length, 1);
    });

    it('opening the link (GET) shows the request and a button, and confirms nothing', async () => {
      const link = confirmLinkIn(mails[0]?.text ?? '');
      for (let i = 0; i < 2; i++) {
        const shown = await page(relay.apiUrl + link.path, 'GET');
        assert.equal(shown.status, 200);
        assert.match(shown.headers.get('content-type') ?? '', /^text\/html/);
        assert.match(shown.text, /127\.0\.0\.2/);
        assert.match(shown.text, /cursor\/0\.42/);
        assert.match(shown.text, /HiBob/);
        assert.match(
          shown.text,
          /<form method="post" action="\/confirm-ip\/[0-9A-Za-z]{40}"><button type="submit">/,
        );
      }
      assert.deepEqual(
        (await trusted()).map((t) => t.ip_group),
        [HOME],
      );
      await locked(AWAY, hibob.token);
    });

    it('the button (POST) confirms: the IP then works for every credential of the recipient', async () => {
      const link = confirmLinkIn(mails[0]?.text ?? '');
      const confirmed = await page(relay.apiUrl + link.path, 'POST');
      assert.equal(confirmed.status, 200, confirmed.text);
      assert.match(confirmed.text, /127\.0\.0\.2 is now trusted/);
      assertPassedThrough(await callFrom(relay.proxyUrl, AWAY, '/conn_absorb/v1/users', absorb.token));
      assertPassedThrough(await callFrom(relay.proxyUrl, AWAY, '/conn_hibob/v1/people', hibob.token));
      const [audit] = await adminActions('trusted_ip.confirm');
      assert.equal(audit?.actor, 'ip_confirmation');
      assert.equal(audit?.subject, recipientId);
      assert.equal(audit?.metadata.ip_group, AWAY);
    });

    it('a used link answers 410, on GET and POST alike', async () => {
      const link = confirmLinkIn(mails[0]?.text ?? '');
      assert.equal((await page(relay.apiUrl + link.path, 'POST')).status, 410);
      assert.equal((await page(relay.apiUrl + link.path, 'GET')).status, 410);
      assert.equal((await page(`${relay.apiUrl}/confirm-ip/${'x'.repeat(40)}`, 'GET')).status, 410);
    });

    it('admins list trusted networks and remove one: its next call is 423 again, with a new mail', async () => {
      assert.deepEqual(
        (await trusted()).map(({ ip_group, source }) => ({ ip_group, source })),
        [
          { ip_group: HOME, source: 'first_use' },
          { ip_group: AWAY, source: 'confirmed' },
        ],
      );
      const removed = await relay.api('DELETE', `/api/v1/recipients/${recipientId}/trusted-ips/${AWAY}`);
      assert.equal(removed.status, 204, JSON.stringify(removed.body));
      const [audit] = await adminActions('trusted_ip.remove');
      assert.equal(audit?.subject, recipientId);
      assert.equal(audit?.metadata.ip_group, AWAY);
      assert.deepEqual(
        (await trusted()).map((t) => t.ip_group),
        [HOME],
      );
      await locked(AWAY, absorb.token, '/conn_absorb/v1/users');
      const mail = await smtp.nth(1);
      mails.push(mail);
      assert.match(mail.text, /Connection: +Absorb \(conn_absorb\)\n/);
      assert.notEqual(confirmLinkIn(mail.text).secret, confirmLinkIn(mails[0]?.text ?? '').secret);
      assertPassedThrough(await callFrom(relay.proxyUrl, HOME, '/conn_absorb/v1/users', absorb.token));
    });

    it('an expired link answers 410 and trusts nothing', async () => {
      const link = confirmLinkIn(mails[1]?.text ?? '');
      await relay.running.relay.store.db
        .updateTable('ip_confirmations')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('confirmed_at', 'is', null)
        .execute();
      assert.equal((await page(relay.apiUrl + link.path, 'GET')).status, 410);
      assert.equal((await page(relay.apiUrl + link.path, 'POST')).status, 410);
      assert.deepEqual(
        (await trusted()).map((t) => t.ip_group),
        [HOME],
      );
      await locked(AWAY, hibob.token);
    });

    it('every mail is in the outbox as sent, and the log names subject and address but never a link secret', async () => {
      await service.drain();
      const outbox = await relay.api('GET', '/api/v1/outbox');
      assert.equal(outbox.status, 200, JSON.stringify(outbox.body));
      assert.equal(outbox.body.data.length, smtp.messages.length);
      for (const message of outbox.body.data) {
        assert.equal(message.status, 'sent');
        assert.equal(message.to, 'kate@example.test');
      }
      const logs = relay.logs.text;
      assert.match(logs, /"msg":"mail sent"/);
      assert.match(logs, /"subject":"Confirm a new IP for your Relay key"/);
      assert.match(logs, /"to":"kate@example\.test"/);
      assert.match(logs, /"confirmation_id":"ipc_/);
      assert.ok(mails.length >= 2);
      for (const mail of mails) {
        const { secret } = confirmLinkIn(mail.text);
        assert.ok(!logs.includes(secret), 'a confirm-link secret reached the log');
      }
      assert.doesNotMatch(logs, /\/confirm-ip\/[0-9A-Za-z]{40}/, 'no confirm link in the log');
    });

    it('service and agent recipients are not subject to new-IP confirmation', async () => {
      for (const kind of ['service', 'agent']) {
        const rcp = await relay.api('POST', '/api/v1/recipients', { name: `a ${kind}`, kind });
        assert.equal(rcp.status, 201, JSON.stringify(rcp.body));
        const res = await relay.api('POST', '/api/v1/credentials', {
          name: `${kind} credential`,
          recipient_id: rcp.body.id,
          grants: [fullGrant('conn_hibob')],
          acknowledge_risks: true,
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.notEqual(res.body.ip_mode, 'confirm_new_ip');
        for (const from of [HOME, AWAY, '127.0.0.9'])
          assertPassedThrough(await callFrom(relay.proxyUrl, from, '/conn_hibob/v1/people', res.body.token));
        assert.deepEqual(
          (await relay.api('GET', `/api/v1/recipients/${rcp.body.id}/trusted-ips`)).body.data,
          [],
        );
      }
    });
  });
}
