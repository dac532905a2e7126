import { type LookupFunction, connect as netConnect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { fieldLines } from './chars.ts';
import { ChunkedDecoder, LAST_CHUNK, writeChunk } from './chunked.ts';
import { parseResponseHead, type ResponseHead, type ResponseHeaders } from './response-head.ts';
import { SweptSet } from './swept-set.ts';

/**
 * The proxy's client to one upstream origin: keep-alive connections (net or TLS)
 * that write each request's head and body themselves and read the response
 * (response-head.ts, chunked.ts), handing it on as it arrives. It replaces an
 * undici Pool on the hot path with the same handler shape (`onResponseStart`,
 * `onResponseData`, …) and a fraction of its per-request work.
 *
 * - Timeouts (connect, response head, gap between body chunks) are checked by a
 *   sweep, not a timer per request.
 * - A kept-alive connection that the upstream closed just before it was reused
 *   fails with nothing read; an idempotent request without a streamed body is
 *   then sent once more on a new connection, anything else fails (502).
 * - `Keep-Alive: timeout=N` from the upstream retires a connection a second early.
 */

export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: Readable | Buffer | null;
}

export interface UpstreamController {
  /** Cancels the request: the connection is closed, and the handler told `onResponseError`. */
  abort(reason: Error): void;
  pause(): void;
  resume(): void;
}

export interface UpstreamHandler {
  onRequestStart(controller: UpstreamController): void;
  onResponseStart(controller: UpstreamController, status: number, headers: ResponseHeaders): void;
  onResponseData(controller: UpstreamController, chunk: Buffer): void;
  onResponseEnd(controller: UpstreamController): void;
  onResponseError(controller: UpstreamController, error: Error): void;
}

/** A failure of the upstream exchange, with a code the pipeline maps to 502 or 504. */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export const UPSTREAM_TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UPSTREAM_CONNECT_TIMEOUT',
  'UPSTREAM_HEADERS_TIMEOUT',
  'UPSTREAM_BODY_TIMEOUT',
]);

export interface UpstreamClientOptions {
  readonly origin: URL;
  readonly connectTimeoutMs: number;
  /** From the request sent to the response head, and between response body chunks. */
  readonly timeoutMs: number;
  /** How long an unused connection is kept. */
  readonly keepAliveMs: number;
  readonly maxConnections: number;
  /** Resolves the host for each new connection (the SSRF check at connect time). */
  readonly lookup: LookupFunction;
  /** Extra TLS settings (tests add a CA); certificates are always verified. */
  readonly tls?: Pick<ConnectionOptions, 'ca'>;
}

const MAX_RESPONSE_HEAD = 64 * 1024;
const CHUNKED_LIMITS = { maxLineBytes: 4096, maxTrailerBytes: 64 * 1024 };
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const METHODS_WITH_BODY: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);
/** Headers the client writes itself. */
const CLIENT_OWNED: ReadonlySet<string> = new Set(['host', 'connection', 'transfer-encoding', 'keep-alive']);

const invalidField = (part: 'name' | 'value', name: string): Error =>
  new UpstreamError(
    'UPSTREAM_BAD_REQUEST',
    part === 'name' ? `invalid header name ${name}` : `invalid value for ${name}`,
  );

/** Writes the request head; throws UpstreamError on a header that cannot be sent as is. */
function requestHead(request: UpstreamRequest, host: string, framing: string): string {
  let head = `${request.method} ${request.path} HTTP/1.1\r\nhost: ${host}\r\n`;
  const { headers } = request;
  for (const name in headers) {
    if (CLIENT_OWNED.has(name) || (framing !== '' && name === 'content-length')) continue;
    head += fieldLines(name, headers[name] as string | readonly string[], invalidField);
  }
  return `${head}${framing}\r\n`;
}

/** One exchange: the request, its handler, and where it stands. */
class Call implements UpstreamController {
  readonly request: UpstreamRequest;
  readonly handler: UpstreamHandler;
  conn: UpstreamConnection | null = null;
  responded = false;
  done = false;
  retried = false;

