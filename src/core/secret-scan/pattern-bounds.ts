/**
 * How far a regular expression can read around the place a match starts: the
 * longest text it can match and the farthest its lookarounds look. A stream scanner
 * needs these to know when a match (or the absence of one) at a position is final,
 * and so how much text it must carry from one chunk to the next.
 *
 * Derived from the pattern rather than declared beside it, so a rule cannot claim a
 * bound its pattern breaks. Unbounded quantifiers (`*`, `+`, `{n,}`), anchors and
 * named back-references are refused: a streaming rule must not need them.
 */
export interface PatternBounds {
  /** Longest text the pattern can match. */
  readonly maxLength: number;
  /** Characters lookbehinds (and `\b`) may read before the match start (an upper bound). */
  readonly lookbehind: number;
  /** Characters lookaheads (and `\b`) may read past the farthest possible match end (an upper bound). */
  readonly lookahead: number;
}

const QUANTIFIER = /^\{(\d+)(,(\d*))?\}/;

export function patternBounds(pattern: RegExp): PatternBounds {
  const src = pattern.source;
  let pos = 0;
  let lookbehind = 0;
  let lookahead = 0;
  const groups: number[] = [];

  function fail(reason: string): never {
    throw new Error(`pattern /${src}/ at ${pos}: ${reason}`);
  }

  function alternation(): number {
    let longest = sequence();
    while (src[pos] === '|') {
      pos++;
      longest = Math.max(longest, sequence());
    }
    return longest;
  }

  function sequence(): number {
    let total = 0;
    while (pos < src.length && src[pos] !== '|' && src[pos] !== ')') total += quantified(atom());
    return total;
  }

  function quantified(length: number): number {
    const ch = src[pos];
    if (ch === '*' || ch === '+') fail('unbounded quantifier');
    let times = 1;
    if (ch === '?') {
      pos++;
    } else if (ch === '{') {
      const m = QUANTIFIER.exec(src.slice(pos));
      if (m === null) return length; // a literal '{' (outside unicode mode)
      if (m[2] !== undefined && m[3] === '') fail('unbounded quantifier');
      times = Number(m[3] ?? m[1]);
      pos += m[0].length;
    } else {
      return length;
    }
    if (src[pos] === '?') pos++; // lazy: same bound
    return length * times;
  }

  function atom(): number {
    const ch = src[pos++];
    if (ch === '(') return group();
    if (ch === '[') return charClass();
    if (ch === '\\') return escaped();
    if (ch === '^' || ch === '$') fail('anchors depend on where a chunk starts');
    return 1;
  }

  function group(): number {
    if (src.startsWith('?:', pos)) return closeGroup(2, 'plain');
    if (src.startsWith('?=', pos) || src.startsWith('?!', pos)) return closeGroup(2, 'ahead');
    if (src.startsWith('?<=', pos) || src.startsWith('?<!', pos)) return closeGroup(3, 'behind');
    const index = groups.length;
    groups.push(Number.POSITIVE_INFINITY); // a reference inside its own group cannot be bounded yet
    if (src.startsWith('?<', pos)) pos = src.indexOf('>', pos) + 1; // a named group
    const length = closeGroup(0, 'plain');
    groups[index] = length;
    return length;
  }

  function closeGroup(skip: number, kind: 'plain' | 'ahead' | 'behind'): number {
    pos += skip;
    const length = alternation();
    if (src[pos] !== ')') fail('unclosed group');
    pos++;
    // Summed, not maxed: a lookaround nested in another, or placed after consumed
    // characters, reaches no farther than the sum of their lengths.
    if (kind === 'ahead') lookahead += length;
    if (kind === 'behind') lookbehind += length;
    return kind === 'plain' ? length : 0;
  }

  function charClass(): number {
    while (pos < src.length && src[pos] !== ']') pos += src[pos] === '\\' ? 2 : 1;
    if (pos >= src.length) fail('unclosed character class');
    pos++;
    return 1;
  }

  function escaped(): number {
    const ch = src[pos++] as string;
    if (ch >= '1' && ch <= '9') {
      const length = groups[Number(ch) - 1];
      if (length === undefined || !Number.isFinite(length)) fail('back-reference to an unknown group');
      return length;
    }
    if (ch === 'b' || ch === 'B') {
      lookbehind += 1;
      lookahead += 1;
      return 0;
    }
    if (ch === 'k') fail('named back-references are not supported');
    if (ch === 'x') pos += 2;
    if (ch === 'u') pos += 4;
    if (ch === 'c') pos += 1;
    return 1;
  }

  const maxLength = alternation();
  if (pos !== src.length) fail('unbalanced parenthesis');
  return { maxLength, lookbehind, lookahead };
}
