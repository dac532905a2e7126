import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scanText } from '../../src/core/secret-scan/scan-text.ts';
import type { Finding, ScanMode } from '../../src/core/secret-scan/types.ts';
import { embed, prng, TRUE_POSITIVES } from './corpus.ts';
import { bytewise, randomChunks, scanChunks, splitAt } from './stream-helpers.ts';

const MODES: readonly ScanMode[] = ['warn', 'redact', 'reject'];

describe('a secret split across chunks is found and redacted as if unsplit', () => {
  for (const positive of TRUE_POSITIVES) {
    it(`${positive.rule}: ${positive.label}, split at every offset and byte by byte`, () => {
      const text = embed(positive);
      const bytes = Buffer.from(text);
      for (const mode of MODES) {
        const whole = scanChunks([bytes], mode);
        // The stream scanner and scanText agree on the unsplit input.
        const reference = scanText(text, { mode });
        assert.deepEqual(whole.findings, reference.findings, `${mode}: stream vs scanText`);
        if (mode === 'redact') assert.equal(whole.output.toString(), reference.redacted);
        if (mode === 'warn') assert.deepEqual(whole.output, bytes);
        assert.equal(whole.findings.length, 1, `${mode}: found unsplit`);
        for (let k = 0; k <= bytes.length; k++) {
          assert.deepEqual(scanChunks(splitAt(bytes, k), mode), whole, `${mode}: split at ${k}`);
        }
        assert.deepEqual(scanChunks(bytewise(bytes), mode), whole, `${mode}: 1-byte chunks`);
      }
    });
  }
});

describe('a long stream with many secrets, in chunks of random sizes', () => {
  const next = prng(7);
  const filler = (n: number): string => {
    const words = [
      'lorem',
      '{"a":1}',
      '4111',
      '-',
      '@',
      'ey',
      'Bearer',
      '\n',
      'AKIA',
      'é',
      '日本',
      '😀',
      '0.5',
      '---',
    ];
    let out = '';
    while (out.length < n) out += `${words[Math.floor(next() * words.length)]} `;
    return `\n${out}\n`;
  };
  let text = '';
  const planted: Finding[] = [];
  for (let round = 0; round < 3; round++) {
    for (const positive of TRUE_POSITIVES) {
      text += filler(50 + Math.floor(next() * 3000));
      const start =
        Buffer.byteLength(text) +
        Buffer.byteLength(positive.context.slice(0, positive.context.indexOf('{}')));
      planted.push({ rule: positive.rule, start, end: start + positive.secret.length });
      text += embed(positive);
    }
  }
  const bytes = Buffer.from(text);
  // Byte offsets: scan the same bytes read as latin1, one character per byte.
  const latin1 = bytes.toString('latin1');

  it('the unsplit scan finds every planted secret, and only those', () => {
    assert.deepEqual(scanText(latin1, { mode: 'warn' }).findings, planted);
  });

  for (const mode of MODES) {
    const reference = scanText(latin1, { mode });
    for (const max of [3, 100, 4096, 65_536]) {
      it(`${mode}: chunks up to ${max} bytes give the unsplit result`, () => {
        const streamed = scanChunks(randomChunks(bytes, prng(max), max), mode);
        assert.deepEqual(streamed.findings, reference.findings);
        if (mode === 'warn') assert.deepEqual(streamed.output, bytes);
        if (mode === 'redact')
          assert.deepEqual(streamed.output, Buffer.from(reference.redacted ?? '', 'latin1'));
      });
    }
  }
});

describe('a secret far into the stream, straddling a boundary of large chunks', () => {
  const secret = embed(
    TRUE_POSITIVES.find((p) => p.rule === 'pem-private-key') as (typeof TRUE_POSITIVES)[number],
  );
  const prefix = 'x'.repeat(100_000);
  const bytes = Buffer.from(`${prefix} ${secret} ${'y'.repeat(100_000)}`);
  for (const cut of [
    prefix.length + 1,
    prefix.length + 200,
    prefix.length + 1000,
    prefix.length + secret.length,
  ]) {
    it(`cut at ${cut}`, () => {
      const result = scanChunks(splitAt(bytes, 65_536, cut, cut + 65_536), 'redact');
      assert.equal(result.findings.length, 1);
      assert.equal(
        result.output.toString(),
        `${prefix} ${secret.replace(/-----BEGIN[\s\S]*-----END [A-Z ]+-----/, '[REDACTED]')} ${'y'.repeat(100_000)}`,
      );
    });
  }
});
