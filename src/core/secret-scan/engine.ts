import { patternBounds } from './pattern-bounds.ts';
import { type Finding, REDACTED, type ScanMode, type SecretRule } from './types.ts';

/**
 * The scanning engine behind `scanText` and `createScanner`: text goes in piece by
 * piece, findings and (in redact and reject modes) the text that may leave come out.
 *
 * Whole-text semantics, which a stream reproduces exactly whatever its chunking:
 * each rule scans left to right (after a pattern match, validated or not, the rule
 * resumes at its end); findings of all rules are then taken by start, longest first,
 * then rule order, and one overlapping an earlier finding is dropped.
 *
 * Streaming: every pattern is bounded (`patternBounds`), so whether a rule matches at
 * position q depends only on the text in [q - lookbehind, q + maxLength + lookahead).
 * A rule's result at q is final once that much text has arrived; each rule remembers
 * where its undecided region begins, and the engine keeps only the text from the
 * earliest of those, less that rule's lookbehind. That tail never exceeds
 * `tailBound(rules)` characters, whatever the length of the stream. A finding is
 * settled (reported, redacted, rejected) once no rule can still find an earlier-starting
 * one, so in reject mode the error comes at most the tail after the secret.
 */

interface CompiledRule {
  readonly id: string;
  readonly re: RegExp;
  /** How far past a match start the pattern may read: maxLength + lookahead. */
  readonly horizon: number;
  /** How far before a match start it may read, and so where a finding may start (`lead`). */
  readonly lookbehind: number;
  readonly validate: ((value: string) => boolean) | undefined;
}

interface Candidate {
  readonly rule: number;
  readonly start: number;
  readonly end: number;
}

const boundsCache = new WeakMap<SecretRule, CompiledRule>();

function compile(rule: SecretRule): CompiledRule {
  let compiled = boundsCache.get(rule);
  if (compiled === undefined) {
    const bounds = patternBounds(rule.pattern);
    const flags = `${rule.pattern.flags.replace(/[gy]/g, '')}g`;
    compiled = {
      id: rule.id,
      re: new RegExp(rule.pattern.source, flags),
      horizon: bounds.maxLength + bounds.lookahead,
      lookbehind: bounds.lookbehind,
      validate: rule.validate,
    };
    boundsCache.set(rule, compiled);
  }
  // Each engine gets its own RegExp: `lastIndex` is per-object state.
  return { ...compiled, re: new RegExp(compiled.re) };
}

/**
 * The most text a scanner over `rules` carries between chunks: over all rules, the
 * farthest a rule may read before and after the place a match starts.
 */
export function tailBound(rules: readonly SecretRule[]): number {
  return rules.reduce((most, rule) => {
    const compiled = compile(rule);
    return Math.max(most, compiled.lookbehind + compiled.horizon);
  }, 0);
}

export interface EngineOptions {
  readonly mode: ScanMode;
  readonly rules: readonly SecretRule[];
  /** Build the text that may leave (redact and reject modes); warn mode passes input through unchanged. */
  readonly emit: boolean;
  readonly maxFindings: number;
  readonly onFinding?: ((finding: Finding) => void) | undefined;
}

export interface Engine {
  /** Adds text and returns what may now leave (always '' unless `emit`). `final` marks the end of input. */
  feed(text: string, final: boolean): string;
  /** Findings so far, in order, at most `maxFindings` of them. */
  readonly findings: readonly Finding[];
  readonly findingCount: number;
  /** Reject mode: the first finding; the engine then stops. */
  readonly rejected: Finding | undefined;
  /** Characters held now (the carry-over tail). */
  readonly retained: number;
}

/**
 * The finding a match makes: the whole match, or its trailing `value` group (the context
 * before it is not part of the secret), or, with a `lead` group read in a lookbehind that
 * ends where the match starts, from the start of `lead` to the end of the match.
 */
function spanOf(rule: number, m: RegExpExecArray, start: number, end: number): Candidate {
  const value = m.groups?.['value'];
  if (value !== undefined) return { rule, start: end - value.length, end };
  const lead = m.groups?.['lead'];
  if (lead !== undefined) return { rule, start: start - lead.length, end };
  return { rule, start, end };
}

