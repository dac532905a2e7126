import { RelayError, unwrap } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { cidrContains, parseCidr } from '../core/ip.ts';
import type { Actor, ApiScope, ManagementRole, ManagementToken, ProvisionerBounds } from '../core/model.ts';
import { compileGlob } from '../core/path-glob.ts';
import { checkPolicies } from '../core/policies.ts';
import { checkRateProfileName } from '../core/rate-limit.ts';
import { hashToken, issueToken, isWellFormedToken } from '../core/tokens.ts';
import type { ListOptions, Page, Repositories } from '../ports/store.ts';
import { recordAdminAction } from './admin-audit.ts';
import { checkIpAllowlist, HTTP_METHODS } from './credentials.ts';
import type { ServiceDeps } from './deps.ts';

export interface CreateManagementTokenInput {
  readonly name: string;
  readonly role: ManagementRole;
  readonly expires_at?: string;
  readonly ip_allowlist?: readonly string[];
  readonly api_scope?: ApiScope;
  readonly bounds?: ProvisionerBounds;
  readonly kind?: ManagementToken['kind'];
  readonly scopes?: readonly string[];
  readonly client_cert_fingerprints?: readonly string[];
  readonly mtls_required?: boolean;
  readonly rate_limit_profile?: string;
}

/** `last_used_at` is written at most this often per token, so reads do not turn into writes. */
const TOUCH_INTERVAL_MS = 60_000;
/** Longest grace period a rotation may give the old token. */
export const MAX_ROTATION_GRACE_SECONDS = 30 * 86_400;

/**
 * Seed 003 API-key scopes: `<resource>:<read|write>`, `<resource>:*` or `*`.
 * Resources are the management API's route groups.
 */
export const API_KEY_RESOURCES = [
  'connections',
  'recipients',
  'credentials',
  'tokens',
  'workspace',
  'audit',
] as const;
const SCOPE_PATTERN = new RegExp(`^(\\*|(${API_KEY_RESOURCES.join('|')}):(read|write|\\*))$`);

function checkMethods(methods: readonly string[], where: string): string[] {
  return methods.map((m) => {
    const upper = m.toUpperCase();
    if (!(HTTP_METHODS as readonly string[]).includes(upper)) {
      throw new RelayError('validation_failed', `${where}: ${m} is not one of ${HTTP_METHODS.join(', ')}`);
    }
    return upper;
  });
}

function checkPatterns(patterns: readonly string[], where: string): void {
  for (const p of patterns) {
    const compiled = compileGlob(p);
    if (!compiled.ok)
      throw new RelayError(
        'validation_failed',
        `${where}: "${p}" ${compiled.error.detail ?? 'is not a path pattern'}`,
      );
  }
}

function checkInput(input: CreateManagementTokenInput, nowMs: number): void {
  if (input.expires_at !== undefined) {
    const at = Date.parse(input.expires_at);
    if (Number.isNaN(at) || at <= nowMs)
      throw new RelayError('invalid_expiry', 'expires_at must be a future RFC 3339 date-time');
  }
  if (input.role === 'provisioner' && input.bounds === undefined) {
    throw new RelayError(
      'validation_failed',
      'a provisioner token needs bounds (connections, max_ttl_seconds, allowed_methods, allowed_paths)',
    );
  }
  if (input.role !== 'provisioner' && input.bounds !== undefined) {
    throw new RelayError('validation_failed', 'bounds apply to provisioner tokens only');
  }
  if (input.api_scope) {
    checkMethods(input.api_scope.methods, 'api_scope.methods');
    checkPatterns(input.api_scope.paths, 'api_scope.paths');
  }
  if (input.bounds) {
    checkMethods(input.bounds.allowed_methods, 'bounds.allowed_methods');
    checkPatterns(input.bounds.allowed_paths, 'bounds.allowed_paths');
  }
  for (const scope of input.scopes ?? []) {
    if (!SCOPE_PATTERN.test(scope)) {
      throw new RelayError(
        'validation_failed',
        `scope "${scope}" is not <resource>:<read|write|*> (resources: ${API_KEY_RESOURCES.join(', ')}) or *`,
      );
    }
  }
}

/**
 * No escalation: what a token creates or rotates may not reach further than the
 * token itself. A caller narrowed by API-key scopes or an api_scope manages no
 * tokens at all, except scoped API keys within its own scopes; a caller pinned to
 * networks or an expiry can only hand out tokens pinned as tightly.
 * (`caller` undefined: an operator on the server, via the CLI.)
 */
function scopeCovers(outer: readonly string[], inner: string): boolean {
  const [resource] = inner.split(':');
  return outer.some((o) => o === '*' || o === inner || o === `${resource}:*`);
}

