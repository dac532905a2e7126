import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkedDecoder, ChunkedFramingError } from '../../src/planes/proxy/http1/chunked.ts';

/**
 * The chunked decoder (planes/proxy/http1/chunked.ts): what it decodes, that the
 * end it finds does not depend on how the bytes arrive, and the malformed framing
 * it refuses (RFC 9112 §7.1).
 */
const LIMITS = { maxLineBytes: 64, maxTrailerBytes: 128 };

function decode(parts: readonly string[]): { body: string; end: number; done: boolean } {
  const decoder = new ChunkedDecoder(LIMITS);
  const out: Buffer[] = [];
  let end = 0;
  let offset = 0;
  for (const part of parts) {
    const buf = Buffer.from(part, 'latin1');
    const at = decoder.push(buf, 0, (data) => out.push(Buffer.from(data)));
    end = offset + at;
    offset += buf.length;
    if (decoder.done) break;
  }
  return { body: Buffer.concat(out).toString('latin1'), end, done: decoder.done };
}

const MESSAGE = '5\r\nhello\r\n7;ext=1;flag\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n';

describe('chunked decoding', () => {
  it('decodes the data, drops extensions and trailers, and finds the end', () => {
    const result = decode([`${MESSAGE}GET /next`]);
    assert.deepEqual(result, { body: 'hello, world', end: MESSAGE.length, done: true });
  });

  it('finds the same data and end however the bytes are split', () => {
    const whole = `${MESSAGE}NEXT`;
    for (let cut = 1; cut < whole.length; cut++) {
      const result = decode([whole.slice(0, cut), whole.slice(cut)]);
      assert.deepEqual(result, { body: 'hello, world', end: MESSAGE.length, done: true }, `cut at ${cut}`);
    }
    const bytes = [...whole];
    assert.deepEqual(decode(bytes), { body: 'hello, world', end: MESSAGE.length, done: true });
  });

  it('upper-case hex and leading zeros; whitespace before an extension', () => {
    assert.equal(decode(['000A\r\n0123456789\r\n0 ;x\r\n\r\n']).body, '0123456789');
  });

  it('hands on views of the input, not copies', () => {
    const decoder = new ChunkedDecoder(LIMITS);
    const input = Buffer.from('3\r\nabc\r\n0\r\n\r\n');
    let seen: Buffer | undefined;
    decoder.push(input, 0, (data) => {
      seen = data;
    });
    assert.equal(seen?.buffer, input.buffer);
  });
});

const MALFORMED: ReadonlyArray<readonly [string, string]> = [
  ['a size that is not hex', 'g\r\n'],
  ['an empty size', '\r\n'],
  ['a 0x prefix', '0x5\r\nhello\r\n'],
  ['a signed size', '+5\r\nhello\r\n'],
  ['a size of more than 13 hex digits', '10000000000000\r\n'],
  ['whitespace after the size without an extension', '5 \r\nhello\r\n'],
  ['a bare LF after the size', '5\nhello\r\n'],
  ['a bare CR after the size', '5\rhello\r\n'],
  ['a control character in an extension', '5;a\x01b\r\nhello\r\n'],
  ['a bare LF in an extension', '5;a\nb\r\nhello\r\n'],
  ['data longer than its size', '5\r\nhello!\r\n'],
  ['data followed by a bare LF', '5\r\nhello\n0\r\n\r\n'],
  ['a trailer line folded onto the previous one', '0\r\nX-A: 1\r\n 2\r\n\r\n'],
  ['a trailer line without a colon', '0\r\nX-A\r\n\r\n'],
  ['a control character in a trailer', '0\r\nX-A: \x01\r\n\r\n'],
  ['a bare LF ending the trailers', '0\r\n\n'],
  ['a size line longer than the limit', `5;${'x'.repeat(80)}\r\nhello\r\n`],
  ['a trailer section larger than the limit', `0\r\nX-A: ${'x'.repeat(200)}\r\n\r\n`],
];

describe('malformed chunked framing is refused', () => {
  for (const [name, text] of MALFORMED) {
    it(name, () => {
      assert.throws(() => decode([text]), ChunkedFramingError);
    });
  }
});
