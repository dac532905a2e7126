import type { Server } from 'node:net';
import { availableParallelism } from 'node:os';
import type { Relay } from '../../app.ts';
import type { AuditSink } from '../../ports/audit-sink.ts';
import { WorkerAuditWriter, writerNice } from '../../services/worker-audit-writer.ts';
import { TrustedProxies } from '../client-ip.ts';
import { tlsOptions } from '../tls.ts';
import { AuthCache } from './auth-cache.ts';
import { Http1Server } from './http1/server.ts';
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
  /** The proxy's HTTP/1.1 listener (http1/server.ts), over TLS when RELAY_TLS_CERT_FILE/KEY_FILE are set. */
  readonly server: Server;
  readonly audit: AuditSink;
  /** Stops accepting, lets in-flight requests finish, then flushes every audit record. */
  close(): Promise<void>;
}

/** In-flight requests get this long to finish on shutdown before their sockets are closed. */
const DRAIN_MS = 10_000;
/** Header fields per request (Node's parser allows 2,000; no API call needs a fraction of that). */
const MAX_HEADER_FIELDS = 256;
/** Body bytes read and dropped after an early answer (a refusal) to keep the connection. */
const DISCARD_LIMIT_BYTES = 64 * 1024;

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
  const http1 = new Http1Server(
    {
      tls,
      limits: { maxBytes: config.proxyMaxHeaderBytes, maxFields: MAX_HEADER_FIELDS },
      headersTimeoutMs: config.proxyHeadersTimeoutMs,
      keepAliveTimeoutMs: config.proxyKeepAliveTimeoutMs,
      discardLimitBytes: DISCARD_LIMIT_BYTES,
    },
    handler,
  );
  const { server } = http1;
  let closing: Promise<void> | undefined;
  return {
    server,
    audit,
    close() {
      closing ??= (async () => {
        await http1.close(DRAIN_MS);
        await audit.close();
        await upstreams.close();
        auth.close();
        workspaceSettings.close();
      })();
      return closing;
    },
  };
}
