import type { Socket } from 'node:net';
import { COLON, CR, FIELD_VALUE, HTAB, LF, SP, TCHAR } from './chars.ts';

const CHUNK_END = Buffer.from('\r\n', 'latin1');

/** The last chunk, with no trailer fields: the end of a chunked body. */
export const LAST_CHUNK = '0\r\n\r\n';

/**
 * Writes `chunk` as one chunk of the chunked coding, and returns what the socket's
 * last write did (false: wait for 'drain'). An empty chunk writes nothing: it would
 * read as the end of the body.
 */
export function writeChunk(socket: Socket, chunk: Buffer): boolean {
  if (chunk.length === 0) return true;
  socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
  socket.write(chunk);
  return socket.write(CHUNK_END);
}

/**
 * A streaming decoder of the chunked transfer coding (RFC 9112 §7.1), strict
 * about the framing so that no two readers can find different ends:
 *
 * - chunk sizes are hex digits only (at most 13: every size is an exact integer);
 * - extensions (`;name=value`, after optional whitespace) hold no control
 *   characters and are dropped; a line ends in CRLF, never a bare CR or LF;
 * - the data of each chunk is followed by exactly CRLF;
 * - trailer fields are checked like header fields, bounded, and dropped.
 *
 * Chunk data is handed on as views of the input, never copied.
 */

const S = {
  SIZE: 0,
  SIZE_BWS: 1,
  EXT: 2,
  SIZE_LF: 3,
  DATA: 4,
  DATA_CR: 5,
  DATA_LF: 6,
  TRAILER_START: 7,
  TRAILER_NAME: 8,
  TRAILER_VALUE: 9,
  TRAILER_LF: 10,
  END_LF: 11,
  DONE: 12,
} as const;

type State = (typeof S)[keyof typeof S];

const MAX_SIZE_DIGITS = 13;

function hex(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const lower = b | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

export class ChunkedFramingError extends Error {
  override name = 'ChunkedFramingError';
}

export interface ChunkedLimits {
  /** Largest chunk-size line (size and extensions). */
  readonly maxLineBytes: number;
  /** Largest trailer section. */
  readonly maxTrailerBytes: number;
}

export class ChunkedDecoder {
  readonly #limits: ChunkedLimits;
  #state: State = S.SIZE;
  #size = 0;
  #digits = 0;
  #line = 0;
  #trailer = 0;

  constructor(limits: ChunkedLimits) {
    this.#limits = limits;
  }

  /** True once the last chunk and the trailer section have been read. */
  get done(): boolean {
    return this.#state === S.DONE;
  }

  /**
   * Decodes `buf` from `start`; `onData` gets each piece of chunk data. Returns the
   * index just past the end of the chunked body if it ends within `buf` (what follows
   * belongs to the next message), or `buf.length` when all of it was body. Throws
   * ChunkedFramingError on malformed framing.
   */
  push(buf: Buffer, start: number, onData: (data: Buffer) => void): number {
    let i = start;
    const n = buf.length;
    while (i < n) {
      const b = buf[i] as number;
      switch (this.#state) {
        case S.SIZE: {
          const v = hex(b);
          if (v >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) throw new ChunkedFramingError('chunk size too large');
            this.#size = this.#size * 16 + v;
          } else if (this.#digits === 0) {
            throw new ChunkedFramingError('chunk size is not a hex number');
          } else if (b === CR) {
            this.#state = S.SIZE_LF;
          } else if (b === SP || b === HTAB) {
            this.#state = S.SIZE_BWS;
          } else if (b === 0x3b) {
            this.#state = S.EXT;
          } else {
            throw new ChunkedFramingError('chunk size is not a hex number');
          }
          this.#countLine();
          i++;
          break;
        }
        case S.SIZE_BWS:
          // Whitespace after the size may only lead to an extension.
          if (b === 0x3b) this.#state = S.EXT;
          else if (b !== SP && b !== HTAB) throw new ChunkedFramingError('malformed chunk extension');
          this.#countLine();
          i++;
          break;
        case S.EXT:
          if (b === CR) this.#state = S.SIZE_LF;
          else if (FIELD_VALUE[b] === 0)
            throw new ChunkedFramingError('control character in a chunk extension');
          this.#countLine();
          i++;
          break;
        case S.SIZE_LF:
          if (b !== LF) throw new ChunkedFramingError('chunk size line does not end in CRLF');
          this.#line = 0;
          this.#digits = 0;
          this.#state = this.#size === 0 ? S.TRAILER_START : S.DATA;
          i++;
          break;
        case S.DATA: {
          const take = Math.min(this.#size, n - i);
          onData(buf.subarray(i, i + take));
          this.#size -= take;
          i += take;
          if (this.#size === 0) this.#state = S.DATA_CR;
          break;
        }
        case S.DATA_CR:
          if (b !== CR) throw new ChunkedFramingError('chunk data is not followed by CRLF');
          this.#state = S.DATA_LF;
          i++;
          break;
        case S.DATA_LF:
          if (b !== LF) throw new ChunkedFramingError('chunk data is not followed by CRLF');
          this.#state = S.SIZE;
          i++;
          break;
        case S.TRAILER_START:
          if (b === CR) this.#state = S.END_LF;
          else if (TCHAR[b] === 1) this.#state = S.TRAILER_NAME;
          else throw new ChunkedFramingError('malformed trailer field');
          this.#countTrailer();
          i++;
          break;
        case S.TRAILER_NAME:
          if (b === COLON) this.#state = S.TRAILER_VALUE;
          else if (TCHAR[b] === 0) throw new ChunkedFramingError('malformed trailer field');
          this.#countTrailer();
          i++;
          break;
        case S.TRAILER_VALUE:
          if (b === CR) this.#state = S.TRAILER_LF;
          else if (FIELD_VALUE[b] === 0)
            throw new ChunkedFramingError('control character in a trailer field');
          this.#countTrailer();
          i++;
          break;
        case S.TRAILER_LF:
          if (b !== LF) throw new ChunkedFramingError('trailer line does not end in CRLF');
          this.#state = S.TRAILER_START;
          this.#countTrailer();
          i++;
          break;
        case S.END_LF:
          if (b !== LF) throw new ChunkedFramingError('chunked body does not end in CRLF');
          this.#state = S.DONE;
          return i + 1;
        case S.DONE:
          return i;
      }
    }
    return i;
  }

  #countLine(): void {
    if (++this.#line > this.#limits.maxLineBytes) throw new ChunkedFramingError('chunk size line too long');
  }

  #countTrailer(): void {
    if (++this.#trailer > this.#limits.maxTrailerBytes)
      throw new ChunkedFramingError('trailer section too large');
  }
}
