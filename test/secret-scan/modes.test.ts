import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scanText } from '../../src/core/secret-scan/scan-text.ts';
import { createScanner } from '../../src/core/secret-scan/scanner.ts';
import type { Finding } from '../../src/core/secret-scan/types.ts';
import { embed, githubToken, TRUE_POSITIVES } from './corpus.ts';

describe('redact mode', () => {
  for (const positive of TRUE_POSITIVES) {
    it(`replaces exactly the secret: ${positive.rule} (${positive.label})`, () => {
      const result = scanText(embed(positive), { mode: 'redact' });
      assert.equal(result.redacted, positive.context.replace('{}', '[REDACTED]'));
    });
  }

  it('leaves text without findings as it is', () => {
    const text = '{"ok":true,"n":4111111111111112}';
    assert.deepEqual(scanText(text, { mode: 'redact' }), { findings: [], redacted: text });
  });

  it('redacts several findings, keeping what lies between', () => {
    const gh = githubToken('o', 400);
    const text = `a bob@example.com b ${gh} c 536-22-1940 d`;
    assert.equal(scanText(text, { mode: 'redact' }).redacted, 'a [REDACTED] b [REDACTED] c [REDACTED] d');
  });
});

describe('warn mode', () => {
  it('reports every finding and returns no redacted text', () => {
    const text = 'bob@example.com and 536-22-1940';
    const result = scanText(text, { mode: 'warn' });
    assert.equal(result.redacted, undefined);
    assert.deepEqual(
      result.findings.map((f) => f.rule),
      ['email', 'us-ssn'],
    );
  });

  it('the stream scanner passes every chunk through unchanged and at once', () => {
    const scanner = createScanner({ mode: 'warn' });
    const chunk = Buffer.from('bob@example.com and 536-22-1940 ');
    assert.equal(scanner.push(chunk), chunk);
    const summary = scanner.end();
    assert.equal(summary.output.length, 0);
    assert.deepEqual(
      summary.findings.map((f) => f.rule),
      ['email', 'us-ssn'],
    );
  });

  it('calls onFinding once per finding, in order, and findings never carry the secret', () => {
    const seen: Finding[] = [];
    const gh = githubToken('p', 401);
    scanText(`x ${gh} y bob@example.com`, { mode: 'warn', onFinding: (f) => seen.push(f) });
    assert.deepEqual(
      seen.map((f) => f.rule),
      ['github-token', 'email'],
    );
    for (const finding of seen) assert.deepEqual(Object.keys(finding).sort(), ['end', 'rule', 'start']);
  });
});

describe('reject mode', () => {
  it('stops at the first finding in text order', () => {
    const text = `x 536-22-1940 y bob@example.com ${githubToken('p', 402)}`;
    assert.deepEqual(scanText(text, { mode: 'reject' }), {
      findings: [{ rule: 'us-ssn', start: 2, end: 13 }],
    });
  });

  it('a stream scanner outputs nothing of the secret and nothing after it', () => {
    const scanner = createScanner({ mode: 'reject' });
    const before = 'x'.repeat(20_000);
    const finding = { rule: 'us-ssn', start: 20_001, end: 20_012 };
    const out: Buffer[] = [scanner.push(before), scanner.push(' 536-22-1940 ')];
    // A finding is certain once no rule could still find an earlier-starting secret
    // covering it: at most the tail later.
    out.push(scanner.push('y'.repeat(scanner.tailBound)));
    assert.deepEqual(scanner.rejected, finding);
    assert.equal(scanner.push('more').length, 0);
    const summary = scanner.end();
    out.push(summary.output);
    assert.deepEqual(summary.rejected, finding);
    const text = Buffer.concat(out).toString();
    assert.ok(before.startsWith(text), 'only bytes before the secret were released');
    assert.ok(text.length > 0, 'bytes well before the secret were released before the end');
  });

  it('a secret at the very end is rejected by end()', () => {
    const scanner = createScanner({ mode: 'reject' });
    assert.equal(scanner.push('ssn 536-22-1940').length, 0);
    assert.equal(scanner.rejected, undefined);
    assert.deepEqual(scanner.end(), {
      output: Buffer.alloc(0),
      findings: [{ rule: 'us-ssn', start: 4, end: 15 }],
      findingCount: 1,
      rejected: { rule: 'us-ssn', start: 4, end: 15 },
    });
  });

  it('passes clean input through whole', () => {
    const scanner = createScanner({ mode: 'reject' });
    const parts = [scanner.push('clean '), scanner.push('text')];
    const summary = scanner.end();
    assert.equal(summary.rejected, undefined);
    assert.equal(Buffer.concat([...parts, summary.output]).toString(), 'clean text');
  });
});

describe('scanner bookkeeping', () => {
  it('keeps at most maxFindings findings but counts and redacts them all', () => {
    const scanner = createScanner({ mode: 'redact', maxFindings: 2 });
    const out = [scanner.push('a@example.com b@example.com c@example.com d@example.com')];
    const summary = scanner.end();
    out.push(summary.output);
    assert.equal(summary.findings.length, 2);
    assert.equal(summary.findingCount, 4);
    assert.equal(Buffer.concat(out).toString(), '[REDACTED] [REDACTED] [REDACTED] [REDACTED]');
  });

  it('refuses push after end', () => {
    const scanner = createScanner({ mode: 'warn' });
    scanner.end();
    assert.throws(() => scanner.push('x'), /after end/);
  });
});
