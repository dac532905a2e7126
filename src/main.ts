import { writeFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openRelay, type Relay } from './app.ts';
import { publicUrls, type RelayConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { TrustedProxies } from './planes/client-ip.ts';
import { buildManagementApi } from './planes/management/server.ts';
import { buildProxy, type ProxyPlane } from './planes/proxy/server.ts';
import { AuditRetentionJob } from './services/audit-retention.ts';
import type { BootstrapResult } from './services/bootstrap.ts';
import { VERSION } from './version.ts';

export interface RunningRelay {
  readonly relay: Relay;
  readonly ports: { readonly proxy?: number; readonly api?: number };
  readonly bootstrap: BootstrapResult | undefined;
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Starts the enabled listeners on an opened install; `close()` drains them and flushes the audit queue. */
export async function startRelay(
  config: RelayConfig,
  logger = createLogger(config.logLevel),
): Promise<RunningRelay> {
  const { relay, bootstrap } = await openRelay(config, logger, { create: true });
  let api: FastifyInstance | undefined;
  let proxy: ProxyPlane | undefined;
  const ports: { proxy?: number; api?: number } = {};
  try {
    if (config.proxyEnabled) {
      proxy = buildProxy(relay);
      relay.metrics.watchProxy(proxy.audit);
      ports.proxy = await listen(proxy.server, config.proxyPort, config.host);
    }
    if (config.apiEnabled) {
      // The API port is only known after listen(0); share links read publicApiUrl lazily.
      const urls = { proxyBaseUrl: '', publicApiUrl: '' };
      const apiContext = {
        services: relay.services,
        clock: relay.clock,
        logger,
        get proxyBaseUrl() {
          return urls.proxyBaseUrl;
        },
        get publicApiUrl() {
          return urls.publicApiUrl;
        },
        bodyLimit: config.maxRequestBodyBytes,
        version: VERSION,
        ipConfirmations: relay.ipConfirmations,
        security: relay.security,
        metrics: { registry: relay.metrics, token: config.metricsToken },
        // Read by the authentication hook (auth.ts) so token IP rules see the same client as the proxy.
        trustedProxies: new TrustedProxies(config.trustedProxies),
        // Failed logins on either listener count against the same address.
        authGuard: relay.authGuard,
      };
      api = buildManagementApi(apiContext);
      await api.listen({ port: config.apiPort, host: config.apiHost });
      ports.api = (api.server.address() as AddressInfo).port;
      Object.assign(urls, publicUrls(config, ports));
      // Confirm links in new-IP mails point at this listener.
      relay.ipConfirmations.setPublicApiUrl(urls.publicApiUrl);
    }
  } catch (error) {
    await proxy?.close();
    await api?.close();
    await relay.close();
    throw error;
  }
  writeFileSync(join(config.dataDir, 'ports.json'), `${JSON.stringify(ports)}\n`, { mode: 0o600 });
  logger.info(
    {
      ports,
      proxy_host: config.host,
      api_host: config.apiHost,
      store: relay.store.dialect,
      // The launchers run Node with --single-threaded-gc (docs/performance.md).
      gc: process.execArgv.includes('--single-threaded-gc') ? 'single-threaded' : 'parallel',
      version: VERSION,
    },
    'relay started',
  );
  // Hourly: audit records past their workspace's retention are pruned (the chain stays verifiable).
  const auditRetention = new AuditRetentionJob({ store: relay.store, clock: relay.clock, logger });
  let closing: Promise<void> | undefined;
  return {
    relay,
    ports,
    bootstrap,
    close() {
      closing ??= (async () => {
        // Stop taking requests, let in-flight ones finish, then flush every pending audit record.
        await Promise.all([proxy?.close(), api?.close()]);
        await auditRetention.stop();
        await relay.close();
        logger.info('relay stopped');
      })();
      return closing;
    },
  };
}

/** Runs until SIGINT/SIGTERM, then shuts down gracefully. */
export async function runUntilSignalled(running: RunningRelay): Promise<void> {
  const { logger } = running.relay;
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      const force = setTimeout(() => {
        logger.error('graceful shutdown took too long; exiting');
        process.exit(1);
      }, 30_000);
      force.unref();
      running.close().then(resolve, (error: unknown) => {
        logger.error({ err: error }, 'error during shutdown');
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
