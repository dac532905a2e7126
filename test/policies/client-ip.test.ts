import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseIp, resolveClientIp, TrustedProxies } from '../../src/planes/client-ip.ts';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { startFakeUpstream } from '../proxy/fake-upstream.ts';
import {
  assertDecision,
  assertPassedThrough,
  fullGrant,
  startProxyFixture,
  waitForAudit,
} from '../proxy/proxy-helpers.ts';
import { apiCall, call } from './policy-helpers.ts';

/**
 * SPEC §4 step 3 and issue 5 point 3: the client is the socket address unless
 * that peer is in RELAY_TRUSTED_PROXIES; then X-Forwarded-For is walked from the
 * right, skipping trusted hops. A header from anyone else changes nothing.
 */
describe('resolveClientIp', () => {
  const trusted = new TrustedProxies(['127.0.0.2/32', '10.0.0.0/8', 'fd00::/8']);
  const resolve = (peer: string, xff?: string | string[]) => resolveClientIp(peer, xff, trusted);

  it('an untrusted peer is the client, whatever it claims', () => {
    assert.equal(resolve('198.51.100.1', '203.0.113.7'), '198.51.100.1');
    assert.equal(resolve('::ffff:198.51.100.1', '203.0.113.7'), '198.51.100.1');
    assert.equal(resolveClientIp('127.0.0.2', '203.0.113.7', new TrustedProxies([])), '127.0.0.2');
  });

  it('a trusted peer: the rightmost untrusted X-Forwarded-For entry', () => {
    assert.equal(resolve('127.0.0.2', '203.0.113.7'), '203.0.113.7');
    assert.equal(resolve('::ffff:127.0.0.2', '203.0.113.7'), '203.0.113.7', 'IPv4-mapped peer');
    // What the client sent sits left of what the proxy appended: it is never read.
    assert.equal(resolve('127.0.0.2', '1.1.1.1, 203.0.113.7'), '203.0.113.7');
    assert.equal(
      resolve('127.0.0.2', '1.1.1.1, 203.0.113.7, 10.1.2.3'),
      '203.0.113.7',
      'trusted hops skipped',
    );
    assert.equal(
      resolve('127.0.0.2', ['1.1.1.1', '203.0.113.7, 10.1.2.3']),
      '203.0.113.7',
      'repeated headers',
    );
  });

  it('a trusted peer without X-Forwarded-For is itself the client', () => {
    assert.equal(resolve('127.0.0.2'), '127.0.0.2');
  });

  it('a chain of trusted hops only: the leftmost one', () => {
    assert.equal(resolve('127.0.0.2', '10.0.0.9, 10.0.0.5'), '10.0.0.9');
  });

  it('an entry that is not an address stops the walk at the last trusted hop', () => {
    assert.equal(resolve('127.0.0.2', 'unknown'), '127.0.0.2');
    assert.equal(resolve('127.0.0.2', '203.0.113.7, garbage, 10.0.0.5'), '10.0.0.5');
    assert.equal(resolve('127.0.0.2', '203.0.113.7,'), '127.0.0.2', 'an empty entry is not an address');
    assert.equal(resolve('127.0.0.2', '203.0.113.7%eth0'), '127.0.0.2');
  });

  it('reads IPv6, IPv4-mapped, port and bracket forms', () => {
    assert.equal(resolve('127.0.0.2', '2001:db8::7'), '2001:db8::7');
    assert.equal(resolve('127.0.0.2', '::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(resolve('127.0.0.2', '203.0.113.7:4711'), '203.0.113.7');
    assert.equal(resolve('127.0.0.2', '[2001:db8::7]:4711'), '2001:db8::7');
    assert.equal(resolve('127.0.0.2', '[2001:db8::7]'), '2001:db8::7');
    assert.equal(resolve('fd00::1', '203.0.113.7, fd12::9'), '203.0.113.7', 'IPv6 trusted hops');
  });

  it('normaliseIp writes IPv4-mapped IPv6 as IPv4 and leaves the rest', () => {
    assert.equal(normaliseIp('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(normaliseIp('::1'), '::1');
    assert.equal(normaliseIp('::ffff:7f00:1'), '::ffff:7f00:1');
  });

  it('a RELAY_TRUSTED_PROXIES entry that is not a range is a start-up error', () => {
    assert.throws(
      () => new TrustedProxies(['10.0.0.0/8', 'proxy.internal']),
      /RELAY_TRUSTED_PROXIES: "proxy\.internal"/,
    );
    assert.throws(() => new TrustedProxies(['10.0.0.0/33']), /RELAY_TRUSTED_PROXIES/);
  });
});

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream, { RELAY_TRUSTED_PROXIES: '127.0.0.2/32' });
    await fx.connection({
      id: 'conn_cip',
      name: 'client ip',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-cip-REAL' },
    });
    const remote = await fx.credential({
      grants: [fullGrant('conn_cip')],
      ip_mode: 'allowlist',
      ip_allowlist: ['203.0.113.0/24'],
    });
    const local = await fx.credential({
      grants: [fullGrant('conn_cip')],
      ip_mode: 'allowlist',
      ip_allowlist: ['127.0.0.1/32'],
    });
    const get = (token: string, from: string, xff?: string, agent = 'client-ip-test') =>
      call({
        url: fx.relay.proxyUrl,
        path: '/conn_cip/v1/items',
        localAddress: from,
        headers: {
          authorization: `Bearer ${token}`,
          'user-agent': agent,
          ...(xff === undefined ? {} : { 'x-forwarded-for': xff }),
        },
      });

    describe('proxy', () => {
      it('a spoofed X-Forwarded-For from an untrusted peer changes nothing', async () => {
        const hits = upstream.hits;
        assertDecision(await get(remote.token, '127.0.0.1', '203.0.113.7'), 403, 'ip_not_allowed');
        assert.equal(upstream.hits, hits, 'the upstream was not contacted');
        // …and the credential is still judged on the socket address.
        assertPassedThrough(await get(local.token, '127.0.0.1', '198.51.100.66'));
      });

      it('from a trusted proxy, the X-Forwarded-For client is judged', async () => {
        assertPassedThrough(await get(remote.token, '127.0.0.2', '203.0.113.7'));
        assertDecision(await get(local.token, '127.0.0.2', '203.0.113.7'), 403, 'ip_not_allowed');
      });

      it('from a trusted proxy, only the rightmost untrusted entry counts', async () => {
        assertDecision(
          await get(remote.token, '127.0.0.2', '203.0.113.7, 198.51.100.9'),
          403,
          'ip_not_allowed',
        );
        assertPassedThrough(await get(remote.token, '127.0.0.2', '198.51.100.9, 203.0.113.7'));
        // Garbage where the proxy's entry should be: the proxy itself is the client.
        assertDecision(await get(remote.token, '127.0.0.2', '203.0.113.7, unknown'), 403, 'ip_not_allowed');
      });

      it('the audit log records the client Relay trusted', async () => {
        await get(remote.token, '127.0.0.2', '203.0.113.99', 'cip-trusted');
        await get(remote.token, '127.0.0.1', '203.0.113.98', 'cip-spoofed');
        const events = await waitForAudit(
          fx.relay.api,
          { connection_id: 'conn_cip' },
          (es) =>
            es.some((e) => e.user_agent === 'cip-trusted') && es.some((e) => e.user_agent === 'cip-spoofed'),
        );
        const trusted = events.find((e) => e.user_agent === 'cip-trusted');
        const spoofed = events.find((e) => e.user_agent === 'cip-spoofed');
        assert.equal(trusted.ip, '203.0.113.99');
        assert.equal(trusted.decision, 'allowed');
        assert.equal(spoofed.ip, '127.0.0.1');
        assert.equal(spoofed.decision, 'blocked');
        assert.equal(spoofed.reason, 'ip_not_allowed');
      });
    });

    describe('management API', async () => {
      const created = await fx.relay.api('POST', '/api/v1/tokens', {
        name: 'from the office',
        role: 'viewer',
        ip_allowlist: ['203.0.113.0/24'],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const token: string = created.body.token;
      const workspace = (from: string, xff: string) =>
        apiCall({
          url: fx.relay.apiUrl,
          path: '/api/v1/workspace',
          token,
          localAddress: from,
          headers: { 'x-forwarded-for': xff },
        });

      it('a spoofed X-Forwarded-For from an untrusted peer changes nothing', async () => {
        const res = await workspace('127.0.0.1', '203.0.113.7');
        assert.equal(res.status, 403, JSON.stringify(res.body));
        assert.equal(res.body.code, 'ip_not_allowed');
      });

      it('from a trusted proxy, the X-Forwarded-For client is judged', async () => {
        const res = await workspace('127.0.0.2', '203.0.113.7');
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const outside = await workspace('127.0.0.2', '198.51.100.1');
        assert.equal(outside.status, 403);
      });
    });

    it('a bad RELAY_TRUSTED_PROXIES stops start-up with a clear message', async () => {
      await assert.rejects(
        startTestRelay(dialect, { RELAY_TRUSTED_PROXIES: '10.0.0.0/8,lb.internal' }),
        /RELAY_TRUSTED_PROXIES: "lb\.internal"/,
      );
    });
  });
}
