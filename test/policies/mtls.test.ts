import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { certificateAccepted } from '../../src/planes/client-cert.ts';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { startFakeUpstream } from '../proxy/fake-upstream.ts';
import {
  assertDecision,
  assertPassedThrough,
  fullGrant,
  startProxyFixture,
  waitForAudit,
} from '../proxy/proxy-helpers.ts';
import { apiCall, type ClientCert, call, makePki } from './policy-helpers.ts';

/**
 * Issue 5 point 5: Relay terminates TLS itself and asks for client certificates
 * (RELAY_TLS_CLIENT_CA_FILE), or believes X-Client-Cert-Fingerprint from trusted
 * proxies only. Credentials and management tokens register SHA-256 fingerprints
 * and may set mtls_required. The certificates are real, made by openssl here.
 */
const pki = makePki();
const { one, two, rogue } = pki.clients;
const plain = (fingerprint: string) => fingerprint.replace(/:/g, '').toLowerCase();

describe('certificateAccepted', () => {
  const fp = plain(one.fingerprint).toUpperCase();
  const other = plain(two.fingerprint).toUpperCase();
  it('mtls_required: a listed certificate must be presented', () => {
    const p = { client_cert_fingerprints: [fp], mtls_required: true };
    assert.equal(certificateAccepted(p, fp), true);
    assert.equal(certificateAccepted(p, other), false);
    assert.equal(certificateAccepted(p, undefined), false);
    assert.equal(certificateAccepted({ mtls_required: true }, fp), false, 'required, none listed');
  });
  it('fingerprints listed, not required: a presented certificate must be listed', () => {
    const p = { client_cert_fingerprints: [fp] };
    assert.equal(certificateAccepted(p, undefined), true);
    assert.equal(certificateAccepted(p, fp), true);
    assert.equal(certificateAccepted(p, other), false);
  });
  it('no certificate policy: anything goes', () => {
    assert.equal(certificateAccepted({}, other), true);
    assert.equal(certificateAccepted({}, undefined), true);
  });
});

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    describe('Relay terminates TLS with client certificates', async () => {
      const upstream = await startFakeUpstream();
      const fx = await startProxyFixture(dialect, upstream, {
        RELAY_TLS_CERT_FILE: pki.serverCertFile,
        RELAY_TLS_KEY_FILE: pki.serverKeyFile,
        RELAY_TLS_CLIENT_CA_FILE: pki.caCertFile,
      });
      const proxyUrl = `https://127.0.0.1:${fx.relay.running.ports.proxy}`;
      await fx.connection({
        id: 'conn_mtls',
        name: 'mtls',
        base_url: upstream.url,
        auth: { type: 'bearer', secret: 'sk-mtls-REAL' },
      });
      const required = await fx.credential({
        grants: [fullGrant('conn_mtls')],
        // Registered in another spelling than Relay stores: lower case, no colons.
        client_cert_fingerprints: [plain(one.fingerprint)],
        mtls_required: true,
      });
      const listed = await fx.credential({
        grants: [fullGrant('conn_mtls')],
        client_cert_fingerprints: [one.fingerprint],
      });
      const open = await fx.credential({ grants: [fullGrant('conn_mtls')] });
      const get = (token: string, client?: ClientCert, headers: Record<string, string> = {}) =>
        call({
          url: proxyUrl,
          path: '/conn_mtls/v1/items',
          headers: { authorization: `Bearer ${token}`, ...headers },
          tls: { ca: pki.caCert, ...(client ? { cert: client.cert, key: client.key } : {}) },
        });

      it('the proxy speaks HTTPS', async () => {
        assertPassedThrough(await get(open.token));
      });

      it('mtls_required: the registered certificate passes', async () => {
        assertPassedThrough(await get(required.token, one));
      });

      it('mtls_required: another certificate from the same CA is refused (403)', async () => {
        const hits = upstream.hits;
        const body = assertDecision(await get(required.token, two), 403, 'client_certificate_required');
        assert.match(body.detail, /not registered/);
        assert.equal(upstream.hits, hits, 'the upstream was not contacted');
      });

      it('mtls_required: no certificate is refused (403)', async () => {
        assertDecision(await get(required.token), 403, 'client_certificate_required');
      });

      it('a certificate the client CA did not sign counts as none, even with a registered fingerprint', async () => {
        const forged = await fx.credential({
          grants: [fullGrant('conn_mtls')],
          client_cert_fingerprints: [rogue.fingerprint],
          mtls_required: true,
        });
        assertDecision(await get(forged.token, rogue), 403, 'client_certificate_required');
      });

      it('fingerprints listed, not required: none passes, a listed one passes, a stranger is refused', async () => {
        assertPassedThrough(await get(listed.token));
        assertPassedThrough(await get(listed.token, one));
        assertDecision(await get(listed.token, two), 403, 'client_certificate_required');
      });

      it('the fingerprint header from an untrusted peer is ignored and never forwarded', async () => {
        assertDecision(
          await get(required.token, undefined, { 'x-client-cert-fingerprint': one.fingerprint }),
          403,
          'client_certificate_required',
        );
        // It does not override the real certificate either.
        assertDecision(
          await get(required.token, two, { 'x-client-cert-fingerprint': one.fingerprint }),
          403,
          'client_certificate_required',
        );
        const before = upstream.requests.length;
        assertPassedThrough(
          await get(open.token, undefined, { 'x-client-cert-fingerprint': one.fingerprint }),
        );
        const seen = upstream.requests.slice(before);
        assert.equal(seen.length, 1);
        assert.equal(seen[0]?.headers['x-client-cert-fingerprint'], undefined);
      });

      it('the refusal is audited', async () => {
        await get(required.token, two, { 'user-agent': 'mtls-refused' });
        const events = await waitForAudit(fx.relay.api, { credential_id: required.id }, (es) =>
          es.some((e) => e.user_agent === 'mtls-refused'),
        );
        const e = events.find((x) => x.user_agent === 'mtls-refused');
        assert.equal(e.decision, 'blocked');
        assert.equal(e.reason, 'client_certificate_required');
      });
    });

    describe('behind a trusted proxy that terminates TLS', async () => {
      const upstream = await startFakeUpstream();
      const fx = await startProxyFixture(dialect, upstream, { RELAY_TRUSTED_PROXIES: '127.0.0.2/32' });
      await fx.connection({
        id: 'conn_mtlsp',
        name: 'mtls behind a proxy',
        base_url: upstream.url,
        auth: { type: 'bearer', secret: 'sk-mtlsp-REAL' },
      });
      const required = await fx.credential({
        grants: [fullGrant('conn_mtlsp')],
        client_cert_fingerprints: [one.fingerprint],
        mtls_required: true,
      });
      const get = (from: string, fingerprint?: string) =>
        call({
          url: fx.relay.proxyUrl,
          path: '/conn_mtlsp/v1/items',
          localAddress: from,
          headers: {
            authorization: `Bearer ${required.token}`,
            ...(fingerprint === undefined ? {} : { 'x-client-cert-fingerprint': fingerprint }),
          },
        });

      it('X-Client-Cert-Fingerprint from a trusted proxy is honoured, and not forwarded', async () => {
        const before = upstream.requests.length;
        assertPassedThrough(await get('127.0.0.2', one.fingerprint));
        assertPassedThrough(await get('127.0.0.2', plain(one.fingerprint)));
        for (const r of upstream.requests.slice(before))
          assert.equal(r.headers['x-client-cert-fingerprint'], undefined);
      });

      it('from a trusted proxy: another fingerprint, none, or garbage is refused', async () => {
        assertDecision(await get('127.0.0.2', two.fingerprint), 403, 'client_certificate_required');
        assertDecision(await get('127.0.0.2'), 403, 'client_certificate_required');
        assertDecision(await get('127.0.0.2', 'not-a-fingerprint'), 403, 'client_certificate_required');
      });

      it('the same header from an untrusted peer is ignored', async () => {
        assertDecision(await get('127.0.0.1', one.fingerprint), 403, 'client_certificate_required');
      });

      describe('management tokens', async () => {
        const tokenWith = async (policy: Record<string, unknown>) => {
          const res = await fx.relay.api('POST', '/api/v1/tokens', {
            name: 'mtls',
            role: 'viewer',
            ...policy,
          });
          assert.equal(res.status, 201, JSON.stringify(res.body));
          return res.body.token as string;
        };
        const required = await tokenWith({
          client_cert_fingerprints: [one.fingerprint],
          mtls_required: true,
        });
        const listed = await tokenWith({ client_cert_fingerprints: [one.fingerprint] });
        const read = (token: string, from: string, fingerprint?: string) =>
          apiCall({
            url: fx.relay.apiUrl,
            path: '/api/v1/workspace',
            token,
            localAddress: from,
            headers: fingerprint === undefined ? {} : { 'x-client-cert-fingerprint': fingerprint },
          });
        const refused = (res: { status: number; body: { code?: string } }) => {
          assert.equal(res.status, 403, JSON.stringify(res.body));
          assert.equal(res.body.code, 'client_certificate_required');
        };

        it('mtls_required: the registered fingerprint from a trusted proxy passes', async () => {
          assert.equal((await read(required, '127.0.0.2', one.fingerprint)).status, 200);
        });

        it('mtls_required: none, another one, or an untrusted peer’s header is refused', async () => {
          refused(await read(required, '127.0.0.2'));
          refused(await read(required, '127.0.0.2', two.fingerprint));
          refused(await read(required, '127.0.0.1', one.fingerprint));
        });

        it('fingerprints listed, not required: none passes, a stranger is refused', async () => {
          assert.equal((await read(listed, '127.0.0.1')).status, 200);
          assert.equal((await read(listed, '127.0.0.2', one.fingerprint)).status, 200);
          refused(await read(listed, '127.0.0.2', two.fingerprint));
        });
      });
    });

    describe('TLS settings', () => {
      it('HTTPS without a client CA asks for no certificate: mtls_required is refused', async () => {
        const upstream = await startFakeUpstream();
        const fx = await startProxyFixture(dialect, upstream, {
          RELAY_TLS_CERT_FILE: pki.serverCertFile,
          RELAY_TLS_KEY_FILE: pki.serverKeyFile,
        });
        await fx.connection({
          id: 'conn_tls',
          name: 'tls',
          base_url: upstream.url,
          auth: { type: 'bearer', secret: 'sk-tls-REAL' },
        });
        const c = await fx.credential({
          grants: [fullGrant('conn_tls')],
          client_cert_fingerprints: [one.fingerprint],
          mtls_required: true,
        });
        const res = await call({
          url: `https://127.0.0.1:${fx.relay.running.ports.proxy}`,
          path: '/conn_tls/v1/items',
          headers: { authorization: `Bearer ${c.token}` },
          tls: { ca: pki.caCert, cert: one.cert, key: one.key },
        });
        assertDecision(res, 403, 'client_certificate_required');
      });

      it('a certificate without its key, or an unreadable file, stops start-up', async () => {
        await assert.rejects(
          startTestRelay(dialect, { RELAY_TLS_CERT_FILE: pki.serverCertFile }),
          /RELAY_TLS_CERT_FILE and RELAY_TLS_KEY_FILE must be set together/,
        );
        await assert.rejects(
          startTestRelay(dialect, {
            RELAY_TLS_CERT_FILE: pki.serverCertFile,
            RELAY_TLS_KEY_FILE: `${pki.dir}/missing.key`,
          }),
          /RELAY_TLS_KEY_FILE: cannot read .*missing\.key \(ENOENT\)/,
        );
        await assert.rejects(
          startTestRelay(dialect, {
            RELAY_TLS_CERT_FILE: pki.serverCertFile,
            RELAY_TLS_KEY_FILE: `${pki.dir}/one.key`,
          }),
          /RELAY_TLS_\*: the certificate, key or CA cannot be used/,
        );
      });
    });
  });
}
