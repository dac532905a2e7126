import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyWebhookSignature } from '../../src/core/webhook-signature.ts';
import type { SecurityEvent } from '../../src/ports/store.ts';
import { SYSTEM_WORKSPACE } from '../../src/services/security-events.ts';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { secondWorkspace } from '../proxy/proxy-helpers.ts';
import { listEvents, outbox, settle, startWebhookReceiver } from './helpers.ts';

/**
 * SPEC §8, issue 6 point 3: security events are listed (the workspace's own and
 * the system-wide ones, marked by scope), resolved by admins (audited), mailed
 * to the workspace's alert addresses and sent to a signed webhook when high or
 * critical.
 */
for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const { securityEvents } = relay.running.relay;
    const other = await secondWorkspace(relay);
    const raise = async (
      workspaceId: string,
      kind: string,
      severity: SecurityEvent['severity'],
      subject = 'subject',
    ): Promise<SecurityEvent> => {
      const event = await securityEvents.raise({ workspaceId, kind, severity, subject, detail: { n: 1 } });
      assert.ok(event);
      return event;
    };
    const viewer = (await relay.api('POST', '/api/v1/tokens', { name: 'v', role: 'viewer' })).body.token;

    it('lists its own and the system-wide events, newest first, with one cursor over both', async () => {
      const raised: SecurityEvent[] = [];
      for (let i = 0; i < 7; i++) {
        raised.push(await raise(i % 3 === 0 ? SYSTEM_WORKSPACE : relay.workspaceId, `kind_${i % 2}`, 'low'));
        await raise(other.workspaceId, 'theirs', 'low');
      }
      const all = await listEvents(relay);
      const mine = all.filter((e) => raised.some((r) => r.id === e.id));
      assert.equal(mine.length, raised.length);
      assert.ok(
        all.every((e) => e.kind !== 'theirs'),
        "another workspace's events never show",
      );
      for (const e of mine) {
        const source = raised.find((r) => r.id === e.id) as SecurityEvent;
        assert.equal(e.scope, source.workspaceId === SYSTEM_WORKSPACE ? 'system' : 'workspace');
      }
      for (let i = 1; i < all.length; i++)
        assert.ok(
          all[i - 1].at > all[i].at || (all[i - 1].at === all[i].at && all[i - 1].id > all[i].id),
          'newest first',
        );
      // Page by page, two at a time: the same events, none twice.
      const paged: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await relay.api(
          'GET',
          `/api/v1/security-events?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`,
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.ok(res.body.data.length <= 2);
        paged.push(...res.body.data.map((e: { id: string }) => e.id));
        cursor = res.body.next_cursor;
      } while (cursor !== null);
      assert.deepEqual(
        paged,
        all.map((e) => e.id),
      );
      const kind1 = await listEvents(relay, 'kind=kind_1');
      assert.ok(kind1.length > 0 && kind1.every((e) => e.kind === 'kind_1'));
      const bad = await relay.api('GET', '/api/v1/security-events?cursor=bm9wZQ');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 'validation_failed');
      const asViewer = await relay.api('GET', '/api/v1/security-events', undefined, viewer);
      assert.equal(asViewer.status, 200);
    });

    it('resolving is for admins, audited once, and reaches no other workspace', async () => {
      const event = await raise(relay.workspaceId, 'resolve_me', 'medium');
      const theirs = await raise(other.workspaceId, 'theirs', 'medium');
      const byViewer = await relay.api(
        'POST',
        `/api/v1/security-events/${event.id}/resolve`,
        undefined,
        viewer,
      );
      assert.equal(byViewer.status, 403);
      const foreign = await relay.api('POST', `/api/v1/security-events/${theirs.id}/resolve`);
      assert.equal(foreign.status, 404);
      const res = await relay.api('POST', `/api/v1/security-events/${event.id}/resolve`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.status, 'resolved');
      assert.match(res.body.resolved_by, /^mtok_/);
      const again = await relay.api('POST', `/api/v1/security-events/${event.id}/resolve`);
      assert.equal(again.status, 200);
      const audit = await relay.api('GET', '/api/v1/admin-audit?limit=200');
      const rows = audit.body.data.filter(
        (r: { action: string; subject: string }) =>
          r.action === 'security_event.resolve' && r.subject === event.id,
      );
      assert.equal(rows.length, 1, 'one audit row, however often it is resolved');
      assert.equal((await listEvents(relay, 'status=open')).filter((e) => e.id === event.id).length, 0);
      const theirsNow = await relay.running.relay.store.securityEvents.get(other.workspaceId, theirs.id);
      assert.equal(theirsNow?.status, 'open');
    });

    it('high and critical events are mailed to every alert address and sent to the signed webhook', async () => {
      const hook = await startWebhookReceiver();
      const patch = await relay.api('PATCH', '/api/v1/workspace', {
        settings: { alert_emails: ['sec@example.test', 'oncall@example.test'] },
      });
      assert.equal(patch.status, 200, JSON.stringify(patch.body));
      assert.deepEqual(patch.body.settings.alert_emails, ['sec@example.test', 'oncall@example.test']);
      const set = await relay.api('PUT', '/api/v1/workspace/security-webhook', { url: hook.url });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      const secret: string = set.body.secret;
      assert.match(secret, /^whsec_[0-9A-Za-z]{40}$/);
      await settle(relay);
      const mailsBefore = (await outbox(relay)).length;

      await raise(relay.workspaceId, 'quiet', 'low');
      await raise(relay.workspaceId, 'medium_one', 'medium');
      await settle(relay);
      assert.equal((await outbox(relay)).length, mailsBefore, 'low and medium events page nobody');
      assert.equal(hook.received.length, 0);

      const event = await raise(relay.workspaceId, 'test_critical', 'critical', 'cred_x');
      await settle(relay);
      const mails = (await outbox(relay)).slice(mailsBefore);
      assert.deepEqual(mails.map((m) => m.to).sort(), ['oncall@example.test', 'sec@example.test']);
      for (const m of mails) {
        assert.equal(m.subject, '[Relay] CRITICAL security event: test_critical');
        assert.match(m.text, new RegExp(event.id));
      }
      assert.equal(hook.received.length, 1);
      const [delivery] = hook.received;
      assert.ok(delivery);
      assert.equal(delivery.headers['content-type'], 'application/json');
      const header = String(delivery.headers['relay-signature']);
      assert.match(header, /^t=\d+,v1=[0-9a-f]{64}$/);
      assert.ok(verifyWebhookSignature(secret, delivery.body, header, Date.now() / 1000));
      assert.ok(!verifyWebhookSignature('whsec_wrong', delivery.body, header, Date.now() / 1000));
      assert.ok(!verifyWebhookSignature(secret, `${delivery.body} `, header, Date.now() / 1000));
      const payload = JSON.parse(delivery.body);
      assert.equal(payload.type, 'security_event.raised');
      assert.equal(payload.workspace_id, relay.workspaceId);
      assert.equal(payload.event.id, event.id);
      assert.equal(payload.event.severity, 'critical');

      // A system-wide high event reaches this workspace's people too.
      await raise(SYSTEM_WORKSPACE, 'brute_force', 'high', '203.0.113.9');
      await settle(relay);
      assert.equal(hook.received.length, 2);
      assert.equal(JSON.parse(hook.received[1]?.body ?? '{}').event.scope, 'system');
    });

    it('the signing secret is shown once: no view, audit row or log line carries it', async () => {
      const hook = await startWebhookReceiver();
      const set = await relay.api('PUT', '/api/v1/workspace/security-webhook', { url: hook.url });
      assert.equal(set.status, 200);
      const secret: string = set.body.secret;
      const workspace = await relay.api('GET', '/api/v1/workspace');
      assert.equal(workspace.body.settings.security_webhook_url, hook.url);
      assert.ok(!JSON.stringify(workspace.body).includes(secret));
      assert.ok(!JSON.stringify(workspace.body).includes('security_webhook_secret'));
      const audit = await relay.api('GET', '/api/v1/admin-audit?limit=200');
      assert.ok(!JSON.stringify(audit.body).includes(secret));
      await raise(relay.workspaceId, 'logged', 'critical');
      await settle(relay);
      assert.ok(!relay.logs.text.includes(secret));
      // Replacing it: the old secret no longer signs.
      const again = await relay.api('PUT', '/api/v1/workspace/security-webhook', { url: hook.url });
      assert.notEqual(again.body.secret, secret);
      await raise(relay.workspaceId, 'after_rotation', 'critical');
      await settle(relay);
      const last = hook.received.at(-1);
      assert.ok(last);
      const header = String(last.headers['relay-signature']);
      assert.ok(verifyWebhookSignature(again.body.secret, last.body, header, Date.now() / 1000));
      assert.ok(!verifyWebhookSignature(secret, last.body, header, Date.now() / 1000));
    });

    it('a failing webhook is logged by host only and stops nothing', async () => {
      const hook = await startWebhookReceiver();
      hook.status = 500;
      assert.equal(
        (await relay.api('PUT', '/api/v1/workspace/security-webhook', { url: hook.url })).status,
        200,
      );
      const mailsBefore = (await outbox(relay)).length;
      await raise(relay.workspaceId, 'webhook_down', 'critical');
      await settle(relay);
      assert.equal(hook.received.length, 1);
      assert.equal((await outbox(relay)).length, mailsBefore + 2, 'mail still goes out');
      const line = relay.logs.lines.find((l) => l.includes('security webhook answered with an error status'));
      assert.ok(line);
      assert.ok(!line.includes('/hooks/relay'), 'the URL path is not logged');
      const removed = await relay.api('DELETE', '/api/v1/workspace/security-webhook');
      assert.equal(removed.status, 200);
      await raise(relay.workspaceId, 'no_hook', 'critical');
      await settle(relay);
      assert.equal(hook.received.length, 1, 'a removed webhook is not called');
    });

    it('webhook URLs follow the base-URL rules', async () => {
      for (const url of [
        'ftp://hooks.example.com/x',
        'https://user:pw@hooks.example.com/x',
        'https://hooks.example.com/x?token=1',
        'not a url',
      ]) {
        const res = await relay.api('PUT', '/api/v1/workspace/security-webhook', { url });
        assert.equal(res.status, 400, url);
        assert.equal(res.body.code, 'invalid_base_url', url);
      }
    });
  });

  describe(`${dialect}: webhooks where private upstreams are refused`, {
    skip: skipFor(dialect),
  }, async () => {
    const relay = await startTestRelay(dialect, { RELAY_ALLOW_PRIVATE_UPSTREAMS: 'false' });

    it('refuses plain http and private, loopback or local hosts (no SSRF through alerts)', async () => {
      const cases: Array<[string, string]> = [
        ['http://hooks.example.com/x', 'invalid_base_url'],
        ['https://127.0.0.1/x', 'unsafe_upstream'],
        ['https://10.1.2.3/x', 'unsafe_upstream'],
        ['https://[::1]/x', 'unsafe_upstream'],
        ['https://169.254.169.254/latest', 'unsafe_upstream'],
        ['https://localhost/x', 'unsafe_upstream'],
      ];
      for (const [url, code] of cases) {
        const res = await relay.api('PUT', '/api/v1/workspace/security-webhook', { url });
        assert.equal(res.status, 400, url);
        assert.equal(res.body.code, code, url);
      }
    });
  });
}