  constructor(request: UpstreamRequest, handler: UpstreamHandler) {
    this.request = request;
    this.handler = handler;
  }

  abort(reason: Error): void {
    if (this.done) return;
    this.done = true;
    const conn = this.conn;
    this.conn = null;
    conn?.discard();
    this.handler.onResponseError(this, reason);
  }

  pause(): void {
    this.conn?.pauseReading();
  }

  resume(): void {
    this.conn?.resumeReading();
  }

  /** Sent again after a stale connection failed it: only what can be sent twice safely. */
  get retryable(): boolean {
    const { body, method } = this.request;
    return (
      !this.retried && !this.responded && IDEMPOTENT.has(method) && (body === null || Buffer.isBuffer(body))
    );
  }

  fail(error: Error): void {
    if (this.done) return;
    this.done = true;
    this.conn = null;
    this.handler.onResponseError(this, error);
  }
}

const CONNECTING = 0;
const IDLE = 1;
const WAITING_HEAD = 2;
const READING_BODY = 3;
const CLOSED = 4;
type ConnState = typeof CONNECTING | typeof IDLE | typeof WAITING_HEAD | typeof READING_BODY | typeof CLOSED;

class UpstreamConnection {
  readonly socket: Socket;
  readonly #client: UpstreamClient;
  state: ConnState = CONNECTING;
  #connected = false;
  #call: Call | null = null;
  #head: ResponseHead | null = null;
  #buf: Buffer | null = null;
  #decoder: ChunkedDecoder | null = null;
  #remaining = 0;
  #untilClose = false;
  #requestSent = false;
  #served = 0;
  /** When the current wait (connect, head, body gap, idle) runs out. */
  deadline: number;
  expiresAt = Number.POSITIVE_INFINITY;
  #detachBody: (() => void) | null = null;

  constructor(
    client: UpstreamClient,
    socket: Socket,
    secure: boolean,
    now: number,
    connectTimeoutMs: number,
  ) {
    this.#client = client;
    this.socket = socket;
    this.deadline = now + connectTimeoutMs;
    socket.setNoDelay(true);
    socket.on(secure ? 'secureConnect' : 'connect', () => {
      this.#connected = true;
      if (this.state === CONNECTING) {
        this.state = this.#call === null ? IDLE : WAITING_HEAD;
        this.#waitForHead(Date.now());
      }
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (error: Error) => this.#onClose(error));
    socket.on('close', () => this.#onClose(undefined));
  }

  get reused(): boolean {
    return this.#served > 0;
  }

  /** The response head is awaited from the moment the whole request is sent. */
  #waitForHead(now: number): void {
    if (this.state === WAITING_HEAD) {
      this.deadline = this.#requestSent ? now + this.#client.timeoutMs : Number.POSITIVE_INFINITY;
    }
  }

  /** The client is slow: the upstream waits, and its silence is not held against it. */
  pauseReading(): void {
    this.socket.pause();
    if (this.state === READING_BODY) this.deadline = Number.POSITIVE_INFINITY;
  }

  resumeReading(): void {
    this.socket.resume();
    if (this.state === READING_BODY) this.deadline = Date.now() + this.#client.timeoutMs;
  }

  #sent(): void {
    this.#requestSent = true;
    this.#waitForHead(Date.now());
  }

  /** Starts `call` on this connection. */
  send(call: Call, now: number): void {
    this.#call = call;
    call.conn = this;
    this.#head = null;
    this.#requestSent = false;
    if (this.#connected) {
      this.state = WAITING_HEAD;
      this.#waitForHead(now);
    }
    call.handler.onRequestStart(call);
    if (call.done) return;
    try {
      this.#writeRequest(call);
    } catch (error) {
      this.discard();
      call.fail(error as Error);
    }
  }

  #writeRequest(call: Call): void {
    const { request } = call;
    const socket = this.socket;
    const host = this.#client.hostHeader;
    const body = request.body;
    if (body === null) {
      const framing =
        METHODS_WITH_BODY.has(request.method) && request.headers['content-length'] === undefined
          ? 'content-length: 0\r\n'
          : '';
      socket.write(requestHead(request, host, framing), 'latin1');
      this.#sent();
      return;
    }
    if (Buffer.isBuffer(body)) {
      socket.cork();
      socket.write(requestHead(request, host, `content-length: ${body.length}\r\n`), 'latin1');
      socket.write(body);
      socket.uncork();
      this.#sent();
      return;
    }
    const declared = request.headers['content-length'];
    const length = typeof declared === 'string' ? Number(declared) : -1;
    socket.write(
      requestHead(
        request,
        host,
        length >= 0 ? `content-length: ${length}\r\n` : 'transfer-encoding: chunked\r\n',
      ),
      'latin1',
    );
    this.#streamBody(call, body, length);
  }

