import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId } from '../../src/core/ids.ts';
import { DIALECTS, skipFor } from '../harness.ts';
import { startFakeUpstream } from '../proxy/fake-upstream.ts';
import {
  assertDecision,
  assertPassedThrough,
  fullGrant,
  secondWorkspace,
  startProxyFixture,
} from '../proxy/proxy-helpers.ts';
import { listEvents, outbox, settle, startWebhookReceiver } from './helpers.ts';

/**
 * SPEC §8, issue 6 point 6: three or more unresolved critical security events
 * within one hour put the workspace into lockdown (the proxy refuses with 403
 * `workspace_locked`, admins are mailed, the webhook is called); an admin
 * resolves the events and lifts it; every step is in the admin audit.
 */
for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream);
    const { relay } = fx;
    const { securityEvents, store } = relay.running.relay;
    await fx.connection({
      id: 'conn_locked',
      name: 'Locked API',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-locked-REAL-0001' },
    });
    const worker = await fx.credential({ grants: [fullGrant('conn_locked')] });
    const hook = await startWebhookReceiver();
    assert.equal(
      (await relay.api('PATCH', '/api/v1/workspace', { settings: { alert_emails: ['admin@example.test'] } }))
        .status,
      200,
    );
    assert.equal(
      (await relay.api('PUT', '/api/v1/workspace/security-webhook', { url: hook.url })).status,
      200,
    );
    const other = await secondWorkspace(relay);
    await other.api('POST', '/api/v1/connections', {
      id: 'conn_locked',
      name: 'Theirs',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-theirs-REAL-0002' },
      options: { allow_insecure_upstream: true },
    });
    const theirs = await other.api('POST', '/api/v1/credentials', {
      name: 'theirs',
      ip_mode: 'none',
      acknowledge_risks: true,
      grants: [fullGrant('conn_locked')],
    });
    const locked = async () =>
      (await relay.api('GET', '/api/v1/workspace')).body.settings.lockdown?.locked === true;
    const resolveAllOpen = async () => {
      for (const e of await listEvents(relay, 'status=open'))
        assert.equal((await relay.api('POST', `/api/v1/security-events/${e.id}/resolve`)).status, 200);
    };
    const critical = (kind: string) =>
      securityEvents.raise({ workspaceId: relay.workspaceId, kind, severity: 'critical', subject: 'x' });

    it('two critical events, or any number of high ones, do not lock', async () => {
      for (let i = 0; i < 4; i++)
        await securityEvents.raise({
          workspaceId: relay.workspaceId,
          kind: 'noisy',
          severity: 'high',
          subject: 'x',
        });
      await critical('first');
      await critical('second');
      await settle(relay);
      assert.equal(await locked(), false);
      assertPassedThrough(await fx.get('/conn_locked/v1/x', worker.token));
      await resolveAllOpen();
    });

    it('critical events older than an hour, or resolved ones, do not count', async () => {
      const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000).toISOString();
      for (const id of [newId('securityEvent'), newId('securityEvent')]) {
        await store.securityEvents.insert({
          workspaceId: relay.workspaceId,
          id,
          at: twoHoursAgo,
          kind: 'old',
          severity: 'critical',
          subject: 'x',
          detail: {},
          status: 'open',
          resolvedAt: null,
          resolvedBy: null,
        });
      }
      await critical('fresh');
      await settle(relay);
      assert.equal(
        await locked(),
        false,
        'the two old ones are outside the hour; the resolved ones are resolved',
      );
      await resolveAllOpen();
    });

    it('three canary uses lock the workspace: 403 workspace_locked, upstream untouched, people told, audited', async () => {
      const mailsBefore = (await outbox(relay)).length;
      const hooksBefore = hook.received.length;
      for (let i = 0; i < 3; i++) {
        const canary = await fx.credential({ canary: true, grants: [fullGrant('conn_locked')] });
        assertDecision(await fx.get('/conn_locked/v1/x', canary.token), 401, 'unauthenticated');
      }
      await settle(relay);
      const workspace = await relay.api('GET', '/api/v1/workspace');
      const lockdown = workspace.body.settings.lockdown;
      assert.equal(lockdown.locked, true);
      assert.equal(lockdown.event_ids.length, 3);
      assert.match(lockdown.reason, /3 canary_used/);
      const hits = upstream.hits;
      assertDecision(await fx.get('/conn_locked/v1/x', worker.token), 403, 'workspace_locked');
      assert.equal(upstream.hits, hits, 'a locked workspace never reaches the upstream');
      assertPassedThrough(await fx.get('/conn_locked/v1/x', theirs.body.token), 200);
      const audit = await relay.api('GET', '/api/v1/admin-audit?limit=200');
      const rows = audit.body.data.filter((r: { action: string }) => r.action === 'workspace.lockdown');
      assert.equal(rows.length, 1, 'locked once');
      assert.equal(rows[0].actor, 'system');
      const mails = (await outbox(relay)).slice(mailsBefore);
      assert.ok(mails.some((m) => m.to === 'admin@example.test' && /LOCKDOWN/.test(m.subject)));
      const types = hook.received.slice(hooksBefore).map((h) => JSON.parse(h.body).type);
      assert.ok(types.includes('workspace.locked'), types.join());
      assert.equal(types.filter((t) => t === 'security_event.raised').length, 3);
    });

    it('lifting is refused while a critical event is open, listing them; viewers may not', async () => {
      const viewer = (await relay.api('POST', '/api/v1/tokens', { name: 'v', role: 'viewer' })).body.token;
      assert.equal(
        (await relay.api('POST', '/api/v1/workspace/lockdown/lift', undefined, viewer)).status,
        403,
      );
      const refused = await relay.api('POST', '/api/v1/workspace/lockdown/lift');
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.code, 'conflict');
      assert.equal(refused.body.errors.length, 3);
      const open = await listEvents(relay, 'status=open');
      await relay.api('POST', `/api/v1/security-events/${open[0].id}/resolve`);
      const still = await relay.api('POST', '/api/v1/workspace/lockdown/lift');
      assert.equal(still.status, 409);
      assert.equal(still.body.errors.length, 2);
      assert.equal(await locked(), true);
      assertDecision(await fx.get('/conn_locked/v1/x', worker.token), 403, 'workspace_locked');
    });

    it('once every critical event is resolved, an admin lifts it; audited and announced', async () => {
      await resolveAllOpen();
      const hooksBefore = hook.received.length;
      const lifted = await relay.api('POST', '/api/v1/workspace/lockdown/lift');
      assert.equal(lifted.status, 200, JSON.stringify(lifted.body));
      assert.equal(lifted.body.lockdown.locked, false);
      assert.match(lifted.body.lockdown.lifted_by, /^mtok_/);
      assertPassedThrough(await fx.get('/conn_locked/v1/x', worker.token));
      const again = await relay.api('POST', '/api/v1/workspace/lockdown/lift');
      assert.equal(again.status, 200);
      await settle(relay);
      const audit = await relay.api('GET', '/api/v1/admin-audit?limit=200');
      const actions = audit.body.data.map((r: { action: string }) => r.action);
      assert.equal(actions.filter((a: string) => a === 'workspace.lockdown.lift').length, 1);
      assert.ok(actions.filter((a: string) => a === 'security_event.resolve').length >= 3);
      assert.ok(
        hook.received.slice(hooksBefore).some((h) => JSON.parse(h.body).type === 'workspace.lockdown_lifted'),
      );
    });
  });
}
