import type { Result } from './errors.ts';
import { fail, ok } from './errors.ts';
import { decodePathSegment } from './request-target.ts';

/**
 * Scope path globs (SPEC §4 step 4), matched segment by segment against the
 * decoded segments of a canonical request target:
 *
 * - `*` as a whole segment matches exactly one non-empty segment;
 * - `**` as a whole segment matches zero or more whole segments;
 * - anything else is a literal, percent-decoded exactly as request paths are
 *   (so `/files/a%20b` and a request for `/files/a%20b` agree; `%2A` is a literal `*`).
 *
 * A trailing slash is ignored: `/v1/items/` is the same pattern as `/v1/items`.
 */
export type GlobPart =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'one' }
  | { readonly kind: 'any' };

export interface CompiledGlob {
  readonly source: string;
  /** Normalized: in each run of wildcards the `*`s come first and at most one `**` ends it. */
  readonly parts: readonly GlobPart[];
}

const ONE: GlobPart = Object.freeze({ kind: 'one' });
const ANY: GlobPart = Object.freeze({ kind: 'any' });

function invalid<T>(detail: string): Result<T> {
  return fail<T>('invalid_scope', detail);
}

export function compileGlob(pattern: string): Result<CompiledGlob> {
  if (!pattern.startsWith('/')) return invalid(`path pattern "${pattern}" must start with "/"`);
  const parts: GlobPart[] = [];
  if (pattern !== '/') {
    const body = pattern.endsWith('/') ? pattern.slice(1, -1) : pattern.slice(1);
    for (const raw of body.split('/')) {
      const part = compilePart(raw, pattern);
      if (!part.ok) return part;
      push(parts, part.value);
    }
  }
  return ok(Object.freeze({ source: pattern, parts: Object.freeze(parts) }));
}

function compilePart(raw: string, pattern: string): Result<GlobPart> {
  if (raw === '') return invalid(`path pattern "${pattern}" has an empty segment ("//")`);
  if (raw === '*') return ok(ONE);
  if (raw === '**') return ok(ANY);
  // Refused rather than read as literal text: `a*b` looks like a wildcard to a
  // reader, and a scope must never mean something other than it looks. `%2A` is a literal `*`.
  if (raw.includes('*')) {
    return invalid(
      `path pattern "${pattern}": "*" is a wildcard only as a whole segment; write %2A for a literal "*"`,
    );
  }
  const decoded = decodePathSegment(raw);
  if (!decoded.ok) return invalid(`path pattern "${pattern}": ${decoded.error.detail ?? 'invalid segment'}`);
  return ok({ kind: 'literal', text: decoded.value });
}

/** Appends, keeping runs of wildcards in the normal form `*…*` then at most one `**` (same language). */
function push(parts: GlobPart[], part: GlobPart): void {
  const last = parts.at(-1);
  if (part.kind === 'any' && last?.kind === 'any') return;
  if (part.kind === 'one' && last?.kind === 'any') {
    parts.splice(parts.length - 1, 0, ONE);
    return;
  }
  parts.push(part);
}

function matchesSegment(part: GlobPart, segment: string): boolean {
  return part.kind === 'one' ? segment !== '' : part.kind === 'literal' && part.text === segment;
}

/** Wildcard matching with backtracking to the last `**` only: O(parts × segments), no exponential cases. */
export function matchesGlob(glob: CompiledGlob, segments: readonly string[]): boolean {
  const parts = glob.parts;
  let p = 0;
  let s = 0;
  let anyAt = -1;
  let anyResume = 0;
  while (s < segments.length) {
    const part = parts[p];
    if (part?.kind === 'any') {
      anyAt = p++;
      anyResume = s;
    } else if (part !== undefined && matchesSegment(part, segments[s] ?? '')) {
      p++;
      s++;
    } else if (anyAt !== -1) {
      p = anyAt + 1;
      s = ++anyResume;
    } else {
      return false;
    }
  }
  while (parts[p]?.kind === 'any') p++;
  return p === parts.length;
}

export function matchesAny(globs: readonly CompiledGlob[], segments: readonly string[]): boolean {
  for (const glob of globs) if (matchesGlob(glob, segments)) return true;
  return false;
}

/**
 * True when every path `inner` matches is also matched by `outer` (set inclusion),
 * e.g. for provisioner bounds. Invalid patterns cover and are covered by nothing.
 */
