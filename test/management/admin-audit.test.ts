import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { connectionBody, grant } from './helpers.ts';

/** SPEC §7: every admin action is recorded with actor, action, subject, metadata and IP. */

interface AuditRow {
  id: string;
  at: string;
  actor: string;
  action: string;
  subject: string;
  metadata: Record<string, unknown>;
  ip: string | null;
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const audit = async (): Promise<AuditRow[]> => {
      const res = await relay.api('GET', '/api/v1/admin-audit?limit=200');
      assert.equal(res.status, 200);
      return res.body.data;
    };
    const tokens = await relay.api('GET', '/api/v1/tokens');
    const adminId: string = tokens.body.data.find((t: { name: string }) => t.name === 'initial admin')?.id;

    it('bootstrap recorded the workspace creation by the system', async () => {
      assert.match(adminId, /^mtok_/);
      const [first] = await audit();
      assert.equal(first?.action, 'workspace.create');
      assert.equal(first?.actor, 'system');
      assert.equal(first?.subject, relay.workspaceId);
    });

    it('every mutation adds exactly one row naming the actor, the action and the subject', async () => {
      const secret = 'audit-secret-value-0123456789';
      const ids: Record<string, string> = {};
      const steps: ReadonlyArray<
        readonly [string, () => Promise<{ status: number; body: { id?: string } }>, () => string]
      > = [
        [
          'connection.create',
          () =>
            relay.api(
              'POST',
              '/api/v1/connections',
              connectionBody({ id: 'conn_audit', auth: { type: 'bearer', secret } }),
            ),
          () => 'conn_audit',
        ],
        [
          'connection.update',
          () => relay.api('PATCH', '/api/v1/connections/conn_audit', { name: 'renamed' }),
          () => 'conn_audit',
        ],
        [
          'connection.secret.replace',
          () => relay.api('PUT', '/api/v1/connections/conn_audit/secret', { secret: `${secret}-2` }),
          () => 'conn_audit',
        ],
        [
          'recipient.create',
          () => relay.api('POST', '/api/v1/recipients', { name: 'r', kind: 'agent' }),
          () => ids.recipient as string,
        ],
        [
          'credential.issue',
          () =>
            relay.api('POST', '/api/v1/credentials', {
              name: 'c',
              recipient_id: ids.recipient,
              grants: [grant('conn_audit')],
              ttl_seconds: 3600,
            }),
          () => ids.credential as string,
        ],
        [
          'credential.revoke',
          () => relay.api('POST', `/api/v1/credentials/${ids.credential}/revoke`),
          () => ids.credential as string,
        ],
        [
          'recipient.revoke',
          () => relay.api('POST', `/api/v1/recipients/${ids.recipient}/revoke`),
          () => ids.recipient as string,
        ],
        [
          'credential.issue',
          () =>
            relay.api('POST', '/api/v1/delegated-credentials', {
              connection_id: 'conn_audit',
              name: 'd',
              allowed_methods: ['GET'],
              allowed_paths: ['/x'],
              ttl_seconds: 60,
            }),
          () => ids.delegated as string,
        ],
        [
          'management_token.create',
          () => relay.api('POST', '/api/v1/tokens', { name: 't', role: 'viewer' }),
          () => ids.token as string,
        ],
        [
          'management_token.revoke',
          () => relay.api('POST', `/api/v1/tokens/${ids.token}/revoke`),
          () => ids.token as string,
        ],
        [
          'workspace.update',
          () => relay.api('PATCH', '/api/v1/workspace', { settings: { audit_retention_days: 30 } }),
          () => relay.workspaceId,
        ],
        [
          // a connection still granted to a live credential cannot be deleted (409): revoke first
          'credential.revoke',
          () => relay.api('POST', `/api/v1/credentials/${ids.delegated}/revoke`),
          () => ids.delegated as string,
        ],
        [
          'connection.delete',
          () => relay.api('DELETE', '/api/v1/connections/conn_audit'),
          () => 'conn_audit',
        ],
      ];
      const idKey: Record<string, string> = {
        'recipient.create': 'recipient',
        'management_token.create': 'token',
      };
      let issued = 0;
      for (const [action, run, subject] of steps) {
        const before = await audit();
        const res = await run();
        assert.ok(res.status < 300, `${action}: ${res.status} ${JSON.stringify(res.body)}`);
        if (idKey[action] && res.body.id) ids[idKey[action] as string] = res.body.id;
        if (action === 'credential.issue' && res.body.id)
          ids[issued++ === 0 ? 'credential' : 'delegated'] = res.body.id;
        const after = await audit();
        assert.equal(after.length, before.length + 1, `${action} must add exactly one audit row`);
        const row = after.at(-1) as AuditRow;
        assert.equal(row.action, action);
        assert.equal(row.subject, subject());
        assert.equal(row.actor, adminId);
        assert.match(row.id, /^aud_/);
        assert.ok(!Number.isNaN(Date.parse(row.at)));
        assert.ok(row.ip && /127\.0\.0\.1/.test(row.ip), `ip: ${row.ip}`);
        assert.equal(typeof row.metadata, 'object');
      }
      const text = JSON.stringify(await audit());
      assert.ok(!text.includes(secret), 'the audit log never holds a secret');
    });

    it('reads add no rows', async () => {
      const before = await audit();
      for (const path of [
        '/api/v1/connections',
        '/api/v1/recipients',
        '/api/v1/credentials',
        '/api/v1/tokens',
        '/api/v1/workspace',
      ]) {
        await relay.api('GET', path);
      }
      assert.equal((await audit()).length, before.length);
    });

    it('the audit list pages', async () => {
      const all = await audit();
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await relay.api(
          'GET',
          `/api/v1/admin-audit?limit=4${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
        );
        seen.push(...res.body.data.map((r: AuditRow) => r.id));
        cursor = res.body.next_cursor;
      } while (cursor !== null);
      assert.deepEqual(
        seen,
        all.map((r) => r.id),
      );
    });
  });
}
