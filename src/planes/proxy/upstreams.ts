import type { Connection } from '../../core/model.ts';
import { findPreset } from '../../core/presets.ts';
import { addressesAllowed } from '../../core/upstream-url.ts';
import type { Bus } from '../../ports/bus.ts';
import type { Store } from '../../ports/store.ts';
import type { ConnectionService } from '../../services/connections.ts';
import { UpstreamClient, type UpstreamClientOptions } from './http1/client.ts';
import { OAuthTokenSource } from './oauth.ts';
import { safeLookup } from './safe-lookup.ts';

export interface UpstreamOptions {
  readonly allowPrivate: boolean;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  /** Extra trust for upstream certificates (tests); certificates are always verified. */
  readonly tls?: UpstreamClientOptions['tls'];
}

/** Unused upstream connections are closed after this long (sooner if the upstream says so). */
const KEEP_ALIVE_MS = 30_000;
/** Connections per upstream origin; requests beyond wait for one. */
const MAX_CONNECTIONS = 256;

/** A connection ready to forward to: its upstream client, base path and the real key, decrypted once. */
export interface Upstream {
  readonly connection: Connection;
  readonly origin: string;
  /** Base URL path without trailing slash ('' for the root). */
  readonly basePath: string;
  /** Keep-alive connections to the origin (shared by every connection with this origin). */
  readonly client: UpstreamClient;
  /** Headers the connection's preset requires, sent when the caller did not send them. */
  readonly extraHeaders: Readonly<Record<string, string>>;
  /** The secret to inject; for OAuth, the current access token (fetched and refreshed as needed). */
  credential(): Promise<string> | string;
}

/**
 * Connections by workspace and id, with their decrypted keys and a keep-alive
 * pool per origin. Any change to a connection drops its entry through the bus,
 * so a replaced key is used from the next request on.
 */
export class Upstreams {
  readonly #store: Store;
  readonly #connections: ConnectionService;
  readonly #options: UpstreamOptions;
  readonly #entries = new Map<string, Upstream>();
  readonly #clients = new Map<string, UpstreamClient>();
  readonly #loading = new Map<string, Promise<Upstream | undefined>>();
  readonly #unsubscribe: () => void;
  readonly #bus: Pick<Bus, 'healthy'>;
  readonly #unsubscribeHealth: () => void;
  #generation = 0;

  constructor(store: Store, connections: ConnectionService, bus: Bus, options: UpstreamOptions) {
    this.#store = store;
    this.#connections = connections;
    this.#options = options;
    this.#bus = bus;
    // Fail closed: a bus that went down or came back may have missed a change, so drop everything.
    this.#unsubscribeHealth = bus.onHealth(() => {
      this.#generation++;
      this.#entries.clear();
      this.#loading.clear();
    });
    this.#unsubscribe = bus.onInvalidation((m) => {
      this.#generation++;
      if (m.kind === 'connection') this.#entries.delete(`${m.workspaceId}/${m.id}`);
      if (m.kind === 'workspace')
        for (const key of this.#entries.keys())
          if (key.startsWith(`${m.workspaceId}/`)) this.#entries.delete(key);
    });
  }

  /** Nothing while the bus is unhealthy: every request then re-reads its connection (`load`). */
  peek(workspaceId: string, id: string): Upstream | undefined {
    if (!this.#bus.healthy) return undefined;
    return this.#entries.get(`${workspaceId}/${id}`);
  }

  /**
   * Concurrent first requests share one load: one decryption and, for OAuth
   * connections, one token source (so one token fetch).
   */
  load(workspaceId: string, id: string): Promise<Upstream | undefined> {
    // A load already under way may predate a change this node cannot hear about: start a fresh one.
    if (!this.#bus.healthy) return this.#load(workspaceId, id);
    const key = `${workspaceId}/${id}`;
    let pending = this.#loading.get(key);
    if (!pending) {
      pending = this.#load(workspaceId, id).finally(() => this.#loading.delete(key));
      this.#loading.set(key, pending);
    }
    return pending;
  }

  async #load(workspaceId: string, id: string): Promise<Upstream | undefined> {
    const generation = this.#generation;
    const connection = await this.#store.connections.get(workspaceId, id);
    if (!connection) return undefined;
    // With the bus down each request reads the row; an unchanged row keeps its decrypted key and OAuth token.
    const known = this.#entries.get(`${workspaceId}/${id}`);
    if (known !== undefined && JSON.stringify(known.connection) === JSON.stringify(connection)) return known;
    const secret = await this.#connections.revealSecret(connection);
    const url = new URL(connection.baseUrl);
    const origin = url.origin;
    const upstream: Upstream = {
      connection,
      origin,
      basePath: url.pathname.replace(/\/+$/, ''),
      client: this.#client(url),
      extraHeaders:
        (connection.preset === null ? undefined : findPreset(connection.preset))?.extra_headers ?? {},
      credential:
        connection.authType === 'oauth2_client_credentials'
          ? oauthCredential(connection, secret, this.#options)
          : () => secret,
    };
    if (generation === this.#generation) this.#entries.set(`${workspaceId}/${id}`, upstream);
    return upstream;
  }

  #client(url: URL): UpstreamClient {
    const { origin, hostname } = url;
    let client = this.#clients.get(origin);
    if (client) return client;
    const literal = hostname.replace(/^\[|\]$/g, '');
    if (/^[0-9.]+$|:/.test(literal) && !addressesAllowed([literal], this.#options.allowPrivate)) {
      // IP literals skip DNS, so the connect-time lookup cannot catch them: refuse here.
      throw new Error(`upstream ${origin} is a non-public address`);
    }
    client = new UpstreamClient({
      origin: new URL(origin),
      connectTimeoutMs: this.#options.connectTimeoutMs,
      timeoutMs: this.#options.timeoutMs,
      keepAliveMs: KEEP_ALIVE_MS,
      maxConnections: MAX_CONNECTIONS,
      lookup: safeLookup(this.#options.allowPrivate),
      ...(this.#options.tls === undefined ? {} : { tls: this.#options.tls }),
    });
    this.#clients.set(origin, client);
    return client;
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    this.#unsubscribeHealth();
    this.#entries.clear();
    await Promise.all([...this.#clients.values()].map((c) => c.close()));
    this.#clients.clear();
  }
}

function oauthCredential(
  connection: Connection,
  clientSecret: string,
  options: UpstreamOptions,
): () => Promise<string> {
  const source = new OAuthTokenSource({
    tokenUrl: connection.authConfig.token_url as string,
    clientId: connection.authConfig.client_id as string,
    clientSecret,
    scope: connection.authConfig.scope,
    allowPrivate: options.allowPrivate,
    timeoutMs: options.timeoutMs,
  });
  return () => source.token();
}
