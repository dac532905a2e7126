import type { Result } from './errors.ts';
import { fail, ok } from './errors.ts';
import type { Grant } from './model.ts';
import type { CompiledGlob } from './path-glob.ts';
import { compileGlob, matchesAny } from './path-glob.ts';
import type { CanonicalTarget } from './request-target.ts';

/**
 * Scope evaluation (SPEC §4 step 4): default deny, and the upstream is never
 * contacted on refusal. Checks run in a fixed order so the error code is stable:
 * connection → method override → method → path → denied query parameters.
 */
export interface ScopeInput {
  readonly grants: readonly Grant[];
  readonly connectionId: string;
  readonly method: string;
  readonly target: CanonicalTarget;
  /** Request header lookup by lowercase name. */
  readonly headers: (name: string) => string | undefined;
}

export interface CompiledGrant {
  readonly grant: Grant;
  /** Uppercased. `*` has no special meaning here: it is refused by the management plane. */
  readonly methods: ReadonlySet<string>;
  /** Patterns that fail to compile are left out: they match nothing (fail closed). */
  readonly paths: readonly CompiledGlob[];
  /** Normalized with `queryParamBaseName`. */
  readonly deniedQueryParams: ReadonlySet<string>;
}

/**
 * Headers that ask a server to treat the request as another method (Google and
 * Microsoft APIs, Express method-override, Symfony). Honouring one would let a
 * GET-only credential DELETE, so their mere presence is refused.
 */
const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;
/** The same trick as a query parameter (Symfony and Laravel `_method`). */
const METHOD_OVERRIDE_PARAM = '_method';

const compiled = new WeakMap<Grant, CompiledGrant>();

/** Compiles once per grant object; keep grant objects stable (e.g. in the credential cache) to hit the cache. */
export function compileGrant(grant: Grant): CompiledGrant {
  const cached = compiled.get(grant);
  if (cached !== undefined) return cached;
  const paths: CompiledGlob[] = [];
  for (const pattern of grant.allowed_paths) {
    const glob = compileGlob(pattern);
    if (glob.ok) paths.push(glob.value);
  }
  const denied = grant.deny_query_params.map(queryParamBaseName).filter((name) => name !== '');
  const result: CompiledGrant = Object.freeze({
    grant,
    methods: new Set(grant.allowed_methods.map((method) => method.toUpperCase())),
    paths: Object.freeze(paths),
    deniedQueryParams: new Set(denied),
  });
  compiled.set(grant, result);
  return result;
}

/**
 * The name a server sees: lowercased and trimmed, with Rails/PHP bracket forms
 * (`name[]`, `name[x][y]`, and Rack's leading `[name]`) reduced to `name`.
 */
export function queryParamBaseName(name: string): string {
  const lower = name.toLowerCase();
  let start = 0;
  while (lower[start] === '[' || lower[start] === ']' || lower[start] === ' ') start++;
  let end = start;
  while (end < lower.length && lower[end] !== '[' && lower[end] !== ']') end++;
  return lower.slice(start, end).trim();
}

/**
 * The first query parameter whose base name passes `test`, as the caller wrote it.
 * Rack before 3.0 and Python before 3.9.2 also split queries on `;` (HTML 4.01
 * §B.2.2), so names after a `;` count too: a denied name cannot hide behind one.
 */
function findQueryParam(
  query: CanonicalTarget['query'],
  test: (baseName: string) => boolean,
): string | undefined {
  for (const [name, value] of query) {
    if (test(queryParamBaseName(name))) return name;
    if (!name.includes(';') && !value.includes(';')) continue;
    const pieces = `${name}=${value}`.split(';');
    for (let i = 1; i < pieces.length; i++) {
      const piece = pieces[i] ?? '';
      const hidden = piece.slice(0, piece.includes('=') ? piece.indexOf('=') : piece.length);
      if (test(queryParamBaseName(hidden))) return hidden;
    }
  }
  return undefined;
}

export function evaluateScope(input: ScopeInput): Result<{ grant: Grant }> {
  const { connectionId, target } = input;
  const grant = input.grants.find((candidate) => candidate.connection_id === connectionId);
  // A target for another connection than the one asked about is a caller bug: fail closed.
  if (grant === undefined || target.connectionId !== connectionId) {
    return fail('connection_not_granted', `this credential has no grant for connection ${connectionId}`);
  }
  for (const header of METHOD_OVERRIDE_HEADERS) {
    if (input.headers(header) !== undefined) {
      return fail('method_override_refused', `header ${header} is refused`);
    }
  }
  if (findQueryParam(target.query, (name) => name === METHOD_OVERRIDE_PARAM) !== undefined) {
    return fail('method_override_refused', `query parameter ${METHOD_OVERRIDE_PARAM} is refused`);
  }
  const rules = compileGrant(grant);
  // RFC 9110 §9.3.2: HEAD is its own method; a grant lists it or refuses it.
  const method = input.method.toUpperCase();
  if (!rules.methods.has(method)) {
    return fail('method_not_allowed', `method ${method} is not in allowed_methods for ${connectionId}`);
  }
  if (!matchesAny(rules.paths, target.segments)) {
    return fail('path_not_allowed', `path ${target.path} matches none of allowed_paths for ${connectionId}`);
  }
  if (rules.deniedQueryParams.size > 0) {
    const denied = findQueryParam(target.query, (name) => rules.deniedQueryParams.has(name));
    if (denied !== undefined) return fail('query_param_denied', `query parameter "${denied}" is denied`);
  }
  return ok({ grant });
}
