import { availableParallelism } from 'node:os';
import type { Relay } from '../../app.ts';
import type { AuditSink } from '../../ports/audit-sink.ts';
import { WorkerAuditWriter, writerNice } from '../../services/worker-audit-writer.ts';
import { TrustedProxies } from '../client-ip.ts';
import { createListener, type Listener, tlsOptions } from '../tls.ts';
import { AuthCache } from './auth-cache.ts';
import { createPipeline } from './pipeline.ts';
import { clientCertificate } from './policies/client-cert.ts';
import { geoRules } from './policies/geo.ts';
import { credentialIpAllowlist } from './policies/ip-allowlist.ts';
import { workspaceLockdown } from './policies/lockdown.ts';
import { newIpConfirmation } from './policies/new-ip.ts';
import { rateLimitPolicy } from './policies/rate-limit.ts';
import { workspaceIpAllowlist } from './policies/workspace-ip.ts';
import { ScopeBurstDetector } from './scope-bursts.ts';
import { Upstreams } from './upstreams.ts';
import { WorkspaceSettingsCache } from './workspace-settings.ts';

export interface ProxyPlane {
  /** node:http, or node:https when RELAY_TLS_CERT_FILE/KEY_FILE are set. */
  readonly server: Listener;
  readonly audit: AuditSink;
  /** Stops accepting, lets in-flight requests finish, then flushes every audit record. */
  close(): Promise<void>;
}

/** In-flight requests get this long to finish on shutdown before their sockets are closed. */
const DRAIN_MS = 10_000;

export function buildProxy(relay: Relay): ProxyPlane {
  const { config, store, bus, clock, logger, services } = relay;
  // Read before anything that holds resources: a bad TLS file, proxy list or geo database stops start-up here.
  const tls = tlsOptions(config);
  const trustedProxies = new TrustedProxies(config.trustedProxies);
  const geoIp = relay.geoIp;
  const audit = new WorkerAuditWriter(
    {
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      masterKey: config.masterKey,
      masterKeyFile: config.masterKeyFile,
      intervalMs: config.auditFlushMs,
      batchSize: config.auditBatchSize,
      nice: writerNice(config.auditWorkerNice, availableParallelism()),
    },
    logger,
  );
  const auth = new AuthCache(store, bus, clock, config.credentialCacheTtlMs);
  const upstreams = new Upstreams(store, services.connections, bus, {
    allowPrivate: config.allowPrivateUpstreams,
    connectTimeoutMs: config.upstreamConnectTimeoutMs,
    timeoutMs: config.upstreamTimeoutMs,
  });
  const workspaceSettings = new WorkspaceSettingsCache(
    store.workspaces,
    bus,
    clock,
    config.credentialCacheTtlMs,
  );
  const handler = createPipeline({
    auth,
    upstreams,
    audit,
    clock,
    logger,
    forwarded: config.forwardedHeaders,
    maxScannedBodyBytes: config.scanMaxBodyBytes,
    scopeBursts: new ScopeBurstDetector(relay.securityEvents, clock),
    authGuard: relay.authGuard,
    policies: [
      // Lockdown first (SPEC §4 step 3): a locked workspace is refused whatever else would apply.
      workspaceLockdown(workspaceSettings),
      workspaceIpAllowlist(workspaceSettings),
      geoRules({ settings: workspaceSettings, geoIp, unknown: config.geoipUnknown }),
      clientCertificate,
      credentialIpAllowlist,
      newIpConfirmation(relay.ipConfirmations),
      rateLimitPolicy({ limiter: relay.rateLimiter, settings: workspaceSettings, logger }),
    ],
    maxAuditBacklog: config.auditMaxBacklog,
    trustedProxies,
    canary: relay.security.canaries.hook,
  });
  const server = createListener(
    tls,
    { keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 30_000 },
    handler,
  );
  let closing: Promise<void> | undefined;
  return {
    server,
    audit,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => server.closeAllConnections(), DRAIN_MS);
          force.unref();
          // A keep-alive connection busy at shutdown turns idle once its response is sent:
          // keep closing idle ones so the server ends as soon as the last response is out.
          const sweep = setInterval(() => server.closeIdleConnections(), 50);
          sweep.unref();
          server.close(() => {
            clearTimeout(force);
            clearInterval(sweep);
            resolve();
          });
          server.closeIdleConnections();
        });
        await audit.close();
        await upstreams.close();
        auth.close();
        workspaceSettings.close();
      })();
      return closing;
    },
  };
}
