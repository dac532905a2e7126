import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { msSince } from './elapsed.ts';
import { connectionListed, HOP_BY_HOP } from './hop-by-hop.ts';
import type { UpstreamClient, UpstreamController, UpstreamHandler } from './http1/client.ts';
import type { ProxyResponse } from './http1/response.ts';
import type { ResponseHeaders } from './http1/response-head.ts';

/** How one forwarded exchange ended, for its audit record. */
export type ExchangeOutcome =
  /** The client has the whole response. */
  | { readonly kind: 'delivered'; readonly status: number }
  /** No response reached the client: the upstream failed, or the client left first. */
  | { readonly kind: 'no_response'; readonly error: Error; readonly clientClosed: boolean }
  /** The response started but was cut short (upstream error or client gone). */
  | {
      readonly kind: 'cut_short';
      readonly status: number;
      readonly error: Error;
      readonly clientClosed: boolean;
    }
  /** Relay itself failed (e.g. headers it cannot write); the caller answers 500. */
  | { readonly kind: 'internal'; readonly error: Error };

export interface ExchangeRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body: Readable | Buffer | null;
}

/** What the exchange reports as it goes: bytes to the client, time to the upstream's headers. */
interface ExchangeMeter {
  bytesOut: number;
  upstreamMs: number | null;
}

/**
 * Upstream response headers minus hop-by-hop fields and those its `Connection` names
 * (RFC 9110 §7.6.1), and minus `Relay-Decision`, which only Relay may set: an upstream
 * must not be able to pose as a Relay refusal.
 */
function responseHeaders(raw: ResponseHeaders): Record<string, string | string[]> {
  const drop = connectionListed(raw.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in raw) {
    const value = raw[name];
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'relay-decision') continue;
    if (drop.has(name)) continue;
    out[name] = value;
  }
  return out;
}

class ClientClosed extends Error {
  constructor() {
    super('client closed the connection');
  }
}

/**
 * One request sent upstream through the upstream's client (http1/client.ts) and its answer written
 * straight to the client's response, chunk by chunk, with backpressure (a slow
 * client pauses the upstream read). No Readable, no pipe, no AbortController:
 * on the proxy's hot path those cost more than the forwarding itself.
 *
 * A body of known length leaves with its last chunk (`end(chunk)`); a body of
 * unknown length (server-sent events, chunked downloads) shows its headers at
 * once. A client that goes away cancels the upstream request.
 */
class Exchange implements UpstreamHandler {
  readonly #res: ProxyResponse;
  readonly #meter: ExchangeMeter;
  readonly #done: (outcome: ExchangeOutcome) => void;
  readonly #started = performance.now();
  #controller: UpstreamController | undefined;
  #status = 0;
  #remaining = -1;
  #ended = false;
  #settled = false;
  #clientClosed = false;

  constructor(res: ProxyResponse, meter: ExchangeMeter, done: (outcome: ExchangeOutcome) => void) {
    this.#res = res;
    this.#meter = meter;
    this.#done = done;
    res.onClose(this.#onClose);
  }

  #settle(outcome: ExchangeOutcome): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#res.onClose(null);
    this.#res.onDrain(null);
    this.#done(outcome);
  }

  readonly #onClose = (): void => {
    if (this.#res.writableFinished) return;
    this.#clientClosed = true;
    const error = new ClientClosed();
    if (this.#controller !== undefined) this.#controller.abort(error);
    this.#fail(error);
  };

  readonly #onDrain = (): void => this.#controller?.resume();

  readonly #onFinished = (error?: Error | null): void => {
    if (error) this.#fail(error);
    else this.#settle({ kind: 'delivered', status: this.#status });
  };

  #fail(error: Error): void {
    if (this.#settled) return;
    const clientClosed = this.#clientClosed || error instanceof ClientClosed;
    if (this.#status === 0) {
      if (this.#meter.upstreamMs === null) this.#meter.upstreamMs = msSince(this.#started);
      this.#settle({ kind: 'no_response', error, clientClosed });
      return;
    }
    this.#res.destroy();
    this.#settle({ kind: 'cut_short', status: this.#status, error, clientClosed });
  }

  onRequestStart(controller: UpstreamController): void {
    this.#controller = controller;
    // The client left while the request waited for a connection.
    if (this.#clientClosed) controller.abort(new ClientClosed());
  }

  onResponseStart(controller: UpstreamController, statusCode: number, headers: ResponseHeaders): void {
    this.#meter.upstreamMs = msSince(this.#started);
    const res = this.#res;
    try {
      res.writeHead(statusCode, responseHeaders(headers));
    } catch (error) {
      // An upstream header Node will not write: Relay cannot relay this answer.
      this.#settle({ kind: 'internal', error: error as Error });
      controller.abort(error as Error);
      return;
    }
    this.#status = statusCode;
    const length = headers['content-length'];
    if (typeof length === 'string') this.#remaining = Number(length);
    else res.flushHeaders();
  }

  onResponseData(controller: UpstreamController, chunk: Buffer): void {
    if (this.#settled) return;
    this.#meter.bytesOut += chunk.length;
    const res = this.#res;
    if (this.#remaining > 0) {
      this.#remaining -= chunk.length;
      if (this.#remaining === 0) {
        this.#ended = true;
        res.end(chunk, this.#onFinished);
        return;
      }
    }
    if (!res.write(chunk)) {
      controller.pause();
      res.onDrain(this.#onDrain);
    }
  }

  onResponseEnd(): void {
    if (this.#settled || this.#ended) return;
    this.#ended = true;
    this.#res.end(undefined, this.#onFinished);
  }

  onResponseError(_controller: UpstreamController, error: Error): void {
    this.#fail(error);
  }
}

/** Sends `request` through `client` and relays the answer to `res`; `done` is told once it is over. */
export function exchange(
  client: UpstreamClient,
  request: ExchangeRequest,
  res: ProxyResponse,
  meter: ExchangeMeter,
  done: (outcome: ExchangeOutcome) => void,
): void {
  client.dispatch(request, new Exchange(res, meter, done));
}
