import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { SCOPE_BURST_THRESHOLD } from '../../src/planes/proxy/scope-bursts.ts';
import { DIALECTS, onCleanup, skipFor, startTestRelay } from '../harness.ts';

describe('scope-violation bursts', () => {
  for (const dialect of DIALECTS) {
    describe(dialect, { skip: skipFor(dialect) }, async () => {
      let hits = 0;
      const upstream = createServer((_req, res) => {
        hits++;
        res.end('{}');
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      onCleanup(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
      const relay = await startTestRelay(dialect);
      const port = (upstream.address() as AddressInfo).port;
      await relay.api('POST', '/api/v1/connections', {
        id: 'conn_burst',
        name: 'burst',
        base_url: `http://127.0.0.1:${port}`,
        auth: { type: 'bearer', secret: 'sk-burst-upstream-key' },
        options: { allow_insecure_upstream: true },
      });
      const issue = async (name: string) =>
        (
          await relay.api('POST', '/api/v1/credentials', {
            name,
            ttl_seconds: 600,
            ip_mode: 'none',
            grants: [{ connection_id: 'conn_burst', allowed_methods: ['GET'], allowed_paths: ['/v1/items'] }],
          })
        ).body as { id: string; token: string };
      const prober = await issue('prober');
      const careful = await issue('careful');
      const call = (token: string, path: string) =>
        fetch(`${relay.proxyUrl}/conn_burst${path}`, { headers: { authorization: `Bearer ${token}` } });
      const bursts = async () => {
        const page = await relay.running.relay.store.securityEvents.list(relay.workspaceId, {
          limit: 50,
          kind: 'scope_violation_burst',
        });
        return page.data;
      };

      it(`${SCOPE_BURST_THRESHOLD} refusals in a minute raise one high event for that credential, not more`, async () => {
        for (let i = 0; i < SCOPE_BURST_THRESHOLD * 2; i++) {
          assert.equal((await call(prober.token, `/v1/admin/${i}`)).status, 403);
        }
        let events = await bursts();
        for (let i = 0; i < 50 && events.length === 0; i++) {
          await new Promise((r) => setTimeout(r, 20));
          events = await bursts();
        }
        assert.equal(events.length, 1, 'one event per window, however many refusals');
        assert.equal(events[0]?.subject, prober.id);
        assert.equal(events[0]?.severity, 'high');
        assert.equal(hits, 0, 'the upstream never saw a refused call');
      });

      it('a few refusals, or allowed calls, raise nothing', async () => {
        for (let i = 0; i < SCOPE_BURST_THRESHOLD - 1; i++) await call(careful.token, '/v1/other');
        for (let i = 0; i < 5; i++) assert.equal((await call(careful.token, '/v1/items')).status, 200);
        await new Promise((r) => setTimeout(r, 100));
        assert.ok((await bursts()).every((e) => e.subject !== careful.id));
      });
    });
  }
});
