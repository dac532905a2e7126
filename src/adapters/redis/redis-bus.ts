import { Redis } from 'ioredis';
import { type Bus, INVALIDATION_KINDS, type Invalidation } from '../../ports/bus.ts';

/** The subset of an ioredis client the bus uses. */
type Client = Pick<
  Redis,
  'publish' | 'subscribe' | 'ping' | 'connect' | 'quit' | 'disconnect' | 'status' | 'on'
>;

export const INVALIDATION_CHANNEL = 'relay:invalidate';

export interface RedisBusOptions {
  /** Pub/sub channel (default `relay:invalidate`); every node of a cluster must use the same. */
  readonly channel?: string;
  /**
   * The subscriber is pinged this often; no answer within one more period counts
   * as a lost connection (a silent network partition sends no FIN). Default 1000.
   */
  readonly heartbeatMs?: number;
  /**
   * How long `publishInvalidation` waits for Redis before it returns anyway
   * (default 1000). The message stays queued and goes out on reconnect.
   */
  readonly publishTimeoutMs?: number;
  /** Told of connection errors, once per distinct error while it lasts (ioredis keeps reconnecting). */
  readonly onError?: (error: Error) => void;
}

const KINDS = new Set<string>(INVALIDATION_KINDS);

/** A message from the channel, or undefined when it is not one of ours. */
export function parseInvalidation(text: string): Invalidation | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { kind, workspaceId, id } = value as Record<string, unknown>;
  if (typeof kind !== 'string' || !KINDS.has(kind)) return undefined;
  if (typeof workspaceId !== 'string' || typeof id !== 'string') return undefined;
  return { kind: kind as Invalidation['kind'], workspaceId, id };
}

/**
 * The cluster bus: invalidations go out on one Redis pub/sub channel as JSON.
 * A node runs its own handlers first, synchronously (as MemoryBus does, so the
 * node that made a change never serves the old copy), then publishes; it also
 * receives its own message back and applies it again, which is harmless.
 *
 * Pub/sub is at-most-once: a node whose subscriber is down misses messages.
 * So the bus is `healthy` only while the subscriber is connected and subscribed;
 * losing it flips health at once (caches stop serving), and after a reconnect
 * health returns only once the channel is subscribed again, at which point
 * consumers drop everything (what was published meanwhile is lost).
 */
export class RedisBus implements Bus {
  readonly #publisher: Client;
  readonly #subscriber: Client;
  readonly #channel: string;
  readonly #publishTimeoutMs: number;
  readonly #onError: (error: Error) => void;
  readonly #handlers = new Set<(message: Invalidation) => void>();
  readonly #healthHandlers = new Set<(healthy: boolean) => void>();
  readonly #heartbeat: NodeJS.Timeout;
  #healthy = false;
  #closed = false;
  /** Bumped each time the subscriber's connection closes: a reply from an older connection is ignored. */
  #epoch = 0;
  #pingPending = false;
  #lastError = '';

