import { Transform, type TransformCallback } from 'node:stream';
import { createScanner, type Scanner, type ScannerOptions } from '../../core/secret-scan/scanner.ts';
import type { Finding } from '../../core/secret-scan/types.ts';

/**
 * Reject mode found a secret. Carries the rule and the position, never the secret, so
 * it can be logged and turned into a problem response as it is (the proxy answers 422).
 */
export class SecretRejectedError extends Error {
  readonly code = 'secret_detected';
  readonly status = 422;
  readonly rule: string;
  readonly finding: Finding;

  constructor(finding: Finding) {
    super(`body contains a secret (rule ${finding.rule}, bytes ${finding.start}-${finding.end})`);
    this.name = 'SecretRejectedError';
    this.rule = finding.rule;
    this.finding = finding;
  }
}

/**
 * A body stream through the secret scanner (SPEC §8), to pipe a request body into:
 * warn passes bytes on unchanged at once, redact holds back at most the scanner's tail
 * and replaces findings with `[REDACTED]`, reject holds back the same and fails with
 * `SecretRejectedError` at the first finding (nothing of the secret has been passed on;
 * the bytes before it may have been, so a proxy that must answer 422 instead of
 * forwarding anything should buffer the body first or hold the upstream request until
 * this stream ends).
 */
export class SecretScanStream extends Transform {
  readonly #scanner: Scanner;

  constructor(options: ScannerOptions) {
    super();
    this.#scanner = createScanner(options);
  }

  /** Findings so far (after 'finish' or 'end', all of them, up to `maxFindings`). */
  get findings(): readonly Finding[] {
    return this.#scanner.findings;
  }

  get findingCount(): number {
    return this.#scanner.findingCount;
  }

  /** Bytes held back right now (never above `tailBound`). */
  get retained(): number {
    return this.#scanner.retained;
  }

  get tailBound(): number {
    return this.#scanner.tailBound;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const output = this.#scanner.push(chunk);
    const rejected = this.#scanner.rejected;
    if (rejected !== undefined) done(new SecretRejectedError(rejected));
    else done(null, output.length > 0 ? output : undefined);
  }

  override _flush(done: TransformCallback): void {
    const summary = this.#scanner.end();
    if (summary.rejected !== undefined) done(new SecretRejectedError(summary.rejected));
    else done(null, summary.output.length > 0 ? summary.output : undefined);
  }
}

export function createScanStream(options: ScannerOptions): SecretScanStream {
  return new SecretScanStream(options);
}
