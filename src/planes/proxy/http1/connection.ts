import type { Socket } from 'node:net';
import { ChunkedDecoder } from './chunked.ts';
import { type BodySource, ProxyRequest, RequestBody } from './request.ts';
import { type HeadError, type HeadLimits, parseRequestHead, type RequestHead } from './request-head.ts';
import { ProxyResponse, type ResponseOwner } from './response.ts';

export interface Http1Handlers {
  request(req: ProxyRequest, res: ProxyResponse): void;
  /** A request that could not be read: answer it (the connection closes after). */
  refused(refusal: HeadError, res: ProxyResponse, socket: Socket): void;
}

export interface ConnectionSettings {
  readonly limits: HeadLimits;
  /** From the first byte of a request (or from connecting) to its complete head. */
  readonly headersTimeoutMs: number;
  /** Idle time between requests before the connection is closed. */
  readonly keepAliveTimeoutMs: number;
  /**
   * A request answered before its body was read (a refusal): up to this many body bytes
   * are read and dropped to keep the connection; beyond, the connection is closed.
   */
  readonly discardLimitBytes: number;
}

/** The body ended badly: malformed chunked framing, or the client went away mid-body. */
export class ClientBodyError extends Error {
  override name = 'ClientBodyError';
  /** True when the framing was malformed (a 400), false when the client left (no answer possible). */
  readonly malformed: boolean;
  constructor(message: string, malformed: boolean) {
    super(message);
    this.malformed = malformed;
  }
}

const IDLE = 0;
const HEAD = 1;
const BUSY = 2;
const LINGER = 3;
type Phase = typeof IDLE | typeof HEAD | typeof BUSY | typeof LINGER;

/** Unparsed bytes held while a request is being answered (pipelining) before reading pauses. */
const MAX_BUFFERED = 64 * 1024;
/**
 * After the last response, reading goes on (dropping what comes) this long before the
 * socket is destroyed: closing with unread bytes would send a TCP reset, which can make
 * the client lose the response it has not read yet.
 */
const LINGER_MS = 2000;
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const CHUNKED_LIMITS = { maxLineBytes: 4096, maxTrailerBytes: 16 * 1024 };

/**
 * One client connection of the proxy listener: reads request heads and bodies,
 * hands each request to the pipeline, and reads the next only once the current
 * response is finished (pipelined requests wait, in order). Timeouts are checked
 * by the server's sweep, not by a timer per request.
 */
export class Http1Connection implements ResponseOwner, BodySource {
  readonly socket: Socket;
  readonly keepAliveTail: string;
  readonly #settings: ConnectionSettings;
  readonly #handlers: Http1Handlers;
  readonly #onGone: (connection: Http1Connection) => void;
  #phase: Phase = HEAD;
  #deadline: number;
  #buf: Buffer | null = null;
  #res: ProxyResponse | null = null;
  #req: ProxyRequest | null = null;
  #body: RequestBody | null = null;
  #keepAliveRequested = false;
  #bodyDone = true;
  #remaining = 0;
  #decoder: ChunkedDecoder | null = null;
  #expectContinue = false;
  #discarding = false;
  #discarded = 0;
  #closing = false;
  #processing = false;
  #paused = false;