  /** Takes ownership of both clients (the subscriber must be a connection of its own): `close()` ends them. */
  constructor(publisher: Client, subscriber: Client, options: RedisBusOptions = {}) {
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#channel = options.channel ?? INVALIDATION_CHANNEL;
    this.#publishTimeoutMs = options.publishTimeoutMs ?? 1000;
    this.#onError = options.onError ?? (() => {});
    publisher.on('error', (error: Error) => this.#report(error));
    subscriber.on('error', (error: Error) => this.#report(error));
    subscriber.on('ready', () => this.#subscribe());
    subscriber.on('close', () => this.#lost());
    subscriber.on('end', () => this.#lost());
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.#channel || this.#closed) return;
      const message = parseInvalidation(text);
      if (message === undefined) {
        this.#report(new Error(`ignored a malformed message on ${channel}`));
        return;
      }
      this.#deliver(message);
    });
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatMs ?? 1000);
    this.#heartbeat.unref();
    if (subscriber.status === 'ready') this.#subscribe();
    else if (subscriber.status === 'wait') subscriber.connect().catch(() => {}); // retried by ioredis
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  async publishInvalidation(message: Invalidation): Promise<void> {
    if (this.#closed) return;
    this.#deliver(message);
    const sent = this.#publisher.publish(
      this.#channel,
      JSON.stringify({ kind: message.kind, workspaceId: message.workspaceId, id: message.id }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#publishTimeoutMs);
    });
    try {
      const outcome = await Promise.race([sent, timeout]);
      if (outcome === 'timeout')
        this.#report(new Error('invalidation not yet published: Redis did not answer (it stays queued)'));
    } catch (error) {
      this.#report(error as Error);
    } finally {
      clearTimeout(timer);
    }
  }

  onInvalidation(handler: (message: Invalidation) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  onHealth(handler: (healthy: boolean) => void): () => void {
    this.#healthHandlers.add(handler);
    return () => this.#healthHandlers.delete(handler);
  }

  /** Resolves once the bus is healthy (start-up, tests); rejects after `timeoutMs`. */
  ready(timeoutMs = 5000): Promise<void> {
    if (this.#healthy) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`the Redis bus did not become healthy within ${timeoutMs} ms`));
      }, timeoutMs);
      const stop = this.onHealth((healthy) => {
        if (!healthy) return;
        clearTimeout(timer);
        stop();
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#handlers.clear();
    this.#setHealthy(false);
    this.#healthHandlers.clear();
    await Promise.all([quit(this.#subscriber), quit(this.#publisher)]);
  }

  /** One failing consumer must not keep the others from dropping their copy. */
  #deliver(message: Invalidation): void {
    for (const handler of this.#handlers) {
      try {
        handler(message);
      } catch (error) {
        this.#report(error as Error);
      }
    }
  }

  #subscribe(): void {
    if (this.#closed) return;
    const epoch = this.#epoch;
    this.#subscriber.subscribe(this.#channel).then(
      () => {
        if (epoch !== this.#epoch || this.#closed || this.#subscriber.status !== 'ready') return;
        this.#pingPending = false;
        this.#lastError = '';
        this.#setHealthy(true);
      },
      (error: Error) => {
        // The connection went away meanwhile (`close` follows), or Redis refused: try again on the next one.
        this.#report(error);
        if (epoch === this.#epoch && !this.#closed) this.#subscriber.disconnect(true);
      },
    );
  }

  #lost(): void {
    this.#epoch++;
    this.#pingPending = false;
    this.#setHealthy(false);
  }

  /** A ping still unanswered a whole period later means the connection is gone, whatever TCP says. */
  #beat(): void {
    if (!this.#healthy || this.#closed) return;
    if (this.#pingPending) {
      // Decide after this turn's I/O: a loop that was busy may have the answer waiting unread.
      const epoch = this.#epoch;
      setImmediate(() => {
        if (!this.#pingPending || epoch !== this.#epoch || this.#closed) return;
        this.#report(new Error('Redis did not answer the bus heartbeat: reconnecting'));
        this.#lost();
        this.#subscriber.disconnect(true);
      });
      return;
    }
    this.#pingPending = true;
    const epoch = this.#epoch;
    this.#subscriber.ping().then(
      () => {
        if (epoch === this.#epoch) this.#pingPending = false;
      },
      () => {},
    );
  }

  #setHealthy(healthy: boolean): void {
    if (this.#healthy === healthy) return;
    this.#healthy = healthy;
    for (const handler of this.#healthHandlers) {
      try {
        handler(healthy);
      } catch (error) {
        this.#report(error as Error);
      }
    }
  }

  #report(error: Error): void {
    const text = String(error.message);
    if (text === this.#lastError) return;
    this.#lastError = text;
    this.#onError(error);
  }
}

async function quit(client: Client): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  await client.quit().catch(() => client.disconnect());
}

/**
 * A bus on two connections to `url`: a publisher whose messages wait for a
 * reconnect rather than fail (a late invalidation is still useful), and a
 * subscriber that reconnects quickly and re-subscribes itself.
 */
export function openRedisBus(url: string, options: RedisBusOptions = {}): RedisBus {
  const retryStrategy = (times: number) => Math.min(times * 50, 500);
  const publisher = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectTimeout: 2000,
    retryStrategy,
  });
  const subscriber = new Redis(url, {
    lazyConnect: true,
    autoResubscribe: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy,
  });
  return new RedisBus(publisher, subscriber, options);
}
