import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Every setting Relay reads, in one schema: its environment variable, type,
 * default and one line of documentation. `docs/configuration.md` is generated
 * from this table (`relay config docs`) and a test fails when the two drift.
 *
 * Sources, later wins: defaults < config file (`RELAY_CONFIG_FILE`, JSON keyed by
 * variable name) < environment. Parsed once, frozen.
 */

type SettingType = 'string' | 'port' | 'boolean' | 'integer' | 'list' | 'enum';

interface Setting {
  readonly env: string;
  readonly type: SettingType;
  readonly default: string;
  readonly doc: string;
  readonly values?: readonly string[];
  /** Integers only: the largest value accepted. */
  readonly max?: number;
  /** Secret values are never printed by `relay doctor` or logged. */
  readonly secret?: boolean;
}

export const SETTINGS = [
  {
    env: 'RELAY_DATA_DIR',
    type: 'string',
    default: './relay-data',
    doc: 'Directory for the SQLite database, the master key file and `ports.json`. Created with mode 0700.',
  },
  {
    env: 'RELAY_CONFIG_FILE',
    type: 'string',
    default: '',
    doc: 'Optional JSON file of settings keyed by variable name; environment variables override it.',
  },
  {
    env: 'RELAY_DATABASE_URL',
    type: 'string',
    default: '',
    doc: 'Empty: embedded SQLite at `<data dir>/relay.db`. `sqlite:<path>` for another file, `postgres://…` for PostgreSQL (cluster mode).',
    secret: true,
  },
  {
    env: 'RELAY_MASTER_KEY',
    type: 'string',
    default: '',
    doc: 'Key-encryption key: base64 or hex of 32 bytes; several comma-separated, the first is used for new data. When empty, the key file is used.',
    secret: true,
  },
  {
    env: 'RELAY_MASTER_KEY_FILE',
    type: 'string',
    default: '',
    doc: 'Key file (mode 0600, one `<kid> <base64 key>` per line, first is primary). Default `<data dir>/master.key`; `relay init` creates it.',
  },
  { env: 'RELAY_HOST', type: 'string', default: '0.0.0.0', doc: 'Address the proxy listener binds to.' },
  {
    env: 'RELAY_API_HOST',
    type: 'string',
    default: '127.0.0.1',
    doc: 'Address the management API listener binds to (loopback by default).',
  },
  {
    env: 'RELAY_PROXY_PORT',
    type: 'port',
    default: '8080',
    doc: 'Proxy listener port; 0 picks a free port (written to `ports.json`).',
  },
  {
    env: 'RELAY_API_PORT',
    type: 'port',
    default: '8081',
    doc: 'Management API listener port; 0 picks a free port.',
  },
  { env: 'RELAY_PROXY_ENABLED', type: 'boolean', default: 'true', doc: 'Serve the key proxy.' },
  { env: 'RELAY_API_ENABLED', type: 'boolean', default: 'true', doc: 'Serve the management API.' },
  {
    env: 'RELAY_PUBLIC_PROXY_URL',
    type: 'string',
    default: '',
    doc: 'Base URL callers use to reach the proxy (shown in agent prompts and the README walk-through). Default `http://localhost:<proxy port>`.',
  },
  {
    env: 'RELAY_PUBLIC_API_URL',
    type: 'string',
    default: '',
    doc: 'Base URL people use to reach the management listener (share links point here). Default `http://localhost:<api port>`.',
  },
  {
    env: 'RELAY_ALLOW_PRIVATE_UPSTREAMS',
    type: 'boolean',
    default: 'false',
    doc: 'Allow connections to loopback, private and link-local upstream addresses (local development, tests). Off: no SSRF through Relay.',
  },
  {
    env: 'RELAY_UPSTREAM_CONNECT_TIMEOUT_MS',
    type: 'integer',
    default: '10000',
    doc: 'Time allowed to open a connection to an upstream before answering 502.',
  },
  {
    env: 'RELAY_UPSTREAM_TIMEOUT_MS',
    type: 'integer',
    default: '60000',
    doc: 'Time allowed for upstream response headers, and between body chunks, before answering 504.',
  },
  {
    env: 'RELAY_PROXY_MAX_HEADER_BYTES',
    type: 'integer',
    default: '16384',
    doc: "Largest request head (request line and header fields) the proxy reads; larger ones get 431 `headers_too_large` (Node's own default limit).",
  },
  {
    env: 'RELAY_PROXY_HEADERS_TIMEOUT_MS',
    type: 'integer',
    default: '30000',
    doc: 'Time a client has to send a whole request head (from connecting, or from the first byte of a request on a kept-alive connection); then 408 and the connection is closed.',
  },
  {
    env: 'RELAY_PROXY_KEEP_ALIVE_TIMEOUT_MS',
    type: 'integer',
    default: '65000',
    doc: 'Idle time after which a kept-alive client connection of the proxy is closed; announced to clients as `Keep-Alive: timeout=<seconds>`.',
  },
  {
    env: 'RELAY_FORWARDED_HEADERS',
    type: 'enum',
    default: 'off',
    values: ['off', 'set'],
    doc: 'off: strip X-Forwarded-*/Forwarded from proxied requests (the upstream learns nothing of the caller). set: send X-Forwarded-For/-Proto/-Host with the client as Relay saw it.',
  },
  {
    env: 'RELAY_CREDENTIAL_CACHE_TTL_MS',
    type: 'integer',
    default: '30000',
    doc: "Longest time a credential stays in the proxy's memory cache; every change also drops it at once.",
  },
  {
    env: 'RELAY_AUDIT_FLUSH_MS',
    type: 'integer',
    default: '20',
    doc: 'Longest time an audit record waits in memory before its batch is written. Shorter keeps each burst of the writer thread short (lower tail latency); longer costs the writer less CPU, since each commit has a fixed cost (about 0.5-1 ms on SQLite) whatever its size.',
  },
  {
    env: 'RELAY_AUDIT_BATCH_SIZE',
    type: 'integer',
    default: '500',
    doc: 'Audit records written per batch (a full batch is written at once).',
  },
  {
    env: 'RELAY_AUDIT_MAX_BACKLOG',
    type: 'integer',
    default: '100000',
    doc: 'Unwritten audit records above which the proxy answers 503 rather than forward a request it cannot audit.',
  },
  {
    env: 'RELAY_AUDIT_WORKER_NICE',
    type: 'integer',
    default: '10',
    max: 19,
    doc: "Linux only: nice value (0-19) of the thread that writes audit batches, so that under CPU contention it yields to the threads answering requests instead of stalling them. 0 keeps the process's priority. Not applied on a host with a single CPU, where the writer must share the only core with the request path to keep up (above RELAY_AUDIT_MAX_BACKLOG the proxy refuses requests).",
  },
  {
    env: 'RELAY_MAX_REQUEST_BODY_BYTES',
    type: 'integer',
    default: '1048576',
    doc: 'Largest JSON body the management API accepts.',
  },
  {
    env: 'RELAY_LOG_LEVEL',
    type: 'enum',
    default: 'info',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    doc: 'Log level of the JSON log (stdout).',
  },
  {
    env: 'RELAY_SCAN_MAX_BODY_BYTES',
    type: 'integer',
    default: '10485760',
    doc: 'Largest request body a connection with secret_scanning `reject` accepts (it is held until scanned, so nothing reaches the upstream before the verdict); larger bodies get 413. warn and redact stream with bounded memory and have no limit.',
  },
  {
    env: 'RELAY_REDIS_URL',
    type: 'string',
    default: '',
    doc: 'Redis for shared state (cluster mode): cache invalidation between nodes (a revocation reaches every node at once; while Redis is unreachable, nodes bypass their caches and read the store), rate limits, brute-force counters. Empty: in-process state (single node).',
    secret: true,
  },
  {
    env: 'RELAY_TRUSTED_PROXIES',
    type: 'list',
    default: '',
    doc: 'Comma-separated CIDRs of reverse proxies in front of Relay. Only from these is X-Forwarded-For walked (from the right) and X-Client-Cert-Fingerprint believed; otherwise the socket address is the client.',
  },
  {
    env: 'RELAY_SMTP_URL',
    type: 'string',
    default: '',
    doc: 'SMTP server for mail (new-IP confirmations, alerts), e.g. `smtp://user:pass@mail.example:587` or `smtps://…`. Empty: mail goes to the outbox (`relay outbox`, `GET /api/v1/outbox`) and the log.',
    secret: true,
  },
  {
    env: 'RELAY_SMTP_FROM',
    type: 'string',
    default: 'Relay <relay@localhost>',
    doc: "Sender address of Relay's mail.",
  },
  {
    env: 'RELAY_IP_CONFIRMATION_TTL_HOURS',
    type: 'integer',
    default: '24',
    doc: 'How long a new-IP confirmation link stays valid.',
  },
  {
    env: 'RELAY_IPV6_GROUP_PREFIX',
    type: 'integer',
    default: '64',
    doc: 'IPv6 addresses are trusted by this prefix length (a /64 is one network), so privacy addresses do not each need confirming.',
  },
  {
    env: 'RELAY_SHARED_EGRESS_RANGES',
    type: 'list',
    default: '',
    doc: 'Comma-separated CIDRs that count as one network for new-IP confirmation (e.g. a corporate NAT pool or VPN egress range).',
  },
  {
    env: 'RELAY_GEOIP_DB',
    type: 'string',
    default: '',
    doc: 'Country database (.mmdb, MaxMind format) for geo rules. Empty: the DB-IP Lite country database shipped with Relay (CC BY 4.0, db-ip.com). Point it at e.g. GeoLite2-Country.mmdb.',
  },
  {
    env: 'RELAY_GEOIP_UNKNOWN',
    type: 'enum',
    default: 'deny',
    values: ['deny', 'allow'],
    doc: 'When a geo rule applies and the client address has no known country (private addresses, gaps in the database): deny (safe default) or allow.',
  },
  {
    env: 'RELAY_TLS_CERT_FILE',
    type: 'string',
    default: '',
    doc: 'PEM certificate chain: when set with RELAY_TLS_KEY_FILE, the proxy listener speaks HTTPS itself.',
  },
  {
    env: 'RELAY_TLS_KEY_FILE',
    type: 'string',
    default: '',
    doc: 'PEM private key for RELAY_TLS_CERT_FILE.',
  },
  {
    env: 'RELAY_TLS_CLIENT_CA_FILE',
    type: 'string',
    default: '',
    doc: 'PEM CA bundle: when set, the proxy asks clients for a certificate signed by it (mTLS); credentials with mtls_required then need one whose SHA-256 fingerprint they list.',
  },
  {
    env: 'RELAY_BRUTE_FORCE_MAX_FAILURES',
    type: 'integer',
    default: '20',
    doc: 'Authentication failures from one IP within RELAY_BRUTE_FORCE_WINDOW_SECONDS that raise a security event and block that IP. Failures on the proxy and on the management API count together; 0 turns the throttle off.',
  },
  {
    env: 'RELAY_BRUTE_FORCE_WINDOW_SECONDS',
    type: 'integer',
    default: '60',
    doc: 'Window over which authentication failures per IP are counted.',
  },
  {
    env: 'RELAY_BRUTE_FORCE_BLOCK_SECONDS',
    type: 'integer',
    default: '300',
    doc: 'How long an IP that crossed the failure threshold is refused (429) before any credential or token check, on the proxy and on the management API (its public health checks excepted).',
  },
  {
    env: 'RELAY_LEAK_REPORT_KEYS_FILE',
    type: 'string',
    default: '',
    doc: 'Verification keys for `POST /api/v1/leak-reports/github` (GitHub secret-scanning partner program): a JSON file in the format GitHub serves at `https://api.github.com/meta/public_keys/secret_scanning` (`public_keys`: `key_identifier`, `key`, `is_current`). Re-read when it changes; never fetched by Relay. Empty: leak reports are refused (503).',
  },
  {
    env: 'RELAY_METRICS_TOKEN',
    type: 'string',
    default: '',
    doc: 'Bearer token a Prometheus scraper may present to `GET /metrics` on the management listener. Empty: `/metrics` needs an admin or viewer management token like any read route.',
    secret: true,
  },
  {
    env: 'RELAY_REQUIRE_POSTGRES',
    type: 'boolean',
    default: 'false',
    doc: 'Tests only: fail, instead of skipping with a notice, when PostgreSQL or Redis cannot be reached. CI sets it.',
  },
] as const satisfies readonly Setting[];