function withinNetworks(outer: readonly string[], inner: readonly string[]): boolean {
  if (outer.length === 0) return true;
  if (inner.length === 0) return false;
  const ranges = outer.map((c) => parseCidr(c)).filter((c) => c !== undefined);
  return inner.every((entry) => {
    const cidr = parseCidr(entry);
    if (!cidr) return false;
    // inner ⊆ outer when one outer range contains inner's base and is at least as wide.
    return ranges.some((r) => r.bits <= cidr.bits && cidrContains(r, cidr.base));
  });
}

export function checkNoEscalation(
  caller: ManagementToken | undefined,
  wanted: {
    kind: ManagementToken['kind'];
    scopes: readonly string[];
    ipAllowlist: readonly string[];
    expiresAt: string | null;
  },
): void {
  if (caller === undefined) return;
  const refuse = (why: string): never => {
    throw new RelayError('forbidden', `a token cannot create or rotate a token wider than itself: ${why}`);
  };
  if (caller.apiScope !== null) refuse('this token has an api_scope');
  if (caller.scopes.length > 0) {
    if (wanted.kind !== 'api_key') refuse('a scoped API key may only create scoped API keys');
    if (wanted.scopes.length === 0) refuse('the new key would have full access');
    const wider = wanted.scopes.find((s) => !scopeCovers(caller.scopes, s));
    if (wider !== undefined) refuse(`scope ${wider} is not within this key's scopes`);
  }
  if (!withinNetworks(caller.ipAllowlist, wanted.ipAllowlist))
    refuse("its ip_allowlist must lie within this token's");
  if (caller.expiresAt !== null && (wanted.expiresAt === null || wanted.expiresAt > caller.expiresAt)) {
    refuse('it must expire no later than this token');
  }
}

export async function insertManagementToken(
  tx: Repositories,
  actor: Actor,
  nowMs: number,
  input: CreateManagementTokenInput,
): Promise<{ record: ManagementToken; token: string }> {
  const issued = issueToken('management');
  const record: ManagementToken = {
    workspaceId: actor.workspaceId,
    id: newId('managementToken'),
    name: input.name,
    role: input.role,
    tokenHash: issued.hash,
    tokenPrefix: issued.displayPrefix,
    expiresAt: input.expires_at === undefined ? null : new Date(input.expires_at).toISOString(),
    ipAllowlist: checkIpAllowlist(input.ip_allowlist ?? []),
    apiScope: input.api_scope
      ? {
          methods: checkMethods(input.api_scope.methods, 'api_scope.methods'),
          paths: [...input.api_scope.paths],
        }
      : null,
    bounds: input.bounds
      ? {
          ...input.bounds,
          allowed_methods: checkMethods(input.bounds.allowed_methods, 'bounds.allowed_methods'),
        }
      : null,
    createdBy: actor.actor,
    createdAt: new Date(nowMs).toISOString(),
    revokedAt: null,
    lastUsedAt: null,
    kind: input.kind ?? 'token',
    scopes: [...new Set(input.scopes ?? [])],
    previousTokenHash: null,
    previousValidUntil: null,
    policies: {
      ...unwrap(checkPolicies(input, 'token')),
      ...(input.rate_limit_profile === undefined ? {} : { rate_limit_profile: input.rate_limit_profile }),
    },
  };
  await tx.managementTokens.insert(record);
  return { record, token: issued.token };
}

export class ManagementTokenService {
  readonly #deps: ServiceDeps;

  constructor(deps: ServiceDeps) {
    this.#deps = deps;
  }

  async create(
    actor: Actor,
    input: CreateManagementTokenInput,
    caller?: ManagementToken,
  ): Promise<{ record: ManagementToken; token: string }> {
    const { clock, store } = this.#deps;
    checkInput(input, clock.now());
    checkNoEscalation(caller, {
      kind: input.kind ?? 'token',
      scopes: input.scopes ?? [],
      ipAllowlist: input.ip_allowlist ?? [],
      expiresAt: input.expires_at === undefined ? null : new Date(input.expires_at).toISOString(),
    });
    return store.transaction(async (tx) => {
      if (input.rate_limit_profile !== undefined) {
        const workspace = await tx.workspaces.get(actor.workspaceId);
        unwrap(checkRateProfileName(input.rate_limit_profile, workspace?.settings));
      }
      const created = await insertManagementToken(tx, actor, clock.now(), input);
      await recordAdminAction(
        tx,
        clock,
        actor,
        `${created.record.kind === 'api_key' ? 'api_key' : 'management_token'}.create`,
        created.record.id,
        {
          name: input.name,
          role: input.role,
          ...(input.scopes === undefined ? {} : { scopes: input.scopes }),
        },
      );
      return created;
    });
  }