  #streamBody(call: Call, body: Readable, length: number): void {
    const socket = this.socket;
    let sent = 0;
    const onData = (chunk: Buffer): void => {
      sent += chunk.length;
      if (length >= 0 && sent > length) {
        call.abort(new UpstreamError('UPSTREAM_BAD_REQUEST', 'request body longer than its content-length'));
        return;
      }
      const ok = length >= 0 ? socket.write(chunk) : writeChunk(socket, chunk);
      if (!ok) body.pause();
    };
    const onDrain = (): void => {
      body.resume();
    };
    const onEnd = (): void => {
      detach();
      if (length >= 0 && sent !== length) {
        call.abort(new UpstreamError('UPSTREAM_BAD_REQUEST', 'request body shorter than its content-length'));
        return;
      }
      if (length < 0) socket.write(LAST_CHUNK, 'latin1');
      this.#sent();
    };
    const onError = (error: Error): void => {
      detach();
      call.abort(error);
    };
    const detach = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      socket.off('drain', onDrain);
      this.#detachBody = null;
    };
    this.#detachBody = detach;
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    socket.on('drain', onDrain);
  }

  #onData(chunk: Buffer): void {
    const call = this.#call;
    if (call === null || this.state === IDLE || this.state === CLOSED) {
      // Bytes nobody asked for: this connection can no longer be trusted to be in step.
      this.discard();
      return;
    }
    this.deadline = Date.now() + this.#client.timeoutMs;
    if (this.state === READING_BODY) {
      this.#body(call, chunk, 0);
      return;
    }
    this.#buf = this.#buf === null ? chunk : Buffer.concat([this.#buf, chunk]);
    let at = 0;
    for (;;) {
      const buf = this.#buf;
      const parsed = parseResponseHead(buf, at, MAX_RESPONSE_HEAD);
      if (parsed === null) {
        if (at > 0) this.#buf = buf.subarray(at);
        return;
      }
      if (parsed.kind === 'error') {
        this.#buf = null;
        this.discard();
        call.fail(
          new UpstreamError(
            'UPSTREAM_BAD_RESPONSE',
            `the upstream's answer could not be read: ${parsed.detail}`,
          ),
        );
        return;
      }
      at += parsed.size;
      if (parsed.status === 101) {
        this.discard();
        call.fail(new UpstreamError('UPSTREAM_BAD_RESPONSE', 'the upstream switched protocols'));
        return;
      }
      // Interim answers (100 Continue, 103 Early Hints) are not relayed.
      if (parsed.status < 200) continue;
      this.#buf = null;
      this.#startBody(call, parsed, buf, at);
      return;
    }
  }

  #startBody(call: Call, head: ResponseHead, buf: Buffer, at: number): void {
    this.#head = head;
    call.responded = true;
    const noBody = call.request.method === 'HEAD' || head.status === 204 || head.status === 304;
    this.#decoder = null;
    this.#untilClose = false;
    this.#remaining = 0;
    if (!noBody) {
      if (head.chunked) this.#decoder = new ChunkedDecoder(CHUNKED_LIMITS);
      else if (head.contentLength >= 0) this.#remaining = head.contentLength;
      else this.#untilClose = true;
    }
    this.state = READING_BODY;
    call.handler.onResponseStart(call, head.status, head.headers);
    if (call.done || this.#call !== call) return;
    if (noBody || (this.#decoder === null && !this.#untilClose && this.#remaining === 0)) {
      if (at < buf.length) this.#poisoned();
      this.#complete(call);
      return;
    }
    if (at < buf.length) this.#body(call, buf, at);
  }

  readonly #emit = (data: Buffer): void => {
    const call = this.#call;
    if (call !== null && !call.done) call.handler.onResponseData(call, data);
  };

  #body(call: Call, buf: Buffer, at: number): void {
    if (this.#untilClose) {
      this.#emit(at === 0 ? buf : buf.subarray(at));
      return;
    }
    const decoder = this.#decoder;
    if (decoder !== null) {
      let end: number;
      try {
        end = decoder.push(buf, at, this.#emit);
      } catch (error) {
        this.discard();
        call.fail(
          new UpstreamError('UPSTREAM_BAD_RESPONSE', `malformed chunked answer: ${(error as Error).message}`),
        );
        return;
      }
      if (!decoder.done || call.done) return;
      if (end < buf.length) this.#poisoned();
      this.#complete(call);
      return;
    }
    const available = buf.length - at;
    const take = Math.min(this.#remaining, available);
    this.#emit(at === 0 && take === buf.length ? buf : buf.subarray(at, at + take));
    this.#remaining -= take;
    if (call.done || this.#remaining > 0) return;
    if (take < available) this.#poisoned();
    this.#complete(call);
  }

  /** More bytes than the answer declared: the connection is out of step and not reused. */
  #poisoned(): void {
    if (this.#head !== null) this.#head = { ...this.#head, keepAlive: false };
  }

  #complete(call: Call): void {
    const head = this.#head as ResponseHead;
    this.#call = null;
    call.conn = null;
    call.done = true;
    this.#served++;
    const reusable = head.keepAlive && this.#requestSent && !this.#untilClose && this.state !== CLOSED;
    if (!reusable) this.discard();
    else {
      const hint = head.keepAliveTimeoutMs;
      const keep =
        hint === undefined ? this.#client.keepAliveMs : Math.min(this.#client.keepAliveMs, hint - 1000);
      this.expiresAt = Date.now() + keep;
      this.state = IDLE;
      this.deadline = this.expiresAt;
      // The client may have held the answer back (paused) as it ended: the next request must be read.
      this.socket.resume();
    }
    // The answer came before the whole request was sent: stop sending it.
    this.#detachBody?.();
    call.handler.onResponseEnd(call);
    if (reusable && this.state === IDLE) this.#client.release(this);
  }

  #onEnd(): void {
    // An answer without a length ends here; its connection is never reused (#complete discards it).
    if (this.#untilClose && this.#call !== null && this.state === READING_BODY) {
      this.#complete(this.#call);
      return;
    }
    this.socket.destroy();
  }

  #onClose(error: Error | undefined): void {
    if (this.state === CLOSED) return;
    const wasConnected = this.#connected;
    this.state = CLOSED;
    this.#detachBody?.();
    this.#client.forget(this);
    const call = this.#call;
    this.#call = null;
    if (call === null || call.done) return;
    call.conn = null;
    // A reused connection the upstream had closed: nothing was read, so try once more.
    if (this.reused && !call.responded && call.retryable) {
      call.retried = true;
      this.#client.start(call);
      return;
    }
    if (error === undefined) {
      error = new UpstreamError(
        wasConnected ? 'UPSTREAM_CLOSED' : 'UPSTREAM_CONNECT_FAILED',
        call.responded
          ? 'the upstream closed the connection mid-answer'
          : 'the upstream closed the connection',
      );
    }
    call.fail(error);
  }

  /** Closes the connection for good (errors that follow are this side's doing). */
  discard(): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    this.#detachBody?.();
    this.#call = null;
    this.#client.forget(this);
    this.socket.destroy();
  }

  /** Called by the client's sweep. */
  sweep(now: number): void {
    if (now < this.deadline) return;
    const call = this.#call;
    if (this.state === IDLE) {
      this.discard();
      return;
    }
    if (call === null) {
      this.discard();
      return;
    }
    const code =
      this.state === CONNECTING
        ? 'UPSTREAM_CONNECT_TIMEOUT'
        : this.state === WAITING_HEAD
          ? 'UPSTREAM_HEADERS_TIMEOUT'
          : 'UPSTREAM_BODY_TIMEOUT';
    this.discard();
    call.fail(new UpstreamError(code, 'the upstream did not answer in time'));
  }
}