function byPosition(a: Candidate, b: Candidate): number {
  return a.start - b.start || b.end - a.end || a.rule - b.rule;
}

export function createEngine(options: EngineOptions): Engine {
  const rules = options.rules.map(compile);
  /** Per rule: absolute offset before which its results are final. */
  const next = rules.map(() => 0);
  const findings: Finding[] = [];
  /** Kept findings whose text has not been emitted yet (redact mode). */
  const unredacted: Finding[] = [];
  let pending: Candidate[] = [];
  let text = '';
  let base = 0;
  let emitted = 0;
  let keptEnd = 0;
  let findingCount = 0;
  let rejected: Finding | undefined;
  let stopped = false;

  function scanRule(index: number, end: number, final: boolean): number {
    const rule = rules[index] as CompiledRule;
    const re = rule.re;
    let from = next[index] as number;
    re.lastIndex = from - base;
    for (;;) {
      const m = re.exec(text);
      if (m === null) return final ? end : Math.max(from, end - rule.horizon);
      const start = base + m.index;
      if (!final && start + rule.horizon > end) return Math.max(from, end - rule.horizon);
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      from = start + m[0].length;
      const candidate = spanOf(index, m, start, from);
      if (
        rule.validate === undefined ||
        rule.validate(text.slice(candidate.start - base, candidate.end - base))
      ) {
        pending.push(candidate);
      }
    }
  }

  function keep(candidate: Candidate): void {
    const rule = (rules[candidate.rule] as CompiledRule).id;
    const finding: Finding = { rule, start: candidate.start, end: candidate.end };
    keptEnd = finding.end;
    findingCount++;
    if (findings.length < options.maxFindings) findings.push(finding);
    if (options.mode === 'redact') unredacted.push(finding);
    if (options.mode === 'reject') rejected = finding;
    options.onFinding?.(finding);
  }

  /** Every candidate starting before `frontier` is known: take them in order, dropping overlaps. */
  function settle(frontier: number): void {
    if (pending.length === 0) return;
    pending.sort(byPosition);
    let i = 0;
    for (; i < pending.length; i++) {
      const candidate = pending[i] as Candidate;
      if (candidate.start >= frontier) break;
      if (candidate.start < keptEnd) continue;
      keep(candidate);
      if (rejected !== undefined) return;
    }
    if (i > 0) pending = pending.slice(i);
  }

  function emitUpTo(until: number): string {
    let out = '';
    let pos = emitted;
    while (unredacted.length > 0 && (unredacted[0] as Finding).start < until) {
      const finding = unredacted.shift() as Finding;
      out += text.slice(pos - base, finding.start - base) + REDACTED;
      pos = finding.end;
    }
    if (pos < until) out += text.slice(pos - base, until - base);
    emitted = until;
    return out;
  }

  function feed(chunk: string, final: boolean): string {
    if (stopped) return '';
    text = text.length === 0 ? chunk : text + chunk;
    const end = base + text.length;
    // No finding yet to come can start before `frontier`, nor any rule read before it.
    let frontier = end;
    for (let i = 0; i < rules.length; i++) {
      const decided = scanRule(i, end, final);
      next[i] = decided;
      frontier = Math.min(frontier, decided - (rules[i] as CompiledRule).lookbehind);
    }
    if (final) frontier = end;
    settle(frontier);
    if (rejected !== undefined) {
      stopped = true;
      text = '';
      pending = [];
      return '';
    }
    // A finding that straddles the frontier is already known whole: it can leave whole.
    const out = options.emit ? emitUpTo(Math.max(frontier, keptEnd, emitted)) : '';
    if (final) {
      stopped = true;
      text = '';
      return out;
    }
    const keepFrom = Math.max(base, frontier);
    text = text.slice(keepFrom - base);
    base = keepFrom;
    return out;
  }

  return {
    feed,
    get findings() {
      return findings;
    },
    get findingCount() {
      return findingCount;
    },
    get rejected() {
      return rejected;
    },
    get retained() {
      return text.length;
    },
  };
}
