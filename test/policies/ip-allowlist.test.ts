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
import { apiCall, call } from './policy-helpers.ts';

/**
 * Issue 5 point 2: CIDR allowlists (IPv4, IPv6, IPv4-mapped IPv6) on the
 * workspace, on credentials and on management tokens; a violation is 403
 * `ip_not_allowed`, audited, and the upstream is never contacted.
 *
 * Both listeners bind `::`, so an IPv4 client arrives as `::ffff:127.0.0.1` and
 * an IPv6 one as `::1`: the lists must treat the first as 127.0.0.1.
 */
const V4 = '127.0.0.1';
const V6 = '::1';

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const upstream = await startFakeUpstream();
    const fx = await startProxyFixture(dialect, upstream, { RELAY_HOST: '::', RELAY_API_HOST: '::' });
    await fx.connection({
      id: 'conn_ipl',
      name: 'ip lists',
      base_url: upstream.url,
      auth: { type: 'bearer', secret: 'sk-ipl-REAL' },
    });
    const open = await fx.credential({ grants: [fullGrant('conn_ipl')] });
    const get = (token: string, host: string, agent = 'ip-allowlist-test') =>
      call({
        url: fx.relay.proxyUrl,
        host,
        path: '/conn_ipl/v1/items',
        headers: { authorization: `Bearer ${token}`, 'user-agent': agent },
      });
    const setWorkspaceList = async (list: string[]) => {
      const res = await fx.relay.api('PATCH', '/api/v1/workspace', { settings: { ip_allowlist: list } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };

    describe('workspace ip_allowlist', () => {
      it('a client outside it: 403 ip_not_allowed, upstream untouched, whatever the credential allows', async () => {
        await setWorkspaceList(['10.0.0.0/8', 'fd00::/8']);
        const hits = upstream.hits;
        assertDecision(await get(open.token, V4), 403, 'ip_not_allowed');
        assertDecision(await get(open.token, V6), 403, 'ip_not_allowed');
        assert.equal(upstream.hits, hits);
      });

      it('an IPv4 range admits an IPv4 client seen as IPv4-mapped IPv6, not an IPv6 one', async () => {
        await setWorkspaceList(['127.0.0.0/8']);
        assertPassedThrough(await get(open.token, V4));
        assertDecision(await get(open.token, V6), 403, 'ip_not_allowed');
      });

      it('an IPv6 range admits an IPv6 client, not an IPv4 one', async () => {
        await setWorkspaceList(['::1/128']);
        assertPassedThrough(await get(open.token, V6));
        assertDecision(await get(open.token, V4), 403, 'ip_not_allowed');
      });

      it('a range written in IPv4-mapped form matches the IPv4 client', async () => {
        await setWorkspaceList(['::ffff:127.0.0.1/128']);
        assertPassedThrough(await get(open.token, V4));
      });

      it('a change applies at once; an empty list lifts the restriction', async () => {
        await setWorkspaceList(['10.0.0.0/8']);
        assertDecision(await get(open.token, V4), 403, 'ip_not_allowed');
        await setWorkspaceList([]);
        assertPassedThrough(await get(open.token, V4));
        assertPassedThrough(await get(open.token, V6));
      });

      it('the refusal is audited with the client address and the reason', async () => {
        await setWorkspaceList(['10.0.0.0/8']);
        await get(open.token, V4, 'workspace-ip-refused');
        await setWorkspaceList([]);
        const events = await waitForAudit(fx.relay.api, { credential_id: open.id }, (es) =>
          es.some((e) => e.user_agent === 'workspace-ip-refused'),
        );
        const e = events.find((x) => x.user_agent === 'workspace-ip-refused');
        assert.equal(e.decision, 'blocked');
        assert.equal(e.reason, 'ip_not_allowed');
        assert.equal(e.status, 403);
        assert.equal(e.ip, V4, 'IPv4-mapped written as IPv4');
      });
    });

    describe('credential ip_allowlist', () => {
      it('IPv4 list: IPv4-mapped client passes, IPv6 client refused', async () => {
        const c = await fx.credential({
          grants: [fullGrant('conn_ipl')],
          ip_mode: 'allowlist',
          ip_allowlist: ['127.0.0.1/32'],
        });
        assertPassedThrough(await get(c.token, V4));
        assertDecision(await get(c.token, V6), 403, 'ip_not_allowed');
      });

      it('IPv6 list: IPv6 client passes, IPv4 client refused', async () => {
        const c = await fx.credential({
          grants: [fullGrant('conn_ipl')],
          ip_mode: 'allowlist',
          ip_allowlist: ['::1/128'],
        });
        assertPassedThrough(await get(c.token, V6));
        assertDecision(await get(c.token, V4), 403, 'ip_not_allowed');
      });

      it('the refusal is audited', async () => {
        const c = await fx.credential({
          grants: [fullGrant('conn_ipl')],
          ip_mode: 'allowlist',
          ip_allowlist: ['10.0.0.0/8'],
        });
        await get(c.token, V6, 'credential-ip-refused');
        const events = await waitForAudit(fx.relay.api, { credential_id: c.id }, (es) => es.length > 0);
        assert.equal(events[0].reason, 'ip_not_allowed');
        assert.equal(events[0].ip, V6);
      });
    });

    describe('management token ip_allowlist', async () => {
      const tokenFor = async (list: string[]) => {
        const res = await fx.relay.api('POST', '/api/v1/tokens', {
          name: 'listed',
          role: 'viewer',
          ip_allowlist: list,
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        return res.body.token as string;
      };
      const read = (token: string, host: string) =>
        apiCall({ url: fx.relay.apiUrl, host, path: '/api/v1/workspace', token });

      it('IPv4 list: IPv4-mapped client passes, IPv6 client refused', async () => {
        const token = await tokenFor(['127.0.0.0/8']);
        assert.equal((await read(token, V4)).status, 200);
        const refused = await read(token, V6);
        assert.equal(refused.status, 403);
        assert.equal(refused.body.code, 'ip_not_allowed');
      });

      it('IPv6 list: IPv6 client passes, IPv4 client refused', async () => {
        const token = await tokenFor(['::1/128']);
        assert.equal((await read(token, V6)).status, 200);
        const refused = await read(token, V4);
        assert.equal(refused.status, 403);
        assert.equal(refused.body.code, 'ip_not_allowed');
      });
    });
  });
}
