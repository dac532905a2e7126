import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openRelay } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { buildManagementApi } from '../../src/planes/management/server.ts';
import type { Resolver } from '../../src/ports/resolver.ts';
import { DIALECTS, freshDatabaseUrl, skipFor, startTestRelay, tempDir } from '../harness.ts';
import { assertProblem, connectionBody } from './helpers.ts';

/**
 * SPEC §4 "Upstream safety": https unless a connection opts into http; private,
 * loopback and link-local upstreams refused unless RELAY_ALLOW_PRIVATE_UPSTREAMS.
 */

/** A DNS table for the resolver port: names not in it do not resolve. */
const DNS: Record<string, readonly string[]> = {
  'rebind.example.com': ['10.0.0.7'],
  'metadata.example.com': ['169.254.169.254'],
  'mixed.example.com': ['93.184.216.34', '127.0.0.1'],
  'ula.example.com': ['fd00::1'],
  'mapped.example.com': ['::ffff:192.168.1.1'],
  'public.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
};
const tableResolver: Resolver = {
  async resolve(hostname) {
    const addresses = DNS[hostname];
    if (addresses === undefined)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses;
  },
};

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    describe('private upstreams refused (RELAY_ALLOW_PRIVATE_UPSTREAMS=false)', async () => {
      const relay = await startTestRelay(dialect, { RELAY_ALLOW_PRIVATE_UPSTREAMS: 'false' });
      const count = async () => (await relay.api('GET', '/api/v1/connections?limit=200')).body.data.length;

      it('an http base URL is refused unless options.allow_insecure_upstream', async () => {
        const refused = await relay.api(
          'POST',
          '/api/v1/connections',
          connectionBody({ base_url: 'http://api.example.com' }),
        );
        assertProblem(refused, 400, 'invalid_base_url');
        assert.match(refused.body.detail, /allow_insecure_upstream/);
        const allowed = await relay.api(
          'POST',
          '/api/v1/connections',
          connectionBody({ base_url: 'http://api.example.com', options: { allow_insecure_upstream: true } }),
        );
        assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
        assert.equal(allowed.body.options.allow_insecure_upstream, true);
      });

      for (const baseUrl of [
        'https://127.0.0.1',
        'https://127.0.0.1:8443/v1',
        'https://10.0.0.1',
        'https://10.255.1.2/api',
        'https://172.16.0.10',
        'https://192.168.1.1',
        'https://169.254.169.254',
        'https://169.254.169.254/latest/meta-data/',
        'https://[::1]',
        'https://[::1]:8443',
        'https://[fe80::1]',
        'https://[::ffff:127.0.0.1]',
        'https://localhost',
        'https://localhost:3000',
        'https://0.0.0.0',
        'https://2130706433',
        'http://127.0.0.1:8080',
      ]) {
        it(`refuses ${baseUrl} with unsafe_upstream`, async () => {
          const before = await count();
          const body = connectionBody({ base_url: baseUrl, options: { allow_insecure_upstream: true } });
          assertProblem(await relay.api('POST', '/api/v1/connections', body), 400, 'unsafe_upstream');
          assert.equal(await count(), before);
        });
      }

      it('refuses an OAuth token_url on a private address', async () => {
        const body = connectionBody({
          auth: {
            type: 'oauth2_client_credentials',
            secret: 'client-secret-value-1234',
            client_id: 'c',
            token_url: 'https://169.254.169.254/token',
          },
        });
        assertProblem(await relay.api('POST', '/api/v1/connections', body), 400, 'unsafe_upstream');
      });

      it('accepts https://api.example.com (a name that does not resolve here is accepted by design)', async () => {
        const res = await relay.api(
          'POST',
          '/api/v1/connections',
          connectionBody({ id: 'conn_public', base_url: 'https://api.example.com' }),
        );
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.equal(res.body.base_url, 'https://api.example.com');
      });

      it('PATCH to a private base URL is refused and changes nothing', async () => {
        const before = await relay.api('GET', '/api/v1/connections/conn_public');
        const res = await relay.api('PATCH', '/api/v1/connections/conn_public', {
          base_url: 'https://10.0.0.1',
        });
        assertProblem(res, 400, 'unsafe_upstream');
        assert.deepEqual((await relay.api('GET', '/api/v1/connections/conn_public')).body, before.body);
      });
    });

    describe('private upstreams allowed (RELAY_ALLOW_PRIVATE_UPSTREAMS=true)', async () => {
      const relay = await startTestRelay(dialect, { RELAY_ALLOW_PRIVATE_UPSTREAMS: 'true' });

      it('accepts loopback and private addresses, still https unless opted out', async () => {
        for (const base of [
          'https://127.0.0.1:9443',
          'https://10.0.0.1',
          'https://localhost',
          'https://[::1]',
        ]) {
          const res = await relay.api('POST', '/api/v1/connections', connectionBody({ base_url: base }));
          assert.equal(res.status, 201, `${base}: ${JSON.stringify(res.body)}`);
        }
        assertProblem(
          await relay.api(
            'POST',
            '/api/v1/connections',
            connectionBody({ base_url: 'http://127.0.0.1:8080' }),
          ),
          400,
          'invalid_base_url',
        );
        const insecure = connectionBody({
          base_url: 'http://127.0.0.1:8080',
          options: { allow_insecure_upstream: true },
        });
        assert.equal((await relay.api('POST', '/api/v1/connections', insecure)).status, 201);
      });
    });

    describe('names that resolve to private addresses (resolver injected)', async () => {
      const dir = tempDir();
      const config = loadConfig({
        RELAY_DATA_DIR: dir,
        RELAY_DATABASE_URL: await freshDatabaseUrl(dialect, dir),
        RELAY_ALLOW_PRIVATE_UPSTREAMS: 'false',
        RELAY_LOG_LEVEL: 'silent',
      });
      const logger = createLogger('silent');
      const { relay, bootstrap } = await openRelay(config, logger, { create: true, resolver: tableResolver });
      const app = buildManagementApi({
        services: relay.services,
        clock: relay.clock,
        logger,
        proxyBaseUrl: 'http://localhost:8080',
        publicApiUrl: 'http://localhost:8081',
        bodyLimit: config.maxRequestBodyBytes,
        version: 'test',
      });
      after(async () => {
        await app.close();
        await relay.close();
      });
      assert.ok(bootstrap);
      const create = (baseUrl: string) =>
        app.inject({
          method: 'POST',
          url: '/api/v1/connections',
          headers: { authorization: `Bearer ${bootstrap.adminToken}` },
          payload: connectionBody({ base_url: baseUrl }),
        });

      for (const host of [
        'rebind.example.com',
        'metadata.example.com',
        'mixed.example.com',
        'ula.example.com',
        'mapped.example.com',
      ]) {
        it(`refuses https://${host} (resolves to ${DNS[host]?.join(', ')})`, async () => {
          const res = await create(`https://${host}/v1`);
          assert.equal(res.statusCode, 400, res.body);
          assert.equal(res.json().code, 'unsafe_upstream');
          assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
        });
      }

      for (const host of ['public.example.com', 'unresolvable.example.com']) {
        it(`accepts https://${host}`, async () => {
          const res = await create(`https://${host}`);
          assert.equal(res.statusCode, 201, res.body);
        });
      }
    });
  });
}
