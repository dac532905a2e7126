import type { ErrorCode } from '../../core/errors.ts';
import type { CanonicalTarget } from '../../core/request-target.ts';
import type { HeaderBag } from '../header-bag.ts';
import type { AuthEntry } from './auth-cache.ts';
import type { Upstream } from './upstreams.ts';

/**
 * One access policy of the proxy's step 3 (SPEC §4): workspace lockdown, IP
 * rules, new-IP confirmation, geo rules, client certificates, rate limits. Each
 * is a small module; `server.ts` lists them in order and the pipeline runs them
 * after authentication and before scope. The first refusal wins and is audited.
 */
export interface PolicyContext {
  readonly req: { readonly headers: HeaderBag };
  readonly requestId: string;
  /** The client address as Relay trusts it (socket, or X-Forwarded-For from trusted proxies). */
  readonly clientIp: string;
  /**
   * SHA-256 fingerprint (normalised) of the client certificate: verified by Relay's own
   * TLS listener, or from `X-Client-Cert-Fingerprint` sent by a trusted proxy. Absent: none.
   */
  readonly clientCertFingerprint?: string | undefined;
  readonly entry: AuthEntry;
  readonly upstream: Upstream;
  readonly target: CanonicalTarget;
  readonly now: number;
}

export interface PolicyRefusal {
  readonly code: ErrorCode;
  readonly detail?: string;
  /** Extra response headers (e.g. `Retry-After`). */
  readonly headers?: Readonly<Record<string, string>>;
}

export type PolicyResult = PolicyRefusal | undefined;

export interface ProxyPolicy {
  readonly name: string;
  /** Synchronous when it can be (the common case costs no promise), a promise when it must read or write state. */
  check(ctx: PolicyContext): PolicyResult | Promise<PolicyResult>;
}

/** Runs policies in order; stays synchronous until a policy answers with a promise. */
export function runPolicies(
  policies: readonly ProxyPolicy[],
  ctx: PolicyContext,
): PolicyResult | Promise<PolicyResult> {
  for (let i = 0; i < policies.length; i++) {
    const result = (policies[i] as ProxyPolicy).check(ctx);
    if (result instanceof Promise) return result.then((r) => r ?? runPolicies(policies.slice(i + 1), ctx));
    if (result !== undefined) return result;
  }
  return undefined;
}

/**
 * Brute-force defence around authentication (SPEC §8): `blocked` is asked before
 * any credential check, `failed` is told of every authentication failure.
 */
export interface AuthFailureGuard {
  blocked(ip: string): PolicyResult;
  failed(ip: string, requestId: string): void;
}

export const noAuthFailureGuard: AuthFailureGuard = {
  blocked: () => undefined,
  failed: () => {},
};
