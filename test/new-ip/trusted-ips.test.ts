import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import type { Recipient } from '../../src/core/model.ts';
import { issueToken } from '../../src/core/tokens.ts';
import { DIALECTS, skipFor, type TestRelay } from '../harness.ts';
import { startFakeUpstream } from '../proxy/fake-upstream.ts';
import {
  assertDecision,
  assertPassedThrough,
  fullGrant,
  type ProxyFixture,
  secondWorkspace,
  startProxyFixture,
} from '../proxy/proxy-helpers.ts';
import { credential as credentialFixture } from '../store/fixtures.ts';
import { callFrom, confirmLinkIn, page } from './helpers.ts';

/**
 * The rules around trusted networks (SPEC §6): trust on first use happens once
 * per recipient; concurrent first calls cannot both be trusted; shared egress
 * ranges and IPv6 /64s are one network each; admins of the recipient's
 * workspace alone list and remove them; a credential that cannot be confirmed
 * fails closed.
 */
const SHARED = '127.0.1.0/24';

async function human(fx: ProxyFixture, name: string) {
  const rcp = await fx.relay.api('POST', '/api/v1/recipients', {
    name,
    kind: 'human',
    email: `${name.toLowerCase()}@example.test`,
  });
  assert.equal(rcp.status, 201, JSON.stringify(rcp.body));
  const credential = await fx.credential({
    name: `${name} key`,
    recipient_id: rcp.body.id,
    ip_mode: 'confirm_new_ip',
    grants: [fullGrant('conn_trust')],
  });
  return { id: rcp.body.id as string, token: credential.token };
}

