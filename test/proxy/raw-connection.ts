import { connect, type Socket } from 'node:net';

/** One response as read off the wire by RawConnection. */
export interface WireResponse {
  readonly status: number;
  /** Field names lowercased; a repeated field keeps its last value. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly text: string;
}

/**
 * A client connection that writes exactly the bytes it is given and reads
 * responses one by one (Content-Length or chunked framing, 1xx with no body), so
 * tests can pipeline, half-send, or send what node:http's client would refuse to.
 */
export class RawConnection {
  readonly socket: Socket;
  #buf = Buffer.alloc(0);
  #closed = false;
  #wake: (() => void) | undefined;
  readonly #closedPromise: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      this.#wake?.();
    });
    socket.on('error', () => {});
    this.#closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.#closed = true;
        this.#wake?.();
        resolve();
      }),
    );
  }

  static open(baseUrl: string): Promise<RawConnection> {
    const { port } = new URL(baseUrl);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Resolves once the server has closed the connection. */
  closed(): Promise<void> {
    return this.#closedPromise;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Bytes received and not yet read as a response. */
  get pending(): number {
    return this.#buf.length;
  }

  /** The next whole response; rejects if the connection closes first or `timeoutMs` passes. */
  async response(timeoutMs = 5000): Promise<WireResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = this.#take();
      if (parsed !== undefined) return parsed;
      if (this.#closed)
        throw new Error(`connection closed; unread: ${JSON.stringify(this.#buf.toString('latin1'))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no whole response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          this.#wake = undefined;
          resolve();
        };
      });
    }
  }

  #take(): WireResponse | undefined {
    const buf = this.#buf;
    const end = buf.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number((lines[0] ?? '').slice(9, 12));
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    let at = end + 4;
    let body = Buffer.alloc(0);
    if (status >= 100 && status < 200) {
      // An interim response: no body.
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (buf.length < at + length) return undefined;
      body = buf.subarray(at, at + length);
      at += length;
    } else if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', at);
        if (lineEnd === -1) return undefined;
        const size = Number.parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
        if (buf.length < lineEnd + 2 + size + 2) return undefined;
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
    }
    this.#buf = buf.subarray(at);
    return { status, headers, body, text: body.toString('utf8') };
  }

  close(): void {
    this.socket.destroy();
  }
}
