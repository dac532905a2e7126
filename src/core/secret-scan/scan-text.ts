import { createEngine } from './engine.ts';
import { SECRET_RULES } from './rules.ts';
import type { Finding, ScanOptions } from './types.ts';

export interface ScanTextResult {
  /** All findings in text order; in reject mode only the first. Offsets in UTF-16 code units. */
  readonly findings: readonly Finding[];
  /** Redact mode only: `text` with every finding replaced by `[REDACTED]`. */
  readonly redacted?: string;
}

/** Scans a whole string at once. A stream scanned with `createScanner` gives the same findings. */
export function scanText(text: string, options: ScanOptions): ScanTextResult {
  const engine = createEngine({
    mode: options.mode,
    rules: options.rules ?? SECRET_RULES,
    emit: options.mode === 'redact',
    maxFindings: Number.POSITIVE_INFINITY,
    onFinding: options.onFinding,
  });
  const output = engine.feed(text, true);
  return options.mode === 'redact'
    ? { findings: engine.findings, redacted: output }
    : { findings: engine.findings };
}