export class UpstreamClient {
  readonly #options: UpstreamClientOptions;
  readonly hostHeader: string;
  readonly timeoutMs: number;
  readonly keepAliveMs: number;
  readonly #idle: UpstreamConnection[] = [];
  readonly #all: SweptSet<UpstreamConnection>;
  readonly #queue: Call[] = [];
  #closed = false;

  constructor(options: UpstreamClientOptions) {
    this.#options = options;
    const { origin } = options;
    this.hostHeader = origin.host;
    this.timeoutMs = options.timeoutMs;
    this.keepAliveMs = options.keepAliveMs;
    this.#all = new SweptSet(Math.min(1000, Math.max(50, options.timeoutMs / 4)));
  }

  /** Sends `request`; the handler hears of its answer, or of why there is none. */
  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void {
    this.start(new Call(request, handler));
  }

  start(call: Call): void {
    if (this.#closed) {
      call.fail(new UpstreamError('UPSTREAM_CLOSED', 'the upstream client is closed'));
      return;
    }
    const now = Date.now();
    let conn = this.#idle.pop();
    while (conn !== undefined && (conn.state !== IDLE || conn.expiresAt <= now)) {
      conn.discard();
      conn = this.#idle.pop();
    }
    if (conn === undefined) {
      if (this.#all.size >= this.#options.maxConnections) {
        this.#queue.push(call);
        return;
      }
      conn = this.#connect(now);
    }
    conn.send(call, now);
  }

