import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { fieldLines } from './chars.ts';
import { LAST_CHUNK, writeChunk } from './chunked.ts';

/** What a response needs of its connection. */
export interface ResponseOwner {
  readonly socket: Socket;
  /** May the connection carry another request after this response? Asked once, when the head is built. */
  keepAliveAfter(): boolean;
  /** The end of a head that keeps the connection: `connection: keep-alive`, `keep-alive: timeout=…`, CRLF CRLF. */
  readonly keepAliveTail: string;
  /** The response's last byte is with the socket (`keepAlive` as announced in its head). */
  responseFinished(keepAlive: boolean): void;
}

/** Header values as the proxy's code passes them. */
export type ResponseHeaders = Readonly<Record<string, string | number | readonly string[] | undefined>>;

/** Framing fields the writer owns: a caller's copy is dropped, never sent. */
const WRITER_OWNED: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding']);

const NO_BODY = 0;
const LENGTH = 1;
const CHUNKED = 2;
const UNTIL_CLOSE = 3;
type Framing = typeof NO_BODY | typeof LENGTH | typeof CHUNKED | typeof UNTIL_CLOSE;

let dateSecond = -1;
let dateLine = '';
/** `date: …\r\n` for the current second (RFC 9110 §6.6.1), built once a second. */
function dateField(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `date: ${new Date(now).toUTCString()}\r\n`;
  }
  return dateLine;
}

export class ResponseHeaderError extends Error {
  override name = 'ResponseHeaderError';
}

const invalidField = (part: 'name' | 'value', name: string): Error =>
  new ResponseHeaderError(
    part === 'name'
      ? `invalid response header name "${name}"`
      : `invalid characters in response header ${name}`,
  );

/**
 * One response on a proxy connection, written straight to the socket: the head
 * goes out with the first body bytes (one write for a small response), a body
 * of unknown length is chunked for HTTP/1.1 clients (RFC 9112 §7.1) and ends the
 * connection for HTTP/1.0 ones, and HEAD, 1xx, 204 and 304 responses carry no
 * body whatever is written (RFC 9110 §6.4.1).
 */
export class ProxyResponse {
  statusCode = 0;
  readonly #owner: ResponseOwner;
  readonly #socket: Socket;
  readonly #headRequest: boolean;
  readonly #minor: 0 | 1;
  #head: string | null = null;
  #committed = false;
  #framing: Framing = NO_BODY;
  #remaining = 0;
  #keepAlive = false;
  #ended = false;
  #finished = false;
  #destroyed = false;
  #onFinish: ((error: Error | null) => void) | undefined;
  #closeHook: (() => void) | null = null;
  #drainHook: (() => void) | null = null;

  constructor(owner: ResponseOwner, headRequest: boolean, minor: 0 | 1) {
    this.#owner = owner;
    this.#socket = owner.socket;
    this.#headRequest = headRequest;
    this.#minor = minor;
  }

  /** True once a head was written (or queued): no other head can follow. */
  get headersSent(): boolean {
    return this.#committed;
  }

  /** The whole response is with the socket. */
  get writableFinished(): boolean {
    return this.#finished;
  }

  /** Told once if the connection goes away before the response is finished. */
  onClose(hook: (() => void) | null): void {
    this.#closeHook = hook;
  }

  /** Told when the socket can take more after a write returned false. */
  onDrain(hook: (() => void) | null): void {
    this.#drainHook = hook;
  }

