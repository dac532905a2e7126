import type { SecretScanningMode } from '../model.ts';

/** Severity, on the same scale as security events (`SecurityEvent['severity']`). */
export type Severity = 'low' | 'medium' | 'high' | 'critical';

/** What a scan does with what it finds (SPEC §8); `off` is the caller's business, not the scanner's. */
export type ScanMode = Exclude<SecretScanningMode, 'off'>;

/**
 * One detection rule.
 *
 * Every quantifier in `pattern` must be bounded (`patternBounds` refuses `*`, `+`, `{n,}`
 * and anchors): how far a pattern can read around a match start is what lets a stream be
 * scanned with a fixed carry-over tail (see `tailBound`). Flags other than `g`/`y` are kept.
 *
 * Two named groups shape the finding (no `d` flag needed, which would slow every match):
 * - `value`, which must end the match: the finding is that group alone (the context before
 *   it, such as `aws_secret_access_key =` or `Bearer `, is not reported or redacted);
 * - `lead`, inside a lookbehind that ends where the match starts: the finding starts with
 *   it (lets a pattern begin at a rare literal such as `@` and read what precedes it).
 * Patterns match ASCII only, so a match never cuts a multi-byte UTF-8 character.
 */
export interface SecretRule {
  /** Stable identifier, kebab-case: what findings, logs and events carry. */
  readonly id: string;
  /** Human name for dashboards and messages. */
  readonly name: string;
  readonly severity: Severity;
  readonly pattern: RegExp;
  /** Checks what the pattern found (checksum, Luhn, decodable header…); absent when the format allows none. */
  readonly validate?: (value: string) => boolean;
}

/**
 * A detection: rule id and the half-open range `[start, end)` of the secret. Offsets
 * count bytes for streams and UTF-16 code units for `scanText`. Never the secret itself,
 * so a finding can be logged as is.
 */
export interface Finding {
  readonly rule: string;
  readonly start: number;
  readonly end: number;
}

export interface ScanOptions {
  readonly mode: ScanMode;
  /** Defaults to `SECRET_RULES`. */
  readonly rules?: readonly SecretRule[];
  /** Called once per finding, in stream order, as soon as it is certain. */
  readonly onFinding?: (finding: Finding) => void;
}

/** Replaces every finding in redact mode. */
export const REDACTED = '[REDACTED]';