async function trustedGroups(relay: TestRelay, recipientId: string): Promise<string[]> {
  const res = await relay.api('GET', `/api/v1/recipients/${recipientId}/trusted-ips`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data.map((t: { ip_group: string }) => t.ip_group);
}

const ipv6Loopback = await new Promise<boolean>((resolve) => {
  const probe = createServer();
  probe.once('error', () => resolve(false));
  probe.listen(0, '::1', () => probe.close(() => resolve(true)));
});

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream, { RELAY_SHARED_EGRESS_RANGES: SHARED });
    const { relay } = fx;
    await fx.connection({
      id: 'conn_trust',
      name: 'Trust',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-trust-REAL-0001' },
    });
    const call = (from: string, token: string) => callFrom(relay.proxyUrl, from, '/conn_trust/x', token);
    const locked = async (from: string, token: string) => {
      const hits = upstream.hits;
      assertDecision(await call(from, token), 423, 'new_ip_confirmation_required');
      assert.equal(upstream.hits, hits);
    };

    it('removing every trusted network does not re-arm trust on first use', async () => {
      const r = await human(fx, 'Rearm');
      assertPassedThrough(await call('127.0.0.1', r.token));
      const del = await relay.api('DELETE', `/api/v1/recipients/${r.id}/trusted-ips/127.0.0.1`);
      assert.equal(del.status, 204, JSON.stringify(del.body));
      assert.deepEqual(await trustedGroups(relay, r.id), []);
      await locked('127.0.0.4', r.token);
      await locked('127.0.0.1', r.token);
      assert.deepEqual(await trustedGroups(relay, r.id), []);
    });

    it('two first calls at once from two networks: only one is trusted', async () => {
      const r = await human(fx, 'Race');
      const results = await Promise.all([call('127.0.0.5', r.token), call('127.0.0.6', r.token)]);
      assert.deepEqual(results.map((res) => res.status).sort(), [200, 423]);
      assert.equal((await trustedGroups(relay, r.id)).length, 1);
    });

    it('a burst of first calls from a new network creates one confirmation and one mail', async () => {
      const r = await human(fx, 'Burst');
      assertPassedThrough(await call('127.0.0.1', r.token));
      // A slow insert widens the window in which concurrent refusals could each find nothing pending.
      const repo = relay.running.relay.store.ipConfirmations;
      const insert = repo.insert;
      repo.insert = async (...args) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return insert.apply(repo, args);
      };
      try {
        await Promise.all(Array.from({ length: 12 }, () => locked('127.0.0.8', r.token)));
      } finally {
        repo.insert = insert;
      }
      await relay.running.relay.ipConfirmations.drain();
      const outbox = await relay.api('GET', '/api/v1/outbox?limit=200');
      assert.equal(outbox.body.data.filter((m: { to: string }) => m.to === 'burst@example.test').length, 1);
      const rows = await relay.running.relay.store.db
        .selectFrom('ip_confirmations')
        .select('id')
        .where('recipient_id', '=', r.id)
        .execute();
      assert.equal(rows.length, 1);
    });

    it('a shared egress range is one network: trusted, listed and removed as the range', async () => {
      const r = await human(fx, 'Shared');
      assertPassedThrough(await call('127.0.1.1', r.token));
      assert.deepEqual(await trustedGroups(relay, r.id), [SHARED]);
      assertPassedThrough(await call('127.0.1.200', r.token));
      await locked('127.0.0.7', r.token);
      const del = await relay.api('DELETE', `/api/v1/recipients/${r.id}/trusted-ips/127.0.1.99`);
      assert.equal(del.status, 204, JSON.stringify(del.body));
      assert.deepEqual(await trustedGroups(relay, r.id), []);
      await locked('127.0.1.1', r.token);
    });

    it('IPv6 addresses are trusted by their /64, removable by address or by the URL-encoded network', async () => {
      const r = await human(fx, 'Six');
      const service = relay.running.relay.ipConfirmations;
      const recipient = (await relay.running.relay.store.recipients.get(
        relay.workspaceId,
        r.id,
      )) as Recipient;
      const admit = (ip: string) =>
        service.admit({
          workspaceId: relay.workspaceId,
          recipient,
          email: 'six@example.test',
          credential: { id: 'cred_test', name: 'six' },
          connection: { id: 'conn_trust', name: 'Trust' },
          ip,
          userAgent: null,
        });
      assert.equal(await admit('2001:db8:1:2::1'), 'first_use');
      assert.equal(await admit('2001:DB8:1:2:ffff:eeee:dddd:9'), 'trusted');
      assert.equal(await admit('2001:db8:1:3::1'), 'locked');
      await service.drain();
      const outbox = await relay.api('GET', '/api/v1/outbox?limit=200');
      const mail = outbox.body.data.find((m: { to: string }) => m.to === 'six@example.test');
      assert.match(mail.text, /IP: +2001:db8:1:3::1 \(network 2001:db8:1:3::\/64\)\n/);
      const confirm = await page(relay.apiUrl + confirmLinkIn(mail.text).path, 'POST');
      assert.equal(confirm.status, 200);
      assert.deepEqual(await trustedGroups(relay, r.id), ['2001:db8:1:2::/64', '2001:db8:1:3::/64']);
      const byNetwork = await relay.api(
        'DELETE',
        `/api/v1/recipients/${r.id}/trusted-ips/${encodeURIComponent('2001:db8:1:2::/64')}`,
      );
      assert.equal(byNetwork.status, 204, JSON.stringify(byNetwork.body));
      const byAddress = await relay.api(
        'DELETE',
        `/api/v1/recipients/${r.id}/trusted-ips/2001:db8:1:3:5:6:7:8`,
      );
      assert.equal(byAddress.status, 204, JSON.stringify(byAddress.body));
      assert.deepEqual(await trustedGroups(relay, r.id), []);
      assert.equal(await admit('2001:db8:1:2::1'), 'locked');
    });

    it("another workspace's admin gets 404; a viewer reads but cannot remove; bad input changes nothing", async () => {
      const r = await human(fx, 'Tenant');
      assertPassedThrough(await call('127.0.0.1', r.token));
      const other = await secondWorkspace(relay);
      assert.equal((await other.api('GET', `/api/v1/recipients/${r.id}/trusted-ips`)).status, 404);
      assert.equal(
        (await other.api('DELETE', `/api/v1/recipients/${r.id}/trusted-ips/127.0.0.1`)).status,
        404,
      );
      const viewer = await relay.api('POST', '/api/v1/tokens', { name: 'viewer', role: 'viewer' });
      const asViewer = (method: string, path: string) =>
        relay.api(method, path, undefined, viewer.body.token);
      assert.equal((await asViewer('GET', `/api/v1/recipients/${r.id}/trusted-ips`)).status, 200);
      assert.equal(
        (await asViewer('DELETE', `/api/v1/recipients/${r.id}/trusted-ips/127.0.0.1`)).status,
        403,
      );
      const notIp = await relay.api('DELETE', `/api/v1/recipients/${r.id}/trusted-ips/not-an-ip`);
      assert.equal(notIp.status, 400);
      assert.equal(notIp.body.code, 'validation_failed');
      const untrusted = await relay.api('DELETE', `/api/v1/recipients/${r.id}/trusted-ips/192.0.2.1`);
      assert.equal(untrusted.status, 404);
      assert.equal(
        (await relay.api('GET', '/api/v1/recipients/rcp_doesnotexist0000000/trusted-ips')).status,
        404,
      );
      assert.deepEqual(await trustedGroups(relay, r.id), ['127.0.0.1']);
    });

    it('confirm_new_ip with no recipient to ask is refused at issue (400)', async () => {
      const res = await fx.relay.api('POST', '/api/v1/credentials', {
        name: 'loose',
        ttl_seconds: 600,
        ip_mode: 'confirm_new_ip',
        grants: [fullGrant('conn_trust')],
      });
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'validation_failed');
    });

    it('and should one exist in the store anyway, the proxy fails closed (403), upstream untouched', async () => {
      const issued = issueToken('proxy');
      await fx.relay.running.relay.store.credentials.insert(
        credentialFixture(fx.relay.workspaceId, {
          tokenHash: issued.hash,
          tokenPrefix: issued.displayPrefix,
          ipMode: 'confirm_new_ip',
          recipientId: null,
          expiresAt: new Date(Date.now() + 600_000).toISOString(),
          grants: [{ ...fullGrant('conn_trust'), deny_query_params: [] }],
        }),
      );
      const hits = upstream.hits;
      assertDecision(await call('127.0.0.1', issued.token), 403, 'ip_not_allowed');
      assert.equal(upstream.hits, hits);
    });
  });

  describe(`${dialect}: IPv6 clients`, {
    skip: skipFor(dialect) || (!ipv6Loopback && 'no IPv6 loopback'),
  }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream, { RELAY_HOST: '::' });
    await fx.connection({
      id: 'conn_trust',
      name: 'Trust',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-trust6-REAL-0001' },
    });

    it('a call from ::1 trusts ::/64; an IPv4 client on the same dual-stack socket is another network', async () => {
      const r = await human(fx, 'Dual');
      const port = new URL(fx.relay.proxyUrl).port;
      assertPassedThrough(await callFrom(`http://[::1]:${port}`, '::1', '/conn_trust/x', r.token));
      assert.deepEqual(await trustedGroups(fx.relay, r.id), ['::/64']);
      assertDecision(
        await callFrom(fx.relay.proxyUrl, '127.0.0.1', '/conn_trust/x', r.token),
        423,
        'new_ip_confirmation_required',
      );
      await fx.relay.running.relay.ipConfirmations.drain();
      const rows = await fx.relay.running.relay.store.db
        .selectFrom('ip_confirmations')
        .select('ip_group')
        .execute();
      assert.deepEqual(
        rows.map((row) => row.ip_group),
        ['127.0.0.1'],
        'an IPv4-mapped address is grouped as IPv4',
      );
    });
  });
}