  /** Builds the head; it is written with the first body bytes, `flushHeaders()` or `end()`. */
  writeHead(status: number, headers: ResponseHeaders): this {
    if (this.#committed) throw new ResponseHeaderError('response head already written');
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    let length: string | undefined;
    let date = false;
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined || WRITER_OWNED.has(name)) continue;
      if (name === 'content-length') {
        length = String(value);
        if (!/^\d{1,15}$/.test(length)) throw new ResponseHeaderError('invalid content-length');
      } else if (name === 'date') {
        date = true;
      }
      head += fieldLines(name, value, invalidField);
    }
    if (!date) head += dateField();
    const noBody = this.#headRequest || status < 200 || status === 204 || status === 304;
    if (noBody) this.#framing = NO_BODY;
    else if (length !== undefined) {
      this.#framing = LENGTH;
      this.#remaining = Number(length);
    } else if (this.#minor === 1) {
      this.#framing = CHUNKED;
      head += 'transfer-encoding: chunked\r\n';
    } else this.#framing = UNTIL_CLOSE;
    this.#keepAlive = this.#framing !== UNTIL_CLOSE && this.#owner.keepAliveAfter();
    head += this.#keepAlive ? this.#owner.keepAliveTail : 'connection: close\r\n\r\n';
    this.statusCode = status;
    this.#head = head;
    this.#committed = true;
    return this;
  }

  /** Sends the head now (a stream of unknown length shows its headers at once). */
  flushHeaders(): void {
    if (this.#head === null || this.#destroyed) return;
    this.#socket.write(this.#head, 'latin1');
    this.#head = null;
  }

  /** Writes body bytes; false when the socket wants the writer to wait for `onDrain`. */
  write(chunk: Buffer): boolean {
    if (this.#ended || this.#destroyed) return false;
    if (!this.#committed) throw new ResponseHeaderError('write before writeHead');
    const socket = this.#socket;
    const head = this.#head;
    if (head !== null) {
      socket.cork();
      socket.write(head, 'latin1');
      this.#head = null;
    }
    const ok = this.#body(chunk);
    if (head !== null) socket.uncork();
    return ok && !socket.writableNeedDrain;
  }

  /** Ends the response (with a last chunk if given); `onFinish` once it is all with the socket. */
  end(chunk?: Buffer | string, onFinish?: (error: Error | null) => void): void {
    if (this.#ended || this.#destroyed) return;
    if (!this.#committed) throw new ResponseHeaderError('end before writeHead');
    this.#ended = true;
    this.#onFinish = onFinish;
    const socket = this.#socket;
    socket.cork();
    if (this.#head !== null) {
      socket.write(this.#head, 'latin1');
      this.#head = null;
    }
    if (chunk !== undefined && chunk.length > 0)
      this.#body(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (this.#framing === CHUNKED) socket.write(LAST_CHUNK, 'latin1');
    socket.uncork();
    if (this.#destroyed) return;
    if (this.#framing === LENGTH && this.#remaining !== 0) {
      // Fewer bytes than announced: the client must not take this for a whole response.
      this.destroy();
      this.#onFinish?.(new Error('response ended before its content-length'));
      return;
    }
    if (socket.writableLength === 0) this.#finish();
  }

  /** Ends the connection at once: a response cut short must not look complete. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#socket.destroy();
  }

  #body(chunk: Buffer): boolean {
    const socket = this.#socket;
    switch (this.#framing) {
      case NO_BODY:
        return true;
      case LENGTH:
        if (chunk.length > this.#remaining) {
          // More than announced would be read as the start of another response.
          this.destroy();
          return false;
        }
        this.#remaining -= chunk.length;
        return socket.write(chunk);
      case CHUNKED:
        return writeChunk(socket, chunk);
      default:
        return socket.write(chunk);
    }
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#closeHook = null;
    this.#drainHook = null;
    this.#owner.responseFinished(this.#keepAlive);
    this.#onFinish?.(null);
  }

  /** From the connection: the socket drained. */
  drained(): void {
    if (this.#ended) {
      if (!this.#destroyed && this.#socket.writableLength === 0) this.#finish();
      return;
    }
    this.#drainHook?.();
  }

  /** From the connection: the socket closed. */
  closed(): void {
    if (this.#finished) return;
    this.#destroyed = true;
    const hook = this.#closeHook;
    this.#closeHook = null;
    hook?.();
    if (this.#ended) this.#onFinish?.(new Error('connection closed before the response was sent'));
  }
}
