import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { AuditRecord } from '../../src/core/audit.ts';
import { DIALECTS, skipFor } from '../harness.ts';
import { closedPort, startFakeUpstream } from './fake-upstream.ts';
import {
  type AuditEvent,
  assertDecision,
  assertPassedThrough,
  fullGrant,
  listAudit,
  send,
  startProxyFixture,
  waitForAudit,
} from './proxy-helpers.ts';

/**
 * SPEC §7: every proxied request, allowed or refused, gets exactly one audit
 * record with the §7 fields; GET /api/v1/audit filters and paginates them; no
 * real key or Relay token is ever written to the audit log or the logs.
 * Each request carries a unique User-Agent so its record can be found.
 */
const REAL = { aud: 'sk-audit-REAL-0001', audq: 'qk-audit-REAL-0002', aud2: 'sk-audit-REAL-0003' };

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream);
    const api = fx.relay.api;
    const base = upstream.url;
    await fx.connection({
      id: 'conn_aud',
      name: 'aud',
      base_url: base,
      auth: { type: 'bearer', secret: REAL.aud },
    });
    await fx.connection({
      id: 'conn_audq',
      name: 'audq',
      base_url: base,
      auth: { type: 'query', query_param: 'api_key', secret: REAL.audq },
      options: { log_query_strings: true },
    });
    await fx.connection({
      id: 'conn_aud2',
      name: 'aud2',
      base_url: base,
      auth: { type: 'bearer', secret: REAL.aud2 },
    });
    await fx.connection({
      id: 'conn_auddead',
      name: 'dead',
      base_url: `http://127.0.0.1:${await closedPort()}`,
      auth: { type: 'bearer', secret: 'sk-dead' },
    });
    const rcp = await api('POST', '/api/v1/recipients', { name: 'audit bot', kind: 'service' });
    assert.equal(rcp.status, 201, JSON.stringify(rcp.body));
    const recipientId: string = rcp.body.id;
    const c1 = await fx.credential({
      recipient_id: recipientId,
      grants: [
        { connection_id: 'conn_aud', allowed_methods: ['GET', 'POST'], allowed_paths: ['/v1/**'] },
        fullGrant('conn_audq'),
        fullGrant('conn_aud2'),
        fullGrant('conn_auddead'),
      ],
    });
    const c2 = await fx.credential({ name: 'standalone', grants: [fullGrant('conn_aud')] });
    const secrets = [...Object.values(REAL), c1.token, c2.token];

    let n = 0;
    const ua = () => `audit-test/${dialect}/${++n}`;
    /** Sends with a unique User-Agent and returns it with the response. */
    const call = async (
      path: string,
      options: { token?: string; method?: string; body?: string; headers?: Record<string, string> } = {},
    ) => {
      const agent = ua();
      const headers: Record<string, string> = { 'user-agent': agent, ...options.headers };
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      const res = await send(fx.relay.proxyUrl, {
        path,
        headers,
        ...(options.method === undefined ? {} : { method: options.method }),
        ...(options.body === undefined ? {} : { body: options.body }),
      });
      return { agent, res };
    };
    const one = (events: AuditEvent[], agent: string): AuditEvent => {
      const mine = events.filter((e) => e.user_agent === agent);
      assert.equal(mine.length, 1, `exactly one record for ${agent}: ${JSON.stringify(mine)}`);
      return mine[0];
    };

    /** Records Relay could not attribute to a workspace (no valid credential) live under workspace ''. */
    const unattributed = async (): Promise<AuditRecord[]> => {
      const page = await fx.relay.running.relay.store.audit.list('', {}, { limit: 1000 });
      return [...page.data];
    };
    const waitUnattributed = async (agent: string): Promise<AuditRecord> => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const mine = (await unattributed()).filter((r) => r.userAgent === agent);
        if (mine.length > 0) {
          assert.equal(mine.length, 1);
          return mine[0] as AuditRecord;
        }
        assert.ok(Date.now() < deadline, `no audit record for ${agent}`);
        await delay(20);
      }
    };

    // Batch A, then (a few ms later) batch B, for the since/until filters.
    const allowed = await call('/conn_aud/v1/items?secret_q=abc', { token: c1.token });
    assertPassedThrough(allowed.res);
    const blocked = await call('/conn_aud/v1/items', { token: c1.token, method: 'DELETE' });
    assertDecision(blocked.res, 403, 'method_not_allowed');
    const posted = await call('/conn_aud/v1/items', {
      token: c1.token,
      method: 'POST',
      body: 'x'.repeat(1234),
    });
    assertPassedThrough(posted.res);
    const logged = await call('/conn_audq/v1/search?q=relay&page=2', { token: c1.token });
    assertPassedThrough(logged.res);
    await delay(5);
    const standalone = await call('/conn_aud/v1/other', { token: c2.token });
    assertPassedThrough(standalone.res);
    const second = await call('/conn_aud2/v1/y', { token: c1.token });
    assertPassedThrough(second.res);
    const failed = await call('/conn_auddead/v1/z', { token: c1.token });
    assertDecision(failed.res, 502, 'upstream_unreachable');
    const agents = [allowed, blocked, posted, logged, standalone, second, failed].map((r) => r.agent);
    const all = await waitForAudit(api, {}, (events) =>
      agents.every((a) => events.some((e) => e.user_agent === a)),
    );

    it('an allowed request: one record with every §7 field', () => {
      const e = one(all, allowed.agent);
      assert.equal(e.method, 'GET');
      assert.equal(e.path, '/v1/items', 'the path, without the query');
      assert.equal(e.query, null, 'query strings are not logged unless the connection opts in');
      assert.equal(e.decision, 'allowed');
      assert.equal(e.reason, null);
      assert.equal(e.status, 200);
      assert.equal(typeof e.duration_ms, 'number');
      assert.ok(e.duration_ms >= 0);
      assert.equal(typeof e.upstream_ms, 'number');
      assert.ok(e.upstream_ms >= 0 && e.upstream_ms <= e.duration_ms);
      for (const ms of [e.duration_ms, e.upstream_ms]) {
        assert.equal(ms, Math.round(ms * 1000) / 1000, `durations are kept to the microsecond: ${ms}`);
      }
      assert.equal(e.bytes_out, allowed.res.body.length);
      assert.equal(e.bytes_in, 0);
      assert.equal(e.ip, '127.0.0.1');
      assert.equal(e.user_agent, allowed.agent);
      assert.equal(e.credential_id, c1.id);
      assert.equal(e.recipient_id, recipientId);
      assert.equal(e.connection_id, 'conn_aud');
      assert.match(e.id, /^evt_/);
      assert.ok(!Number.isNaN(Date.parse(e.at)));
      assert.equal(typeof e.request_id, 'string');
    });

    it('a blocked request: one record with the refusal code as reason', () => {
      const e = one(all, blocked.agent);
      assert.equal(e.method, 'DELETE');
      assert.equal(e.decision, 'blocked');
      assert.equal(e.reason, 'method_not_allowed');
      assert.equal(e.status, 403);
      assert.equal(e.credential_id, c1.id);
      assert.equal(e.connection_id, 'conn_aud');
      assert.equal(
        e.request_id,
        JSON.parse(blocked.res.text).request_id,
        'the same request_id as the answer',
      );
    });

    it('request and response bytes are counted', () => {
      const e = one(all, posted.agent);
      assert.equal(e.bytes_in, 1234);
      assert.equal(e.bytes_out, posted.res.body.length);
    });

    it('the query string is recorded when the connection has log_query_strings', () => {
      const e = one(all, logged.agent);
      assert.equal(e.path, '/v1/search');
      assert.equal(e.query, 'q=relay&page=2');
    });

    it('an upstream failure is recorded with its status and code', () => {
      const e = one(all, failed.agent);
      assert.equal(e.status, 502);
      assert.equal(e.reason, 'upstream_unreachable');
      assert.equal(e.connection_id, 'conn_auddead');
    });

    it('requests without a valid credential are recorded too (unattributed)', async () => {
      const anonymous = await call('/conn_aud/v1/items');
      assertDecision(anonymous.res, 401, 'unauthenticated');
      const ambiguous = await call('/conn_aud/v1/%2e%2e/admin?x=1', { token: c1.token });
      assertDecision(ambiguous.res, 400, 'ambiguous_request');
      const a = await waitUnattributed(anonymous.agent);
      assert.equal(a.decision, 'blocked');
      assert.equal(a.reason, 'unauthenticated');
      assert.equal(a.status, 401);
      assert.equal(a.credentialId, null);
      const b = await waitUnattributed(ambiguous.agent);
      assert.equal(b.reason, 'ambiguous_request');
      assert.equal(b.status, 400);
      assert.equal(b.path, '/conn_aud/v1/%2e%2e/admin', 'the raw path, without the query');
    });

    describe('GET /api/v1/audit filters', () => {
      const ids = (events: AuditEvent[]) => events.map((e) => e.id);

      it('credential_id', async () => {
        const got = await listAudit(api, { credential_id: c2.id });
        assert.deepEqual(ids(got), ids(all.filter((e) => e.credential_id === c2.id)));
        assert.equal(got.length, 1);
        assert.equal(got[0].user_agent, standalone.agent);
        assert.equal(got[0].recipient_id, null);
      });

      it('recipient_id', async () => {
        const got = await listAudit(api, { recipient_id: recipientId });
        assert.ok(got.length >= 6);
        assert.ok(got.every((e) => e.recipient_id === recipientId && e.credential_id === c1.id));
      });

      it('connection_id', async () => {
        const got = await listAudit(api, { connection_id: 'conn_aud2' });
        assert.deepEqual(
          got.map((e) => e.user_agent),
          [second.agent],
        );
      });

      it('decision', async () => {
        const got = await listAudit(api, { decision: 'blocked' });
        assert.ok(got.some((e) => e.user_agent === blocked.agent));
        assert.ok(got.every((e) => e.decision === 'blocked'));
        const ok = await listAudit(api, { decision: 'allowed' });
        assert.ok(ok.every((e) => e.decision === 'allowed'));
        assert.ok(!ok.some((e) => e.user_agent === blocked.agent));
      });

      it('status', async () => {
        const got = await listAudit(api, { status: '403' });
        assert.deepEqual(ids(got), ids(all.filter((e) => e.status === 403)));
        assert.ok(got.length >= 1);
      });

      it('since (inclusive) and until (exclusive)', async () => {
        const everything = await listAudit(api);
        const mid = one(everything, standalone.agent).at;
        const since = await listAudit(api, { since: mid });
        const until = await listAudit(api, { until: mid });
        assert.deepEqual(ids(since), ids(everything.filter((e) => e.at >= mid)));
        assert.deepEqual(ids(until), ids(everything.filter((e) => e.at < mid)));
        assert.ok(since.some((e) => e.user_agent === second.agent));
        assert.ok(until.some((e) => e.user_agent === allowed.agent));
        assert.ok(!since.some((e) => e.user_agent === allowed.agent));
        const future = await listAudit(api, { since: '2999-01-01T00:00:00Z' });
        assert.equal(future.length, 0);
      });

      it('paginates with next_cursor, in order, without repeats', async () => {
        const everything = await listAudit(api);
        const pages: AuditEvent[] = [];
        let cursor: string | null = null;
        let count = 0;
        do {
          const query: string = cursor === null ? 'limit=2' : `limit=2&cursor=${encodeURIComponent(cursor)}`;
          const res = await api('GET', `/api/v1/audit?${query}`);
          assert.equal(res.status, 200, JSON.stringify(res.body));
          assert.ok(res.body.data.length <= 2);
          pages.push(...res.body.data);
          cursor = res.body.next_cursor;
          count++;
        } while (cursor !== null && count < 100);
        assert.ok(count >= 3, 'several pages');
        assert.deepEqual(ids(pages), ids(everything));
      });
    });

    describe('no secret is ever written', () => {
      it('no real key or token in any audit record', async () => {
        const events = JSON.stringify([...(await listAudit(api)), ...(await unattributed())]);
        for (const secret of secrets) {
          assert.ok(!events.includes(secret), `a secret (${secret.slice(0, 12)}…) is in the audit log`);
        }
      });

      it('no real key or token in any log line', () => {
        const logs = fx.relay.logs.text;
        assert.ok(fx.relay.logs.lines.length > 0, 'the logs were captured');
        for (const secret of secrets) {
          assert.ok(!logs.includes(secret), `a secret (${secret.slice(0, 12)}…) is in the logs`);
        }
      });

      it('the token sent in the query of a log_query_strings connection is not recorded', async () => {
        const leaked = await call(`/conn_audq/v1/search?q=1&api_key=${c1.token}`);
        assertPassedThrough(leaked.res);
        const events = await waitForAudit(api, { connection_id: 'conn_audq' }, (es) =>
          es.some((e) => e.user_agent === leaked.agent),
        );
        const e = one(events, leaked.agent);
        assert.ok(
          !JSON.stringify(e).includes(c1.token),
          `the token was written to the audit log: ${e.query}`,
        );
        assert.ok(String(e.query).includes('q=1'));
      });
    });
  });
}
