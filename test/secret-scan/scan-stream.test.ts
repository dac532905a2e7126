import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { createScanStream, SecretRejectedError } from '../../src/planes/proxy/scan-stream.ts';
import { githubToken, pem } from './corpus.ts';

function sink(): { stream: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      parts.push(chunk);
      done();
    },
  });
  return { stream, bytes: () => Buffer.concat(parts) };
}

/** `text` as a stream of `size`-byte chunks. */
function source(text: string, size: number): Readable {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
}

const gh = githubToken('p', 600);
const key = pem('EC ', 601, 3, '\\n');
const body = `{"token":"${gh}","key":"${key}","note":"${'ü'.repeat(5000)}"}`;

describe('SecretScanStream', () => {
  it('redact: pipes a body through with secrets replaced and exposes the findings', async () => {
    const out = sink();
    const scan = createScanStream({ mode: 'redact' });
    await pipeline(source(body, 5), scan, out.stream);
    assert.equal(
      out.bytes().toString(),
      `{"token":"[REDACTED]","key":"[REDACTED]","note":"${'ü'.repeat(5000)}"}`,
    );
    assert.deepEqual(
      scan.findings.map((f) => f.rule),
      ['github-token', 'pem-private-key'],
    );
    assert.equal(scan.findingCount, 2);
  });

  it('warn: passes the body through unchanged and still reports', async () => {
    const out = sink();
    const scan = createScanStream({ mode: 'warn' });
    await pipeline(source(body, 1000), scan, out.stream);
    assert.deepEqual(out.bytes(), Buffer.from(body));
    assert.equal(scan.findings.length, 2);
  });

  it('reject: fails with a typed error naming the rule, having passed on nothing of the secret', async () => {
    const out = sink();
    const scan = createScanStream({ mode: 'reject' });
    const padded = `${'x'.repeat(30_000)} ${gh} ${'y'.repeat(30_000)}`;
    await assert.rejects(pipeline(source(padded, 4096), scan, out.stream), (error: unknown) => {
      assert.ok(error instanceof SecretRejectedError);
      assert.equal(error.rule, 'github-token');
      assert.equal(error.status, 422);
      assert.equal(error.code, 'secret_detected');
      assert.deepEqual(error.finding, { rule: 'github-token', start: 30_001, end: 30_041 });
      assert.ok(!error.message.includes(gh), 'the message does not carry the secret');
      return true;
    });
    const passed = out.bytes().toString();
    assert.ok(!passed.includes(gh.slice(0, 4)), 'no part of the secret was passed on');
    assert.ok(passed.length > 0 && /^x+$/.test(passed));
  });

  it('reject: a secret in the last chunk fails at flush', async () => {
    const scan = createScanStream({ mode: 'reject' });
    await assert.rejects(pipeline(source(`token ${gh}`, 8), scan, sink().stream), SecretRejectedError);
  });

  it('reject: a clean body passes whole', async () => {
    const out = sink();
    await pipeline(source('{"ok":true}', 3), createScanStream({ mode: 'reject' }), out.stream);
    assert.equal(out.bytes().toString(), '{"ok":true}');
  });

  it('holds back no more than the tail while streaming', async () => {
    const scan = createScanStream({ mode: 'redact' });
    let most = 0;
    const out = new Writable({
      write(_chunk, _encoding, done) {
        most = Math.max(most, scan.retained);
        done();
      },
    });
    await pipeline(source('z'.repeat(200_000), 16_384), scan, out);
    assert.ok(most > 0 && most <= scan.tailBound, `held ${most}`);
  });
});
