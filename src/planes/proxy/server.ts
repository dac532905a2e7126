import { createServer, type Server } from 'node:http';
import type { Relay } from '../../app.ts';
import type { AuditSink } from '../../ports/audit-sink.ts';
import { WorkerAuditWriter } from '../../services/worker-audit-writer.ts';
import { AuthCache } from './auth-cache.ts';
import { createPipeline } from './pipeline.ts';
import { credentialIpAllowlist } from './policies/ip-allowlist.ts';
import { noAuthFailureGuard } from './policy.ts';
import { Upstreams } from './upstreams.ts';

export interface ProxyPlane {
  readonly server: Server;
  readonly audit: AuditSink;
  /** Stops accepting, lets in-flight requests finish, then flushes every audit record. */
  close(): Promise<void>;
}

/** In-flight requests get this long to finish on shutdown before their sockets are closed. */
const DRAIN_MS = 10_000;

export function buildProxy(relay: Relay): ProxyPlane {
  const { config, store, bus, clock, logger, services } = relay;
  const audit = new WorkerAuditWriter(
    {
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      intervalMs: config.auditFlushMs,
      batchSize: config.auditBatchSize,
    },
    logger,
  );
  const auth = new AuthCache(store, bus, clock, config.credentialCacheTtlMs);
  const upstreams = new Upstreams(store, services.connections, bus, {
    allowPrivate: config.allowPrivateUpstreams,
    connectTimeoutMs: config.upstreamConnectTimeoutMs,
    timeoutMs: config.upstreamTimeoutMs,
  });
  const handler = createPipeline({
    auth,
    upstreams,
    audit,
    clock,
    logger,
    forwarded: config.forwardedHeaders,
    authGuard: noAuthFailureGuard,
    policies: [credentialIpAllowlist],
    maxAuditBacklog: config.auditMaxBacklog,
  });
  const server = createServer(
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
      })();
      return closing;
    },
  };
}
