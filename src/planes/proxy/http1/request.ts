import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { BodyFraming, RequestHead, RequestHeaders } from './request-head.ts';

/** What a request body stream needs of its connection. */
export interface BodySource {
  /** The consumer wants more: resume reading the socket (and send `100 Continue` if owed). */
  wantBody(): void;
}

/** A request's body as a stream, fed by its connection (which decodes chunked framing). */
export class RequestBody extends Readable {
  readonly #source: BodySource;

  constructor(source: BodySource) {
    super({ highWaterMark: 64 * 1024 });
    this.#source = source;
  }

  override _read(): void {
    this.#source.wantBody();
  }
}

/** The request a proxy connection hands to the pipeline. */
export class ProxyRequest {
  readonly method: string;
  /** The request target exactly as received. */
  readonly url: string;
  readonly httpVersionMinor: 0 | 1;
  readonly headers: RequestHeaders;
  readonly socket: Socket;
  readonly framing: BodyFraming;
  /** The body, or null for a request without one. */
  readonly body: RequestBody | null;
  /** Body bytes received so far (decoded). */
  bodyBytes = 0;

  constructor(head: RequestHead, socket: Socket, body: RequestBody | null) {
    this.method = head.method;
    this.url = head.target;
    this.httpVersionMinor = head.minor;
    this.headers = head.headers;
    this.socket = socket;
    this.framing = head.framing;
    this.body = body;
  }
}
