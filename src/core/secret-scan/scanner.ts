import { createEngine, tailBound } from './engine.ts';
import { SECRET_RULES } from './rules.ts';
import type { Finding, ScanOptions } from './types.ts';

export interface ScannerOptions extends ScanOptions {
  /** Findings kept for `findings` (all are counted, redacted and passed to `onFinding`). Default 1000. */
  readonly maxFindings?: number;
}

export interface ScanSummary {
  /** The rest of the output. */
  readonly output: Buffer;
  readonly findings: readonly Finding[];
  /** Every finding, including those beyond `maxFindings`. */
  readonly findingCount: number;
  /** Reject mode: the first finding, after which nothing more was output. */
  readonly rejected?: Finding;
}

/**
 * An incremental scanner over a byte stream, in bounded memory: between chunks it
 * keeps at most `tailBound` bytes: 8,369 with the default rules, set by the PEM rule
 * (8,192 bytes of body between armour lines of up to 84 and 82 bytes, plus the 11-byte
 * look-ahead that stops the body at the next BEGIN or END line).
 *
 * Bytes are read as latin1, one character per byte, and never decoded: rules match
 * ASCII only, so output is the input's own bytes (multi-byte UTF-8 characters split
 * across chunks pass through intact) and finding offsets are byte offsets.
 *
 * - warn: `push` returns its input at once; findings arrive as they become certain.
 * - redact: output is held back by at most the tail and comes out with every finding
 *   replaced by `[REDACTED]`.
 * - reject: output is held back as in redact mode, so no part of a secret leaves; at the
 *   first finding `rejected` is set and nothing more is output.
 */
export interface Scanner {
  /** Scans a chunk (strings as UTF-8) and returns the output it releases, possibly empty. */
  push(chunk: Buffer | string): Buffer;
  /** Ends the input: returns the remaining output and the findings. */
  end(): ScanSummary;
  readonly findings: readonly Finding[];
  readonly findingCount: number;
  readonly rejected: Finding | undefined;
  /** Bytes held right now; never above `tailBound` between calls. */
  readonly retained: number;
  readonly tailBound: number;
}

const EMPTY = Buffer.alloc(0);
const DEFAULT_MAX_FINDINGS = 1000;

export function createScanner(options: ScannerOptions): Scanner {
  const rules = options.rules ?? SECRET_RULES;
  const passThrough = options.mode === 'warn';
  const engine = createEngine({
    mode: options.mode,
    rules,
    emit: !passThrough,
    maxFindings: options.maxFindings ?? DEFAULT_MAX_FINDINGS,
    onFinding: options.onFinding,
  });
  const bound = tailBound(rules);
  let ended = false;

  function push(chunk: Buffer | string): Buffer {
    if (ended) throw new Error('secret scanner: push after end');
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (engine.rejected !== undefined) return EMPTY;
    const out = engine.feed(bytes.toString('latin1'), false);
    if (passThrough) return bytes;
    return out.length === 0 ? EMPTY : Buffer.from(out, 'latin1');
  }

  function end(): ScanSummary {
    if (ended) throw new Error('secret scanner: end called twice');
    ended = true;
    const out = engine.feed('', true);
    const output = out.length === 0 ? EMPTY : Buffer.from(out, 'latin1');
    const summary = { output, findings: engine.findings, findingCount: engine.findingCount };
    return engine.rejected === undefined ? summary : { ...summary, rejected: engine.rejected };
  }

  return {
    push,
    end,
    get findings() {
      return engine.findings;
    },
    get findingCount() {
      return engine.findingCount;
    },
    get rejected() {
      return engine.rejected;
    },
    get retained() {
      return engine.retained;
    },
    tailBound: bound,
  };
}