  constructor(
    socket: Socket,
    settings: ConnectionSettings,
    handlers: Http1Handlers,
    onGone: (connection: Http1Connection) => void,
  ) {
    this.socket = socket;
    this.#settings = settings;
    this.#handlers = handlers;
    this.#onGone = onGone;
    this.#deadline = Date.now() + settings.headersTimeoutMs;
    this.keepAliveTail = `connection: keep-alive\r\nkeep-alive: timeout=${Math.floor(settings.keepAliveTimeoutMs / 1000)}\r\n\r\n`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('drain', () => this.#res?.drained());
    socket.on('error', () => {});
    socket.on('close', () => this.#onClose());
  }

  /** True while no request is in progress (shutdown closes these at once). */
  get idle(): boolean {
    return this.#phase === IDLE || (this.#phase === HEAD && this.#buf === null);
  }

  // ResponseOwner

  keepAliveAfter(): boolean {
    if (!this.#keepAliveRequested || this.#closing) return false;
    if (this.#bodyDone) return true;
    // The rest of the body can be read and dropped only if the client is sure to send it
    // (no 100-continue still owed) and it is known to be small.
    return (
      this.#decoder === null && !this.#expectContinue && this.#remaining <= this.#settings.discardLimitBytes
    );
  }

  responseFinished(keepAlive: boolean): void {
    if (!keepAlive) {
      this.#endGracefully();
      return;
    }
    if (!this.#bodyDone) {
      // Answered before the body was read: drop the rest of it, then take the next request.
      this.#discarding = true;
      this.#body?.destroy();
      this.#resume();
      return;
    }
    this.#nextRequest();
  }

  // Lifecycle

  /** Server shutdown: no request after the current one. */
  shutdown(): void {
    this.#closing = true;
    if (this.idle) this.socket.destroy();
  }

  /** Called by the server's sweep with the current time. */
  sweep(now: number): void {
    if (now < this.#deadline) return;
    if (this.#phase === HEAD && this.#buf !== null) {
      this.#refuse({
        kind: 'error',
        status: 408,
        code: 'request_timeout',
        detail: `the request head did not arrive within ${this.#settings.headersTimeoutMs} ms`,
        method: '',
        target: '',
      });
      return;
    }
    if (this.#phase !== BUSY) this.socket.destroy();
  }

  // Reading

  #onData(chunk: Buffer): void {
    if (this.#phase === LINGER) return;
    let start = 0;
    if (!this.#bodyDone) {
      start = this.#feedBody(chunk, 0);
      if (start >= chunk.length) return;
    }
    const rest = start === 0 ? chunk : chunk.subarray(start);
    this.#buf = this.#buf === null ? rest : Buffer.concat([this.#buf, rest]);
    if (this.#phase !== BUSY) this.#process();
    else if (this.#buf.length > MAX_BUFFERED) this.#pause();
  }

  #process(): void {
    if (this.#processing) return;
    this.#processing = true;
    try {
      while (this.#phase !== BUSY && this.#phase !== LINGER && this.#buf !== null) {
        const buf = this.#buf;
        const parsed = parseRequestHead(buf, 0, this.#settings.limits);
        if (parsed === null) {
          if (this.#phase === IDLE) {
            this.#phase = HEAD;
            this.#deadline = Date.now() + this.#settings.headersTimeoutMs;
          }
          return;
        }
        if (parsed.kind === 'error') {
          this.#refuse(parsed);
          return;
        }
        this.#buf = parsed.size === buf.length ? null : buf.subarray(parsed.size);
        this.#start(parsed);
      }
    } finally {
      this.#processing = false;
    }
  }

  #start(head: RequestHead): void {
    const body = head.framing === 'none' ? null : new RequestBody(this);
    const req = new ProxyRequest(head, this.socket, body);
    const res = new ProxyResponse(this, head.method === 'HEAD', head.minor);
    this.#req = req;
    this.#res = res;
    this.#body = body;
    this.#keepAliveRequested = head.keepAlive;
    this.#phase = BUSY;
    this.#deadline = Number.POSITIVE_INFINITY;
    if (body !== null) {
      this.#bodyDone = false;
      this.#discarding = false;
      this.#discarded = 0;
      this.#expectContinue = head.expectContinue;
      this.#remaining = head.contentLength;
      this.#decoder = head.framing === 'chunked' ? new ChunkedDecoder(CHUNKED_LIMITS) : null;
      // Body bytes that came with the head are read before the pipeline runs, so a refusal
      // can tell whether the body is all here.
      const buf = this.#buf;
      if (buf !== null) {
        const used = this.#feedBody(buf, 0);
        this.#buf = used >= buf.length ? null : buf.subarray(used);
      }
    }
    try {
      this.#handlers.request(req, res);
    } catch {
      // The handler answers its own failures; one that escapes leaves nothing sane to send.
      this.socket.destroy();
    }
  }

  /** Feeds body bytes from `start`; returns where the body ended in `buf` (or its length). */
  #feedBody(buf: Buffer, start: number): number {
    const decoder = this.#decoder;
    if (decoder === null) {
      const take = Math.min(this.#remaining, buf.length - start);
      if (take > 0)
        this.#deliver(start === 0 && take === buf.length ? buf : buf.subarray(start, start + take));
      this.#remaining -= take;
      if (this.#remaining === 0) this.#endBody();
      return start + take;
    }
    try {
      const end = decoder.push(buf, start, this.#deliverBound);
      if (decoder.done) this.#endBody();
      return end;
    } catch (error) {
      this.#failBody(new ClientBodyError(`malformed chunked body: ${(error as Error).message}`, true));
      return buf.length;
    }
  }

  readonly #deliverBound = (data: Buffer): void => this.#deliver(data);

  #deliver(data: Buffer): void {
    if (this.#discarding) {
      this.#discarded += data.length;
      if (this.#discarded > this.#settings.discardLimitBytes) this.socket.destroy();
      return;
    }
    (this.#req as ProxyRequest).bodyBytes += data.length;
    if (!(this.#body as RequestBody).push(data)) this.#pause();
  }

  #endBody(): void {
    this.#bodyDone = true;
    this.#decoder = null;
    this.#expectContinue = false;
    if (this.#discarding) {
      this.#discarding = false;
      // The response is finished already: the connection is free for the next request.
      this.#nextRequest();
      return;
    }
    this.#body?.push(null);
  }

  #failBody(error: ClientBodyError): void {
    // The stream is out of step: nothing more can be read from this connection.
    this.#closing = true;
    this.#bodyDone = true;
    this.#decoder = null;
    this.#buf = null;
    this.#discarding = true;
    this.#discarded = Number.NEGATIVE_INFINITY;
    this.#body?.destroy(error);
  }

  /** From the body stream: its consumer wants more. */
  wantBody(): void {
    if (this.#expectContinue && this.#res !== null && !this.#res.headersSent) {
      this.#expectContinue = false;
      this.socket.write(CONTINUE, 'latin1');
    }
    this.#resume();
  }

  #nextRequest(): void {
    this.#req = null;
    this.#res = null;
    this.#body = null;
    if (this.#closing) {
      this.#endGracefully();
      return;
    }
    this.#phase = IDLE;
    this.#deadline = Date.now() + this.#settings.keepAliveTimeoutMs;
    this.#resume();
    // A pipelined request already here: taken on the next turn, not inside whoever finished this one.
    if (this.#buf !== null && !this.#processing) setImmediate(() => this.#process());
  }

  #refuse(refusal: HeadError): void {
    this.#closing = true;
    this.#buf = null;
    this.#bodyDone = true;
    this.#phase = BUSY;
    this.#deadline = Number.POSITIVE_INFINITY;
    this.#keepAliveRequested = false;
    const res = new ProxyResponse(this, false, 1);
    this.#res = res;
    this.#handlers.refused(refusal, res, this.socket);
  }

  #endGracefully(): void {
    if (this.#phase === LINGER) return;
    this.#phase = LINGER;
    this.#deadline = Date.now() + LINGER_MS;
    this.#buf = null;
    if (!this.#bodyDone) {
      this.#bodyDone = true;
      this.#body?.destroy();
    }
    this.#resume();
    this.socket.end();
  }

  #pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.socket.pause();
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.socket.resume();
  }

  /**
   * The client sent FIN. As node:http does by default, a request still in progress is
   * taken as abandoned (its upstream request is cancelled), not as a half-close that
   * still waits for the answer.
   */
  #onEnd(): void {
    this.socket.destroy();
  }

  #onClose(): void {
    this.#phase = LINGER;
    if (!this.#bodyDone) {
      this.#bodyDone = true;
      this.#body?.destroy(new ClientBodyError('the client closed the connection mid-body', false));
    }
    this.#res?.closed();
    this.#onGone(this);
  }
}