export function globCovers(outer: string, inner: string): boolean {
  const o = compileGlob(outer);
  const i = compileGlob(inner);
  return o.ok && i.ok && partsCover(o.value.parts, i.value.parts);
}

/** The lengths a run of wildcards accepts: exactly `min`, or at least `min` when it holds a `**`. */
interface Run {
  readonly min: number;
  readonly open: boolean;
}

/** Outer pattern as `run literal run literal … run` (one more run than literals). */
function runsAndLiterals(parts: readonly GlobPart[]): { runs: Run[]; literals: string[] } {
  const runs: Run[] = [];
  const literals: string[] = [];
  let min = 0;
  let open = false;
  for (const part of parts) {
    if (part.kind === 'literal') {
      runs.push({ min, open });
      literals.push(part.text);
      min = 0;
      open = false;
    } else if (part.kind === 'one') {
      min++;
    } else {
      open = true;
    }
  }
  runs.push({ min, open });
  return { runs, literals };
}

/**
 * Inner `*` and `**` stand for segments no outer literal can equal (segments are an
 * unbounded alphabet), so outer literals can only line up with equal inner literals;
 * everything between two lined-up literals must fit the outer wildcard run there,
 * whatever lengths the inner `**`s take. A dynamic programme over (outer literal,
 * inner position) looks for one such alignment: O(outer × inner²). That a single
 * alignment suffices is checked against a brute-force oracle in test/core/path-glob.test.ts.
 */
function partsCover(outer: readonly GlobPart[], inner: readonly GlobPart[]): boolean {
  const { runs, literals } = runsAndLiterals(outer);
  // Prefix counts over inner: fixed[j] non-`**` parts and open[j] `**` parts before j.
  const fixed = [0];
  const open = [0];
  for (const part of inner) {
    fixed.push((fixed.at(-1) ?? 0) + (part.kind === 'any' ? 0 : 1));
    open.push((open.at(-1) ?? 0) + (part.kind === 'any' ? 1 : 0));
  }
  const gapFits = (run: Run | undefined, from: number, to: number): boolean => {
    if (run === undefined) return false;
    const length = (fixed[to] ?? 0) - (fixed[from] ?? 0);
    if (run.open) return length >= run.min;
    return length === run.min && open[to] === open[from];
  };
  // reachable[j]: outer literals so far lined up, the last one with inner part j - 1.
  let reachable = new Uint8Array(inner.length + 1);
  reachable[0] = 1;
  literals.forEach((literal, i) => {
    const next = new Uint8Array(inner.length + 1);
    for (let from = 0; from <= inner.length; from++) {
      if (reachable[from] !== 1) continue;
      for (let at = from; at < inner.length; at++) {
        const part = inner[at];
        if (part?.kind === 'literal' && part.text === literal && gapFits(runs[i], from, at)) next[at + 1] = 1;
      }
    }
    reachable = next;
  });
  for (let from = 0; from <= inner.length; from++) {
    if (reachable[from] === 1 && gapFits(runs[literals.length], from, inner.length)) return true;
  }
  return false;
}

/**
 * True when some path is matched by both patterns (their sets intersect), e.g.
 * whether an allowed pattern can reach a sensitive endpoint. Memoised search over
 * (position in a, position in b): a `**` either ends or swallows one segment the
 * other side produces; `*` and literals each stand for exactly one segment.
 */
export function globsOverlap(a: string, b: string): boolean {
  const x = compileGlob(a);
  const y = compileGlob(b);
  return x.ok && y.ok && partsOverlap(x.value.parts, y.value.parts);
}

function partsOverlap(a: readonly GlobPart[], b: readonly GlobPart[]): boolean {
  const seen = new Map<number, boolean>();
  const width = b.length + 1;
  const visit = (i: number, j: number): boolean => {
    const key = i * width + j;
    const known = seen.get(key);
    if (known !== undefined) return known;
    seen.set(key, false);
    const p = a[i];
    const q = b[j];
    let result: boolean;
    if (p === undefined && q === undefined) result = true;
    else if (p?.kind === 'any') result = visit(i + 1, j) || (q !== undefined && visit(i, j + 1));
    else if (q?.kind === 'any') result = visit(i, j + 1) || (p !== undefined && visit(i + 1, j));
    else if (p === undefined || q === undefined) result = false;
    else if (p.kind === 'literal' && q.kind === 'literal') result = p.text === q.text && visit(i + 1, j + 1);
    else result = visit(i + 1, j + 1);
    seen.set(key, result);
    return result;
  };
  return visit(0, 0);
}