  #connect(now: number): UpstreamConnection {
    const { origin, lookup, connectTimeoutMs } = this.#options;
    const host = origin.hostname.replace(/^\[|\]$/g, '');
    const port = Number(origin.port) || (origin.protocol === 'https:' ? 443 : 80);
    const secure = origin.protocol === 'https:';
    const socket = secure
      ? tlsConnect({
          host,
          port,
          lookup,
          ALPNProtocols: ['http/1.1'],
          ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
          ...this.#options.tls,
        })
      : netConnect({ host, port, lookup });
    const conn = new UpstreamConnection(this, socket, secure, now, connectTimeoutMs);
    this.#all.add(conn);
    return conn;
  }

  /** A connection free for the next request. */
  release(conn: UpstreamConnection): void {
    const next = this.#queue.shift();
    if (next !== undefined) conn.send(next, Date.now());
    else this.#idle.push(conn);
  }

  forget(conn: UpstreamConnection): void {
    this.#all.delete(conn);
    const i = this.#idle.indexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
    // A slot freed: a queued request gets a new connection.
    const next = this.#queue.shift();
    if (next !== undefined) queueMicrotask(() => this.start(next));
  }

  /** Open connections, busy or idle (tests). */
  get connections(): number {
    return this.#all.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const call of this.#queue.splice(0))
      call.fail(new UpstreamError('UPSTREAM_CLOSED', 'the upstream client is closed'));
    for (const conn of this.#all.list()) conn.discard();
  }
}
