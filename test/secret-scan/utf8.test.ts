import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scanText } from '../../src/core/secret-scan/scan-text.ts';
import { githubToken, relayToken } from './corpus.ts';
import { bytewise, scanChunks, splitAt } from './stream-helpers.ts';

const gh = githubToken('p', 500);
const relay = relayToken('rl' + 'y_', 501);
const text = `{"msg":"héllo wörld 日本語 🎉","token":"${gh}","note":"ünïcødé 😀 ✓","to":"bob@example.com","k":"é${relay}日"}`;
const expected = Buffer.from(
  `{"msg":"héllo wörld 日本語 🎉","token":"[REDACTED]","note":"ünïcødé 😀 ✓","to":"[REDACTED]","k":"é[REDACTED]日"}`,
);
const bytes = Buffer.from(text);

describe('multi-byte UTF-8 survives redaction byte for byte', () => {
  it('unsplit', () => {
    const result = scanChunks([bytes], 'redact');
    assert.deepEqual(result.output, expected);
    assert.deepEqual(
      result.findings.map((f) => f.rule),
      ['github-token', 'email', 'relay-token'],
    );
  });

  it('split at every byte offset, including inside multi-byte characters', () => {
    const whole = scanChunks([bytes], 'redact');
    for (let k = 0; k <= bytes.length; k++)
      assert.deepEqual(scanChunks(splitAt(bytes, k), 'redact'), whole, `at ${k}`);
  });

  it('in 1-byte chunks', () => {
    assert.deepEqual(scanChunks(bytewise(bytes), 'redact').output, expected);
  });

  it('every split into three chunks around the emoji and the CJK characters', () => {
    const whole = scanChunks([bytes], 'redact');
    const emoji = bytes.indexOf(Buffer.from('🎉'));
    const cjk = bytes.indexOf(Buffer.from('日本語'));
    for (let a = cjk; a < cjk + 9; a++) {
      for (let b = emoji; b < emoji + 4; b++)
        assert.deepEqual(scanChunks(splitAt(bytes, a, b), 'redact'), whole);
    }
  });

  it('warn mode output is the input, byte for byte', () => {
    assert.deepEqual(scanChunks(bytewise(bytes), 'warn').output, bytes);
  });

  it('finding offsets are bytes for streams and UTF-16 code units for scanText', () => {
    const stream = scanChunks([bytes], 'warn').findings[0];
    const string = scanText(text, { mode: 'warn' }).findings[0];
    assert.equal(stream?.start, bytes.indexOf(gh));
    assert.equal(string?.start, text.indexOf(gh));
    assert.notEqual(stream?.start, string?.start);
  });

  it('scanText redacts a JS string with non-ASCII text around secrets', () => {
    assert.equal(scanText(text, { mode: 'redact' }).redacted, expected.toString());
  });
});