  /**
   * Resolves a presented token. Lookup is by SHA-256 hash, never by comparing
   * plaintext; every failure is the same 401 except expiry, which says so (seed 003).
   * A rotated-out token works until its grace period ends.
   */
  async authenticate(presented: string | undefined): Promise<ManagementToken> {
    const { store, clock } = this.#deps;
    if (presented === undefined || !isWellFormedToken(presented, 'management')) {
      throw new RelayError('unauthenticated', 'Invalid or missing API key');
    }
    const hash = hashToken(presented);
    const token = await store.managementTokens.findByHash(hash);
    if (!token || token.revokedAt !== null)
      throw new RelayError('unauthenticated', 'Invalid or missing API key');
    const now = clock.now();
    if (token.tokenHash !== hash) {
      const graceEnds = token.previousValidUntil === null ? 0 : Date.parse(token.previousValidUntil);
      if (token.previousTokenHash !== hash || graceEnds <= now)
        throw new RelayError('unauthenticated', 'Invalid or missing API key');
    }
    if (token.expiresAt !== null && Date.parse(token.expiresAt) <= now) {
      throw new RelayError('token_expired', 'API key expired');
    }
    if (token.lastUsedAt === null || now - Date.parse(token.lastUsedAt) > TOUCH_INTERVAL_MS) {
      // Best effort and off the request path: a failed touch must not fail the request.
      store.managementTokens.touch(token.workspaceId, token.id, new Date(now).toISOString()).catch(() => {});
    }
    return token;
  }

  list(
    workspaceId: string,
    options: ListOptions & { kind?: ManagementToken['kind'] },
  ): Promise<Page<ManagementToken>> {
    return this.#deps.store.managementTokens.list(workspaceId, options);
  }

  async get(workspaceId: string, id: string, kind?: ManagementToken['kind']): Promise<ManagementToken> {
    const token = await this.#deps.store.managementTokens.get(workspaceId, id);
    if (!token || (kind !== undefined && token.kind !== kind))
      throw new RelayError('not_found', `token ${id} not found`);
    return token;
  }

  async revoke(actor: Actor, id: string, kind?: ManagementToken['kind']): Promise<ManagementToken> {
    const { clock, store, bus } = this.#deps;
    await store.transaction(async (tx) => {
      const current = await tx.managementTokens.get(actor.workspaceId, id);
      if (!current || (kind !== undefined && current.kind !== kind))
        throw new RelayError('not_found', `token ${id} not found`);
      if (current.revokedAt === null) {
        await tx.managementTokens.markRevoked(actor.workspaceId, id, new Date(clock.now()).toISOString());
        await recordAdminAction(
          tx,
          clock,
          actor,
          `${current.kind === 'api_key' ? 'api_key' : 'management_token'}.revoke`,
          id,
        );
      }
    });
    await bus.publishInvalidation({ kind: 'management_token', workspaceId: actor.workspaceId, id });
    return this.get(actor.workspaceId, id);
  }

  /**
   * Issues a new secret for the token; the old one keeps working for `graceSeconds`
   * (0: stops at once), so clients can be switched over without an outage.
   */
  async rotate(
    actor: Actor,
    id: string,
    graceSeconds: number,
    caller?: ManagementToken,
  ): Promise<{ record: ManagementToken; token: string }> {
    const { clock, store, bus } = this.#deps;
    if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_ROTATION_GRACE_SECONDS) {
      throw new RelayError(
        'validation_failed',
        `grace_period_seconds must be a whole number from 0 to ${MAX_ROTATION_GRACE_SECONDS}`,
      );
    }
    const issued = issueToken('management');
    const previousValidUntil = new Date(clock.now() + graceSeconds * 1000).toISOString();
    await store.transaction(async (tx) => {
      const current = await tx.managementTokens.get(actor.workspaceId, id);
      if (!current) throw new RelayError('not_found', `token ${id} not found`);
      if (current.revokedAt !== null) throw new RelayError('conflict', `token ${id} is revoked`);
      // Rotating hands over the token's power: only to a caller at least as broad.
      checkNoEscalation(caller, {
        kind: current.kind,
        scopes: current.scopes,
        ipAllowlist: current.ipAllowlist,
        expiresAt: current.expiresAt,
      });
      await tx.managementTokens.rotate(actor.workspaceId, id, {
        tokenHash: issued.hash,
        tokenPrefix: issued.displayPrefix,
        previousValidUntil,
      });
      await recordAdminAction(tx, clock, actor, 'management_token.rotate', id, {
        grace_period_seconds: graceSeconds,
        previous_valid_until: previousValidUntil,
      });
    });
    await bus.publishInvalidation({ kind: 'management_token', workspaceId: actor.workspaceId, id });
    return { record: await this.get(actor.workspaceId, id), token: issued.token };
  }
}
