import { createScanner } from '../../src/core/secret-scan/scanner.ts';
import type { Finding, ScanMode } from '../../src/core/secret-scan/types.ts';

export interface StreamResult {
  readonly output: Buffer;
  readonly findings: readonly Finding[];
  readonly rejected: Finding | undefined;
}

/** Scans `chunks` as one stream; output is everything the scanner released, end included. */
export function scanChunks(chunks: readonly Buffer[], mode: ScanMode): StreamResult {
  const scanner = createScanner({ mode });
  const out: Buffer[] = [];
  for (const chunk of chunks) out.push(scanner.push(chunk));
  const summary = scanner.end();
  out.push(summary.output);
  return { output: Buffer.concat(out), findings: summary.findings, rejected: summary.rejected };
}

export function splitAt(bytes: Buffer, ...offsets: number[]): Buffer[] {
  const parts: Buffer[] = [];
  let from = 0;
  for (const offset of offsets) {
    parts.push(bytes.subarray(from, offset));
    from = offset;
  }
  parts.push(bytes.subarray(from));
  return parts;
}

export function bytewise(bytes: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) parts.push(bytes.subarray(i, i + 1));
  return parts;
}

/** Chunks of pseudo-random sizes in [1, max]. */
export function randomChunks(bytes: Buffer, next: () => number, max: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let from = 0; from < bytes.length; ) {
    const size = 1 + Math.floor(next() * max);
    parts.push(bytes.subarray(from, from + size));
    from += size;
  }
  return parts;
}
