import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { type ConnectionSettings, Http1Connection, type Http1Handlers } from './connection.ts';
import { SweptSet } from './swept-set.ts';

export interface Http1ServerOptions extends ConnectionSettings {
  /** TLS settings when Relay terminates TLS itself (see planes/tls.ts). */
  readonly tls?: TlsOptions | undefined;
}

/** How often idle, slow and lingering connections are looked at. */
const SWEEP_MS = 1000;

/**
 * The proxy's HTTP/1.1 listener: a plain TCP (or TLS) server whose connections
 * parse requests themselves (request-head.ts, chunked.ts) and write responses
 * straight to their sockets (response.ts). It does what the proxy needs and
 * nothing else, which costs a fraction of node:http's per-request work.
 */
export class Http1Server {
  readonly server: Server;
  readonly #options: Http1ServerOptions;
  readonly #handlers: Http1Handlers;
  readonly #connections = new SweptSet<Http1Connection>(SWEEP_MS);
  #closing: Promise<void> | undefined;

  constructor(options: Http1ServerOptions, handlers: Http1Handlers) {
    this.#options = options;
    this.#handlers = handlers;
    const accept = (socket: Socket): void => this.#accept(socket);
    this.server =
      options.tls === undefined
        ? createNetServer({ allowHalfOpen: true, noDelay: true }, accept)
        : createTlsServer({ ...options.tls, allowHalfOpen: true }, accept);
  }

  /** Open connections (for tests and metrics). */
  get connections(): number {
    return this.#connections.size;
  }

  #accept(socket: Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    this.#connections.add(new Http1Connection(socket, this.#options, this.#handlers, this.#gone));
  }

  readonly #gone = (connection: Http1Connection): void => this.#connections.delete(connection);

  /**
   * Stops accepting, closes idle connections at once, lets busy ones finish their
   * current response (announced `connection: close`), and destroys whatever is
   * left after `drainMs`. Resolves when every connection is gone.
   */
  close(drainMs: number): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        for (const connection of this.#connections.list()) connection.socket.destroy();
      }, drainMs);
      force.unref();
      this.server.close(() => {
        clearTimeout(force);
        resolve();
      });
      for (const connection of this.#connections.list()) connection.shutdown();
    });
    return this.#closing;
  }
}
