import { existsSync, mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { KyselyStore } from './adapters/db/kysely-store.ts';
import { openStore } from './adapters/db/open-store.ts';
import {
  generateMasterKey,
  LocalKeyProvider,
  MasterKeyError,
  writeKeyFile,
} from './adapters/local-key/local-key-provider.ts';
import { MemoryBus } from './adapters/memory/memory-bus.ts';
import { MemoryRateLimiter } from './adapters/memory/memory-rate-limiter.ts';
import { systemResolver } from './adapters/memory/system-resolver.ts';
import { openGeoIp } from './adapters/mmdb/mmdb-geo-ip.ts';
import { OutboxMailer } from './adapters/outbox/outbox-mailer.ts';
import { openRedisBus } from './adapters/redis/redis-bus.ts';
import { openRedisRateLimiter } from './adapters/redis/redis-rate-limiter.ts';
import { SmtpMailer } from './adapters/smtp/smtp-mailer.ts';
import { publicUrls, type RelayConfig } from './config.ts';
import { AuditSealer } from './core/audit-seal.ts';
import { type Clock, systemClock } from './core/clock.ts';
import { ipGrouping } from './core/ip-group.ts';
import { Vault } from './core/vault.ts';
import { registerManagementRateLimiter } from './planes/management/rate-limit.ts';
import { BruteForceGuard } from './planes/proxy/brute-force.ts';
import type { Bus } from './ports/bus.ts';
import type { GeoIp } from './ports/geo-ip.ts';
import type { RateLimiter } from './ports/rate-limiter.ts';
import type { Resolver } from './ports/resolver.ts';
import { type BootstrapResult, bootstrapIfEmpty, verifyMasterKey } from './services/bootstrap.ts';
import { buildServices, type Services } from './services/index.ts';
import { IpConfirmationService } from './services/ip-confirmation.ts';
import { RelayMetrics } from './services/metrics.ts';
import { buildSecurityResponse, type SecurityResponse } from './services/security-alerts-plane.ts';
import { SecurityEventService } from './services/security-events.ts';
import { VERSION } from './version.ts';

/**
 * The composition root: every component is built here, from the config, and
 * handed only what it uses. Nothing else constructs adapters.
 */
export interface Relay {
  readonly config: RelayConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly store: KyselyStore;
  readonly keys: LocalKeyProvider;
  readonly vault: Vault;
  readonly bus: Bus;
  readonly services: Services;
  readonly securityEvents: SecurityEventService;
  /** Country lookups for geo rules: the .mmdb file is read on first use (the proxy's start), then kept. */
  readonly geoIp: GeoIp;
  /** Rate-limit buckets and brute-force counters: Redis when RELAY_REDIS_URL is set (shared by every node), else in process. */
  readonly rateLimiter: RateLimiter;
  /**
   * The brute-force throttle (RELAY_BRUTE_FORCE_*), one for both listeners: failed
   * authentication on the proxy and on the management API counts against the same
   * address, and a blocked address is refused on both.
   */
  readonly authGuard: BruteForceGuard;
  /** Every outgoing mail: recorded in the outbox and logged, delivered over SMTP when RELAY_SMTP_URL is set. */
  readonly mailer: OutboxMailer;
  /** New-IP confirmation for human recipients (SPEC §6): trusted networks, pending confirmations, the mail. */
  readonly ipConfirmations: IpConfirmationService;
  /** Reactions to security events (SPEC §8): alerts, auto-lockdown, canaries, leak reports, the events inbox. */
  readonly security: SecurityResponse;
  /** Prometheus metrics (SPEC §12), served at /metrics on the management listener. */
  readonly metrics: RelayMetrics;
  close(): Promise<void>;
}

export class SetupError extends Error {
  override name = 'SetupError';
}

export interface OpenOptions {
  /** Create the data dir, key file, schema and default workspace when absent (`init`, `start`). */
  readonly create: boolean;
  readonly clock?: Clock;
  readonly resolver?: Resolver;
}

/**
 * In-process invalidations on a single node; Redis pub/sub in cluster mode,
 * where a node whose subscriber is down bypasses its caches (see RedisBus).
 */
function openBus(config: RelayConfig, logger: Logger): Bus {
  if (config.redisUrl === '') return new MemoryBus();
  const bus = openRedisBus(config.redisUrl, {
    onError: (error) => logger.warn({ err: { message: error.message } }, 'redis (invalidation bus) error'),
  });
  bus.onHealth((healthy) => {
    if (healthy) logger.info('invalidation bus healthy: caches in use');
    else logger.warn('invalidation bus unhealthy: caches bypassed, every request reads the store');
  });
  return bus;
}

function keyProviderFor(config: RelayConfig, initialised: boolean, create: boolean): LocalKeyProvider {
  if (config.masterKey !== '' || existsSync(config.masterKeyFile)) return LocalKeyProvider.fromConfig(config);
  if (initialised) {
    throw new MasterKeyError(
      `master key file ${config.masterKeyFile} not found, and this database already holds data sealed with a master key. ` +
        'Restore the key file from backup or set RELAY_MASTER_KEY; nothing was changed.',
    );
  }
  if (!create) throw new SetupError(`no Relay install at ${config.dataDir}: run "relay init" first`);
  writeKeyFile(config.masterKeyFile, [generateMasterKey()]);
  return LocalKeyProvider.fromConfig(config);
}

/**
 * Opens an install: checks the master key against the database before touching
 * anything, then migrates and (when `create`) bootstraps. A wrong or missing key
 * stops here with a clear message and changes nothing.
 */
export async function openRelay(
  config: RelayConfig,
  logger: Logger,
  options: OpenOptions,
): Promise<{ relay: Relay; bootstrap: BootstrapResult | undefined }> {
  if (!existsSync(config.dataDir)) {
    if (!options.create)
      throw new SetupError(`no Relay install at ${config.dataDir}: run "relay init" first`);
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  }
  const store = openStore(config.databaseUrl, config.dataDir);
  try {
    const initialised = await store.isInitialised();
    if (!initialised && !options.create)
      throw new SetupError('the database is empty: run "relay init" first');
    const keys = keyProviderFor(config, initialised, options.create);
    const vault = new Vault(keys);
    // Audit records' sensitive fields are opened on read with the same key provider.
    store.useAuditSealer(new AuditSealer(vault, options.clock ?? systemClock));
    if (initialised) await verifyMasterKey(store, vault);
    const { applied } = await store.migrate();
    if (applied.length > 0) logger.info({ applied }, 'database migrated');
    const clock = options.clock ?? systemClock;
    const bootstrap = options.create ? await bootstrapIfEmpty(store, vault, clock) : undefined;
    const bus = openBus(config, logger);
    const services = buildServices({
      store,
      vault,
      clock,
      bus,
      resolver: options.resolver ?? systemResolver,
      allowPrivateUpstreams: config.allowPrivateUpstreams,
    });
    const rateLimiter: RateLimiter =
      config.redisUrl === ''
        ? new MemoryRateLimiter()
        : openRedisRateLimiter(config.redisUrl, {
            onError: (error) => logger.warn({ err: { message: error.message } }, 'redis (rate limits) error'),
          });
    registerManagementRateLimiter(services, rateLimiter);
    const securityEvents = new SecurityEventService(store, clock, logger);
    const mailer = new OutboxMailer({
      outbox: store.outbox,
      clock,
      logger,
      ...(config.smtpUrl === ''
        ? {}
        : { transport: new SmtpMailer({ url: config.smtpUrl, from: config.smtpFrom }) }),
    });
    const ipConfirmations = new IpConfirmationService({
      store,
      clock,
      bus,
      logger,
      mailer,
      securityEvents,
      grouping: ipGrouping({
        ipv6Prefix: config.ipv6GroupPrefix,
        sharedEgressRanges: config.sharedEgressRanges,
      }),
      ttlHours: config.ipConfirmationTtlHours,
      cacheTtlMs: config.credentialCacheTtlMs,
      publicApiUrl: publicUrls(config).publicApiUrl,
    });
    const security = buildSecurityResponse({
      store,
      clock,
      bus,
      logger,
      mailer,
      resolver: options.resolver ?? systemResolver,
      limiter: rateLimiter,
      securityEvents,
      allowPrivate: config.allowPrivateUpstreams,
      leakReportKeysFile: config.leakReportKeysFile,
      userAgent: `Relay/${VERSION}`,
    });
    const metrics = new RelayMetrics({ securityEvents });
    let geoIp: GeoIp | undefined;
    // Made on first use (a listener's start): with Redis it subscribes to every node's
    // blocks, which a CLI command opening the Relay has no use for.
    let authGuard: BruteForceGuard | undefined;
    const relay: Relay = {
      get geoIp() {
        geoIp ??= openGeoIp(config.geoipDb);
        return geoIp;
      },
      get authGuard() {
        authGuard ??= new BruteForceGuard({
          limiter: rateLimiter,
          clock,
          logger,
          raise: (event) => securityEvents.raise(event),
          maxFailures: config.bruteForceMaxFailures,
          windowSeconds: config.bruteForceWindowSeconds,
          blockSeconds: config.bruteForceBlockSeconds,
        });
        return authGuard;
      },
      config,
      logger,
      clock,
      store,
      keys,
      vault,
      bus,
      services,
      securityEvents,
      rateLimiter,
      mailer,
      ipConfirmations,
      security,
      metrics,
      async close() {
        // Mail and security events still being sent are written before the store closes.
        await ipConfirmations.drain();
        ipConfirmations.close();
        await security.close();
        metrics.close();
        await mailer.close();
        authGuard?.close();
        await rateLimiter.close();
        await bus.close();
        await store.close();
      },
    };
    return { relay, bootstrap };
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
}

/** The default workspace (the first one created), for operator commands run on the server. */
export async function defaultWorkspaceId(relay: Relay): Promise<string> {
  const [first] = await relay.store.workspaces.list();
  if (!first) throw new SetupError('no workspace exists: run "relay init" first');
  return first.id;
}
