import type { FastifyReply, FastifyRequest } from 'fastify';
import { RelayError } from '../../core/errors.ts';
import { cidrContains, parseCidr, parseIp } from '../../core/ip.ts';
import type { ManagementToken } from '../../core/model.ts';
import { type CompiledGlob, compileGlob, matchesAny } from '../../core/path-glob.ts';
import { certificateAccepted } from '../client-cert.ts';
import { identifyClient, NO_TRUSTED_PROXIES, type TrustedProxies } from '../client-ip.ts';
import { noAuthFailureGuard } from '../proxy/policy.ts';
import type { ManagementContext } from './context.ts';

/** Management API accepts `Authorization: Bearer <token>` and `X-API-Key: <token>` (SPEC §3). */
export function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    return match?.[1];
  }
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey.trim() : undefined;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

function ipAllowed(ip: string, allowlist: readonly string[]): boolean {
  const addr = parseIp(ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip);
  return (
    addr !== undefined &&
    allowlist.some((c) => {
      const cidr = parseCidr(c);
      return cidr !== undefined && cidrContains(cidr, addr);
    })
  );
}

const scopeGlobs = new WeakMap<ManagementToken, CompiledGlob[]>();

function pathSegments(url: string): string[] | undefined {
  const path = url.split('?')[0] ?? '';
  try {
    return path
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

/** A token's own method/path scope over the management API (seed 002). */
function withinApiScope(token: ManagementToken, method: string, url: string): boolean {
  if (token.apiScope === null) return true;
  if (!token.apiScope.methods.includes(method)) return false;
  let globs = scopeGlobs.get(token);
  if (!globs) {
    globs = token.apiScope.paths.flatMap((p) => {
      const c = compileGlob(p);
      return c.ok ? [c.value] : [];
    });
    scopeGlobs.set(token, globs);
  }
  const segments = pathSegments(url);
  return segments !== undefined && matchesAny(globs, segments);
}

/** Seed 003 API-key scopes: `<resource>:<read|write>`, `<resource>:*`, `*`; none means full access. */
function withinKeyScopes(token: ManagementToken, resource: string | undefined, method: string): boolean {
  if (token.scopes.length === 0) return true;
  const action = READ_METHODS.has(method) ? 'read' : 'write';
  return token.scopes.some((s) => s === '*' || s === `${resource}:*` || s === `${resource}:${action}`);
}

/** RELAY_TRUSTED_PROXIES for the management API (set by main.ts; absent: the socket is the client). */
export interface ClientIdentityContext {
  readonly trustedProxies?: TrustedProxies;
}

/** Authentication failures the brute-force throttle counts (as the proxy does: 401s). */
const AUTH_FAILURES: ReadonlySet<string> = new Set(['unauthenticated', 'token_expired']);

/**
 * Runs on every request before its body is read, so an unauthenticated caller
 * learns nothing about schemas. Order: the brute-force throttle (429
 * too_many_auth_failures, an address that failed too often, whatever it sends
 * now), authenticate (401, counted against the address), network (403
 * ip_not_allowed), client certificate (403 client_certificate_required), the
 * token's own API scope, then its role. Viewers read;
 * provisioners reach only the routes marked for them; admins reach everything.
 */
export function authenticate(ctx: ManagementContext & ClientIdentityContext) {
  const trusted = ctx.trustedProxies ?? NO_TRUSTED_PROXIES;
  const guard = ctx.authGuard ?? noAuthFailureGuard;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const access = request.routeOptions.config?.access ?? 'admin';
    if (access === 'public' || request.routeOptions.url === undefined) return;
    // The client as the proxy plane sees it: the socket, or X-Forwarded-For from trusted proxies only.
    const client = identifyClient(request.raw.socket, request.raw.headers, trusted);
    const throttled = guard.blocked(client.ip);
    if (throttled) {
      if (throttled.headers) reply.headers(throttled.headers);
      throw new RelayError(throttled.code, throttled.detail);
    }
    let token: ManagementToken;
    try {
      token = await ctx.services.tokens.authenticate(presentedToken(request));
    } catch (error) {
      if (error instanceof RelayError && AUTH_FAILURES.has(error.code))
        guard.failed(client.ip, String(request.id));
      throw error;
    }
    request.principal = token;
    if (token.ipAllowlist.length > 0 && !ipAllowed(client.ip, token.ipAllowlist)) {
      throw new RelayError('ip_not_allowed', `this token may not be used from ${client.ip}`);
    }
    if (!certificateAccepted(token.policies, client.certFingerprint)) {
      throw new RelayError(
        'client_certificate_required',
        client.certFingerprint === undefined
          ? 'this token requires a registered client certificate'
          : 'the client certificate presented is not registered for this token',
      );
    }
    const method = request.method;
    const route = `${method} ${request.routeOptions.url}`;
    if (!withinApiScope(token, method, request.url))
      throw new RelayError('forbidden', `${route} is outside this token's api_scope`);
    const resource = request.routeOptions.schema?.tags?.[0];
    if (!withinKeyScopes(token, resource, method))
      throw new RelayError('forbidden', `${route} is outside this API key's scopes`);
    if (token.role === 'admin') return;
    if (token.role === 'viewer' && access === 'read' && READ_METHODS.has(method)) return;
    if (token.role === 'provisioner' && access === 'provision') return;
    throw new RelayError('forbidden', `a ${token.role} token may not ${route}`);
  };
}