export type SettingName = (typeof SETTINGS)[number]['env'];

export interface RelayConfig {
  readonly dataDir: string;
  readonly databaseUrl: string;
  readonly masterKey: string;
  readonly masterKeyFile: string;
  readonly host: string;
  readonly apiHost: string;
  readonly proxyPort: number;
  readonly apiPort: number;
  readonly proxyEnabled: boolean;
  readonly apiEnabled: boolean;
  readonly publicProxyUrl: string;
  readonly publicApiUrl: string;
  readonly allowPrivateUpstreams: boolean;
  readonly upstreamConnectTimeoutMs: number;
  readonly upstreamTimeoutMs: number;
  readonly proxyMaxHeaderBytes: number;
  readonly proxyHeadersTimeoutMs: number;
  readonly proxyKeepAliveTimeoutMs: number;
  readonly maxRequestBodyBytes: number;
  readonly forwardedHeaders: 'off' | 'set';
  readonly credentialCacheTtlMs: number;
  readonly auditFlushMs: number;
  readonly auditBatchSize: number;
  readonly auditWorkerNice: number;
  readonly auditMaxBacklog: number;
  readonly logLevel: string;
  readonly scanMaxBodyBytes: number;
  readonly redisUrl: string;
  readonly trustedProxies: readonly string[];
  readonly smtpUrl: string;
  readonly smtpFrom: string;
  readonly ipConfirmationTtlHours: number;
  readonly ipv6GroupPrefix: number;
  readonly sharedEgressRanges: readonly string[];
  readonly geoipDb: string;
  readonly geoipUnknown: 'deny' | 'allow';
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly tlsClientCaFile: string;
  readonly bruteForceMaxFailures: number;
  readonly bruteForceWindowSeconds: number;
  readonly bruteForceBlockSeconds: number;
  readonly leakReportKeysFile: string;
  readonly metricsToken: string;
}

