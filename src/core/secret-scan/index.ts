export { tailBound } from './engine.ts';
export { type PatternBounds, patternBounds } from './pattern-bounds.ts';
export { ruleById, SECRET_RULES } from './rules.ts';
export { type ScanTextResult, scanText } from './scan-text.ts';
export { createScanner, type Scanner, type ScannerOptions, type ScanSummary } from './scanner.ts';
export {
  type Finding,
  REDACTED,
  type ScanMode,
  type ScanOptions,
  type SecretRule,
  type Severity,
} from './types.ts';
