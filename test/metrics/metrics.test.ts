import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { randomBase62 } from '../../src/core/base62.ts';
import { issueToken } from '../../src/core/tokens.ts';
import { DIALECTS, skipFor, type TestRelay } from '../harness.ts';
import { startFakeUpstream } from '../proxy/fake-upstream.ts';
import { assertDecision, assertPassedThrough, startProxyFixture } from '../proxy/proxy-helpers.ts';

/**
 * SPEC §12, issue 6 point 7: Prometheus metrics at `/metrics` on the management
 * listener. Protected by default (admin or viewer tokens), or by a dedicated
 * RELAY_METRICS_TOKEN. Request counts by decision, code and connection; Relay's
 * own time and upstream time as separate histograms; the audit queue depth;
 * security events; process figures.
 */

async function scrape(relay: TestRelay, headers: Record<string, string>) {
  const res = await fetch(`${relay.apiUrl}/metrics`, { headers });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

/** The value of one sample, labels in the metric's own order; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const prefix = pairs.length === 0 ? `${name} ` : `${name}{${pairs.join(',')}} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const metricsToken = `prom-${randomBase62(32)}`;
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream, { RELAY_METRICS_TOKEN: metricsToken });
    const { relay } = fx;
    await fx.connection({
      id: 'conn_metrics',
      name: 'Metrics API',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-metrics-REAL-0001' },
    });
    const credential = await fx.credential({
      grants: [{ connection_id: 'conn_metrics', allowed_methods: ['GET'], allowed_paths: ['/v1/**'] }],
    });
    const token = async (body: Record<string, unknown>) => {
      const res = await relay.api('POST', '/api/v1/tokens', { name: 't', ...body });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.token as string;
    };
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    /** Scrapes until `ready` holds: a request is counted when its pipeline finishes, just after the answer. */
    const scrapeUntil = async (ready: (text: string) => boolean) => {
      let text = '';
      for (let i = 0; i < 100; i++) {
        text = (await scrape(relay, { authorization: `Bearer ${metricsToken}` })).text;
        if (ready(text)) return text;
        await delay(10);
      }
      return text;
    };

    it('is protected: the metrics token, admins and viewers read it; nobody else', async () => {
      const viewer = await token({ role: 'viewer' });
      const provisioner = await token({
        role: 'provisioner',
        bounds: {
          connections: ['conn_metrics'],
          max_ttl_seconds: 60,
          allowed_methods: ['GET'],
          allowed_paths: ['/**'],
        },
      });
      const scopedKey = (
        await relay.api('POST', '/api/v1/auth/api-keys', { name: 'k', scopes: ['audit:read'] })
      ).body.key;
      const cases: Array<[string, Record<string, string>, number]> = [
        ['no token', {}, 401],
        ['a wrong token', bearer(`prom-${randomBase62(32)}`), 401],
        ['a management token never issued', bearer(issueToken('management').token), 401],
        ['the metrics token', bearer(metricsToken), 200],
        ['admin', bearer(relay.adminToken), 200],
        ['viewer', bearer(viewer), 200],
        ['provisioner', bearer(provisioner), 403],
        ['a scoped API key', { 'x-api-key': scopedKey }, 403],
      ];
      for (const [label, headers, status] of cases) {
        const res = await scrape(relay, headers);
        assert.equal(res.status, status, label);
        if (status === 200) {
          assert.equal(res.type, 'text/plain; version=0.0.4; charset=utf-8', label);
          assert.match(res.text, /^# HELP /, label);
        }
      }
      // The metrics token opens /metrics and nothing else.
      assert.equal((await relay.api('GET', '/api/v1/workspace', undefined, metricsToken)).status, 401);
    });

    it('counts proxied requests by decision, code and connection, with Relay and upstream time apart', async () => {
      for (let i = 0; i < 3; i++)
        assertPassedThrough(await fx.get('/conn_metrics/v1/things', credential.token));
      for (let i = 0; i < 2; i++)
        assertDecision(await fx.get('/conn_metrics/admin/keys', credential.token), 403, 'path_not_allowed');
      assertDecision(
        await fx.get('/conn_metrics/v1/things', issueToken('proxy').token),
        401,
        'unauthenticated',
      );
      const text = await scrapeUntil(
        (t) =>
          sample(t, 'relay_proxy_requests_total', {
            decision: 'blocked',
            code: '401',
            reason: 'unauthenticated',
            connection: '',
          }) === 1,
      );
      assert.equal(
        sample(text, 'relay_proxy_requests_total', {
          decision: 'allowed',
          code: '200',
          reason: 'none',
          connection: 'conn_metrics',
        }),
        3,
      );
      assert.equal(
        sample(text, 'relay_proxy_requests_total', {
          decision: 'blocked',
          code: '403',
          reason: 'path_not_allowed',
          connection: 'conn_metrics',
        }),
        2,
      );
      assert.equal(
        sample(text, 'relay_proxy_upstream_duration_seconds_count', { connection: 'conn_metrics' }),
        3,
      );
      assert.equal(
        sample(text, 'relay_proxy_upstream_duration_seconds_bucket', {
          connection: 'conn_metrics',
          le: '+Inf',
        }),
        3,
      );
      assert.equal(sample(text, 'relay_proxy_relay_duration_seconds_count', { decision: 'allowed' }), 3);
      assert.equal(sample(text, 'relay_proxy_relay_duration_seconds_count', { decision: 'blocked' }), 3);
      const upstreamSum = sample(text, 'relay_proxy_upstream_duration_seconds_sum', {
        connection: 'conn_metrics',
      });
      assert.ok(upstreamSum !== undefined && upstreamSum > 0);
      assert.match(text, /# TYPE relay_proxy_relay_duration_seconds histogram/);
    });

    it('reports the audit queue depth, security events and process figures', async () => {
      await relay.running.relay.securityEvents.raise({
        workspaceId: relay.workspaceId,
        kind: 'metrics_probe',
        severity: 'medium',
        subject: 'x',
      });
      const text = await scrapeUntil(
        (t) => sample(t, 'relay_security_events_total', { kind: 'metrics_probe', severity: 'medium' }) === 1,
      );
      assert.equal(
        sample(text, 'relay_security_events_total', { kind: 'metrics_probe', severity: 'medium' }),
        1,
      );
      const depth = sample(text, 'relay_audit_queue_depth');
      assert.ok(depth !== undefined && depth >= 0);
      assert.ok((sample(text, 'process_resident_memory_bytes') ?? 0) > 1_000_000);
      assert.ok((sample(text, 'process_cpu_seconds_total') ?? 0) > 0);
      assert.notEqual(sample(text, 'nodejs_eventloop_lag_seconds', { stat: 'p99' }), undefined);
      // No secret of any kind in the scrape.
      assert.ok(!text.includes('sk-metrics-REAL-0001'));
      assert.ok(!text.includes(credential.token));
    });
  });
}