function listOf(text: string): readonly string[] {
  return Object.freeze(
    text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

function readConfigFile(path: string): Record<string, string> {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read RELAY_CONFIG_FILE ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(`RELAY_CONFIG_FILE ${path} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`RELAY_CONFIG_FILE ${path} must hold a JSON object keyed by setting name`);
  }
  const known = new Set<string>(SETTINGS.map((s) => s.env));
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!known.has(key)) throw new ConfigError(`RELAY_CONFIG_FILE ${path}: unknown setting ${key}`);
    out[key] = String(value);
  }
  return out;
}

function coerce(setting: Setting, raw: string): string | number | boolean {
  switch (setting.type) {
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off', ''].includes(v)) return false;
      throw new ConfigError(`${setting.env} must be true or false, got "${raw}"`);
    }
    case 'port': {
      if (!/^\d+$/.test(raw.trim()))
        throw new ConfigError(`${setting.env} must be a port 0-65535, got "${raw}"`);
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0 || n > 65535)
        throw new ConfigError(`${setting.env} must be a port 0-65535, got "${raw}"`);
      return n;
    }
    case 'integer': {
      if (!/^\d+$/.test(raw.trim()))
        throw new ConfigError(`${setting.env} must be a non-negative integer, got "${raw}"`);
      const n = Number(raw);
      if (!Number.isSafeInteger(n) || n < 0)
        throw new ConfigError(`${setting.env} must be a non-negative integer, got "${raw}"`);
      if (setting.max !== undefined && n > setting.max)
        throw new ConfigError(`${setting.env} must be an integer 0-${setting.max}, got "${raw}"`);
      return n;
    }
    case 'list':
      return raw;
    case 'enum':
      if (!setting.values?.includes(raw)) {
        throw new ConfigError(`${setting.env} must be one of ${setting.values?.join(', ')}, got "${raw}"`);
      }
      return raw;
    default:
      return raw;
  }
}

/** Reads every setting from the environment (and the optional config file), validates, freezes. */
export function loadConfig(env: Env = process.env): RelayConfig {
  const fileName = env.RELAY_CONFIG_FILE ?? '';
  const fromFile = fileName === '' ? {} : readConfigFile(fileName);
  const value = (name: SettingName): string | number | boolean => {
    const setting = SETTINGS.find((s) => s.env === name) as Setting;
    const raw = env[name] ?? fromFile[name] ?? setting.default;
    return coerce(setting, raw);
  };
  const dataDir = resolve(String(value('RELAY_DATA_DIR')));
  const proxyPort = value('RELAY_PROXY_PORT') as number;
  const keyFile = String(value('RELAY_MASTER_KEY_FILE'));
  return Object.freeze({
    dataDir,
    databaseUrl: String(value('RELAY_DATABASE_URL')),
    masterKey: String(value('RELAY_MASTER_KEY')),
    masterKeyFile: keyFile === '' ? resolve(dataDir, 'master.key') : resolve(keyFile),
    host: String(value('RELAY_HOST')),
    apiHost: String(value('RELAY_API_HOST')),
    proxyPort,
    apiPort: value('RELAY_API_PORT') as number,
    proxyEnabled: value('RELAY_PROXY_ENABLED') as boolean,
    apiEnabled: value('RELAY_API_ENABLED') as boolean,
    publicProxyUrl: String(value('RELAY_PUBLIC_PROXY_URL')),
    publicApiUrl: String(value('RELAY_PUBLIC_API_URL')),
    allowPrivateUpstreams: value('RELAY_ALLOW_PRIVATE_UPSTREAMS') as boolean,
    upstreamConnectTimeoutMs: value('RELAY_UPSTREAM_CONNECT_TIMEOUT_MS') as number,
    upstreamTimeoutMs: value('RELAY_UPSTREAM_TIMEOUT_MS') as number,
    proxyMaxHeaderBytes: value('RELAY_PROXY_MAX_HEADER_BYTES') as number,
    proxyHeadersTimeoutMs: value('RELAY_PROXY_HEADERS_TIMEOUT_MS') as number,
    proxyKeepAliveTimeoutMs: value('RELAY_PROXY_KEEP_ALIVE_TIMEOUT_MS') as number,
    maxRequestBodyBytes: value('RELAY_MAX_REQUEST_BODY_BYTES') as number,
    forwardedHeaders: value('RELAY_FORWARDED_HEADERS') as 'off' | 'set',
    credentialCacheTtlMs: value('RELAY_CREDENTIAL_CACHE_TTL_MS') as number,
    auditFlushMs: value('RELAY_AUDIT_FLUSH_MS') as number,
    auditBatchSize: Math.max(1, value('RELAY_AUDIT_BATCH_SIZE') as number),
    auditMaxBacklog: value('RELAY_AUDIT_MAX_BACKLOG') as number,
    auditWorkerNice: value('RELAY_AUDIT_WORKER_NICE') as number,
    logLevel: String(value('RELAY_LOG_LEVEL')),
    scanMaxBodyBytes: value('RELAY_SCAN_MAX_BODY_BYTES') as number,
    redisUrl: String(value('RELAY_REDIS_URL')),
    trustedProxies: listOf(String(value('RELAY_TRUSTED_PROXIES'))),
    smtpUrl: String(value('RELAY_SMTP_URL')),
    smtpFrom: String(value('RELAY_SMTP_FROM')),
    ipConfirmationTtlHours: value('RELAY_IP_CONFIRMATION_TTL_HOURS') as number,
    ipv6GroupPrefix: value('RELAY_IPV6_GROUP_PREFIX') as number,
    sharedEgressRanges: listOf(String(value('RELAY_SHARED_EGRESS_RANGES'))),
    geoipDb: String(value('RELAY_GEOIP_DB')),
    geoipUnknown: value('RELAY_GEOIP_UNKNOWN') as 'deny' | 'allow',
    tlsCertFile: String(value('RELAY_TLS_CERT_FILE')),
    tlsKeyFile: String(value('RELAY_TLS_KEY_FILE')),
    tlsClientCaFile: String(value('RELAY_TLS_CLIENT_CA_FILE')),
    bruteForceMaxFailures: value('RELAY_BRUTE_FORCE_MAX_FAILURES') as number,
    bruteForceWindowSeconds: value('RELAY_BRUTE_FORCE_WINDOW_SECONDS') as number,
    bruteForceBlockSeconds: value('RELAY_BRUTE_FORCE_BLOCK_SECONDS') as number,
    leakReportKeysFile: String(value('RELAY_LEAK_REPORT_KEYS_FILE')),
    metricsToken: String(value('RELAY_METRICS_TOKEN')),
  });
}

/** Where callers reach the proxy and the API: the configured public URLs, else localhost on the (actual) ports. */
export function publicUrls(
  config: RelayConfig,
  ports: { readonly proxy?: number; readonly api?: number } = {},
): { readonly proxyBaseUrl: string; readonly publicApiUrl: string } {
  return {
    proxyBaseUrl:
      config.publicProxyUrl ||
      `${config.tlsCertFile === '' ? 'http' : 'https'}://localhost:${ports.proxy ?? config.proxyPort}`,
    publicApiUrl: config.publicApiUrl || `http://localhost:${ports.api ?? config.apiPort}`,
  };
}

/** The Markdown page `docs/configuration.md`, generated from SETTINGS. */
export function configurationDoc(): string {
  const rows = SETTINGS.map((s: Setting) => {
    const def = s.default === '' ? '(empty)' : `\`${s.default}\``;
    const values = s.values ? ` One of: ${s.values.map((v) => `\`${v}\``).join(', ')}.` : '';
    return `| \`${s.env}\` | ${s.type} | ${def} | ${s.doc}${values} |`;
  });
  return [
    '# Configuration',
    '',
    'Relay reads its settings from environment variables, optionally from a JSON file named by',
    '`RELAY_CONFIG_FILE` (keyed by variable name; the environment wins). Every setting, with its',
    'default, is listed here. This page is generated from `src/config.ts` by',
    '`relay config docs > docs/configuration.md`; a test fails when the two drift.',
    '',
    '| variable | type | default | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
