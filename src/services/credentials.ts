import { randomBase62 } from '../core/base62.ts';
import { RelayError, unwrap } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { parseCidr } from '../core/ip.ts';
import type {
  Actor,
  Credential,
  GeoRules,
  Grant,
  IpMode,
  ProvisionerBounds,
  Recipient,
} from '../core/model.ts';
import { compileGlob, globCovers } from '../core/path-glob.ts';
import { checkPolicies } from '../core/policies.ts';
import { findPreset, type Preset } from '../core/presets.ts';
import { checkRateProfileName } from '../core/rate-limit.ts';
import { hasHighFindings, reviewScope } from '../core/safety-review.ts';
import { hashToken, issueToken } from '../core/tokens.ts';
import type { ListOptions, Page, Repositories } from '../ports/store.ts';
import { recordAdminAction } from './admin-audit.ts';
import type { ServiceDeps } from './deps.ts';

export interface GrantInput {
  readonly connection_id: string;
  readonly allowed_methods: readonly string[];
  readonly allowed_paths: readonly string[];
  readonly deny_query_params?: readonly string[];
}

export interface IssueCredentialInput {
  readonly name: string;
  readonly recipient_id?: string;
  readonly grants: readonly GrantInput[];
  readonly ttl_seconds?: number;
  readonly expires_at?: string;
  readonly ip_mode?: IpMode;
  readonly ip_allowlist?: readonly string[];
  readonly rate_limit_profile?: string;
  readonly acknowledge_risks?: boolean;
  /** Hand the token over through a one-time link instead of in this response. */
  readonly share_link?: { readonly ttl_seconds?: number };
  readonly geo?: GeoRules;
  readonly client_cert_fingerprints?: readonly string[];
  readonly mtls_required?: boolean;
  /** A decoy (SPEC §8): kept in its policies; the proxy raises a critical event on any use. */
  readonly canary?: boolean;
}

export interface IssuedCredential {
  readonly credential: Credential;
  /** The token itself: returned once, never stored; null when it travels by share link. */
  readonly token: string | null;
  /** The one-time link's secret part (`/share/<secret>`), when one was asked for. */
  readonly shareSecret?: string;
  readonly shareExpiresAt?: string;
}

export interface IssueOptions {
  /** Set when a provisioner mints: the request must fall within these bounds. */
  readonly bounds?: ProvisionerBounds;
}

const DEFAULT_SHARE_TTL_SECONDS = 7 * 86_400;
const MAX_SHARE_TTL_SECONDS = 30 * 86_400;

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
/** Ten years: longer lifetimes are almost certainly a mistake. */
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

/** Patterns are compiled exactly as the proxy will compile them, so what is stored is what is enforced. */
function checkPathPattern(pattern: string, where: string): void {
  const compiled = compileGlob(pattern);
  if (!compiled.ok) {
    throw new RelayError(
      'invalid_scope',
      `${where}: "${pattern}" ${compiled.error.detail ?? 'is not a valid path pattern'}`,
    );
  }
}

export function normaliseGrant(input: GrantInput, index: number): Grant {
  const where = `grants[${index}]`;
  const methods = [...new Set(input.allowed_methods.map((m) => m.toUpperCase()))];
  for (const m of methods) {
    if (!(HTTP_METHODS as readonly string[]).includes(m)) {
      throw new RelayError(
        'invalid_scope',
        `${where}.allowed_methods: ${m} is not one of ${HTTP_METHODS.join(', ')}`,
      );
    }
  }
  if (methods.length === 0)
    throw new RelayError('invalid_scope', `${where}.allowed_methods must list at least one method`);
  if (input.allowed_paths.length === 0)
    throw new RelayError('invalid_scope', `${where}.allowed_paths must list at least one pattern`);
  for (const [i, p] of input.allowed_paths.entries()) checkPathPattern(p, `${where}.allowed_paths[${i}]`);
  return {
    connection_id: input.connection_id,
    allowed_methods: methods,
    allowed_paths: [...new Set(input.allowed_paths)],
    deny_query_params: [...new Set((input.deny_query_params ?? []).map((q) => q.toLowerCase()))],
  };
}

export function expiryFrom(
  nowMs: number,
  input: { ttl_seconds?: number; expires_at?: string },
): string | null {
  if (input.ttl_seconds !== undefined && input.expires_at !== undefined) {
    throw new RelayError('invalid_expiry', 'give ttl_seconds or expires_at, not both');
  }
  if (input.ttl_seconds !== undefined) {
    if (
      !Number.isInteger(input.ttl_seconds) ||
      input.ttl_seconds <= 0 ||
      input.ttl_seconds > MAX_TTL_SECONDS
    ) {
      throw new RelayError(
        'invalid_expiry',
        `ttl_seconds must be a whole number from 1 to ${MAX_TTL_SECONDS}`,
      );
    }
    return new Date(nowMs + input.ttl_seconds * 1000).toISOString();
  }
  if (input.expires_at !== undefined) {
    const at = Date.parse(input.expires_at);
    if (Number.isNaN(at)) throw new RelayError('invalid_expiry', 'expires_at must be an RFC 3339 date-time');
    if (at <= nowMs) throw new RelayError('invalid_expiry', 'expires_at must be in the future');
    if (at > nowMs + MAX_TTL_SECONDS * 1000)
      throw new RelayError('invalid_expiry', 'expires_at is more than ten years away');
    return new Date(at).toISOString();
  }
  return null;
}

export function checkIpAllowlist(list: readonly string[]): string[] {
  return list.map((entry, i) => {
    if (!parseCidr(entry))
      throw new RelayError(
        'validation_failed',
        `ip_allowlist[${i}]: "${entry}" is not an IP address or CIDR range`,
      );
    return entry;
  });
}

function defaultIpMode(recipient: Recipient | undefined, allowlist: readonly string[]): IpMode {
  if (allowlist.length > 0) return 'allowlist';
  // SPEC §6: new-IP confirmation is the default for people; services and agents use allowlists.
  return recipient?.kind === 'human' ? 'confirm_new_ip' : 'none';
}

/**
 * A provisioner may only narrow what its token was given (SPEC §2): connections,
 * lifetime, methods and paths are each checked as set inclusion (globs by
 * coverage, not string prefix), and it names no recipient.
 */
export function checkWithinBounds(
  input: IssueCredentialInput,
  grants: readonly Grant[],
  ttlSeconds: number | null,
  bounds: ProvisionerBounds,
): void {
  const outside = (detail: string): never => {
    throw new RelayError('outside_bounds', detail);
  };
  if (input.recipient_id !== undefined)
    outside('a provisioner mints standalone credentials: recipient_id is not allowed');
  if (ttlSeconds === null)
    outside(`a provisioner's credentials must expire (within ${bounds.max_ttl_seconds} s)`);
  if (ttlSeconds !== null && ttlSeconds > bounds.max_ttl_seconds) {
    outside(`lifetime ${ttlSeconds} s exceeds the bound of ${bounds.max_ttl_seconds} s`);
  }
  for (const [i, grant] of grants.entries()) {
    if (!bounds.connections.includes(grant.connection_id)) {
      outside(`grants[${i}]: connection ${grant.connection_id} is outside the bounds`);
    }
    for (const m of grant.allowed_methods) {
      if (!bounds.allowed_methods.includes(m)) outside(`grants[${i}]: method ${m} is outside the bounds`);
    }
    for (const p of grant.allowed_paths) {
      if (!bounds.allowed_paths.some((outer) => globCovers(outer, p))) {
        outside(`grants[${i}]: path "${p}" is not covered by the bounds`);
      }
    }
  }
}

function checkShareTtl(input: IssueCredentialInput): number | undefined {
  if (input.share_link === undefined) return undefined;
  const ttl = input.share_link.ttl_seconds ?? DEFAULT_SHARE_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > MAX_SHARE_TTL_SECONDS) {
    throw new RelayError(
      'validation_failed',
      `share_link.ttl_seconds must be from 60 to ${MAX_SHARE_TTL_SECONDS}`,
    );
  }
  return ttl;
}

export class CredentialService {
  readonly #deps: ServiceDeps;

  constructor(deps: ServiceDeps) {
    this.#deps = deps;
  }

  /** Checks each grant's connection exists; returns the preset behind each, for the safety review. */
  async #checkGrants(
    tx: Repositories,
    workspaceId: string,
    grants: readonly Grant[],
  ): Promise<Map<string, Preset | undefined>> {
    const presets = new Map<string, Preset | undefined>();
    for (const [i, grant] of grants.entries()) {
      if (presets.has(grant.connection_id)) {
        throw new RelayError(
          'invalid_scope',
          `grants[${i}]: connection ${grant.connection_id} is granted twice; merge the grants`,
        );
      }
      const connection = await tx.connections.get(workspaceId, grant.connection_id);
      if (!connection)
        throw new RelayError(
          'invalid_scope',
          `grants[${i}]: connection ${grant.connection_id} does not exist`,
        );
      presets.set(
        grant.connection_id,
        connection.preset === null ? undefined : findPreset(connection.preset),
      );
    }
    return presets;
  }

  async issue(
    actor: Actor,
    input: IssueCredentialInput,
    options: IssueOptions = {},
  ): Promise<IssuedCredential> {
    const { clock, store, bus, vault } = this.#deps;
    if (input.grants.length === 0)
      throw new RelayError('invalid_scope', 'grants must name at least one connection');
    const grants = input.grants.map(normaliseGrant);
    const now = clock.now();
    const expiresAt = expiryFrom(now, input);
    const ttlSeconds = expiresAt === null ? null : Math.round((Date.parse(expiresAt) - now) / 1000);
    const ipAllowlist = checkIpAllowlist(input.ip_allowlist ?? []);
    const policies = {
      ...unwrap(checkPolicies(input)),
      ...(input.canary === true ? { canary: true } : {}),
    };
    if (input.ip_mode === 'allowlist' && ipAllowlist.length === 0) {
      throw new RelayError('validation_failed', 'ip_mode allowlist needs a non-empty ip_allowlist');
    }
    if (options.bounds) checkWithinBounds(input, grants, ttlSeconds, options.bounds);
    const shareTtl = checkShareTtl(input);
    const issued = issueToken('proxy');
    const share =
      shareTtl === undefined
        ? undefined
        : {
            secret: randomBase62(40),
            expiresAt: new Date(now + shareTtl * 1000).toISOString(),
            id: newId('shareLink'),
          };
    const credential = await store.transaction(async (tx) => {
      let recipient: Recipient | undefined;
      if (input.recipient_id !== undefined) {
        recipient = await tx.recipients.get(actor.workspaceId, input.recipient_id);
        if (!recipient) throw new RelayError('not_found', `recipient ${input.recipient_id} not found`);
        if (recipient.revokedAt !== null)
          throw new RelayError('recipient_revoked', `recipient ${recipient.id} is revoked`);
      }
      const presets = await this.#checkGrants(tx, actor.workspaceId, grants);
      if (input.rate_limit_profile !== undefined) {
        const workspace = await tx.workspaces.get(actor.workspaceId);
        unwrap(checkRateProfileName(input.rate_limit_profile, workspace?.settings));
      }
      const ipMode = input.ip_mode ?? defaultIpMode(recipient, ipAllowlist);
      if (ipMode === 'confirm_new_ip' && (recipient?.kind !== 'human' || recipient.email === null)) {
        // The confirmation goes by e-mail to a person: without one, every new network would be refused forever.
        throw new RelayError(
          'validation_failed',
          'ip_mode confirm_new_ip needs a human recipient with an e-mail address; use allowlist (or none) otherwise',
        );
      }
      const review = reviewScope({
        grants,
        presets,
        ttlSeconds,
        recipientKind: recipient?.kind ?? null,
        ipMode,
      });
      if (hasHighFindings(review) && input.acknowledge_risks !== true) {
        const high = review.filter((f) => f.severity === 'high').map((f) => f.message);
        throw new RelayError(
          'risk_acknowledgement_required',
          `the safety review found high risks: ${high.join(' ')} Narrow the scope, or send acknowledge_risks: true.`,
          review.map((f) => ({ path: `review/${f.code}`, message: `[${f.severity}] ${f.message}` })),
        );
      }
      const record: Credential = {
        workspaceId: actor.workspaceId,
        id: newId('credential'),
        recipientId: recipient?.id ?? null,
        name: input.name,
        tokenHash: issued.hash,
        tokenPrefix: issued.displayPrefix,
        grants,
        expiresAt,
        ipMode,
        ipAllowlist,
        rateLimitProfile: input.rate_limit_profile ?? null,
        review,
        createdBy: actor.actor,
        createdAt: new Date(now).toISOString(),
        revokedAt: null,
        lastUsedAt: null,
        policies,
      };
      await tx.credentials.insert(record);
      if (share) {
        const ref = {
          table: 'share_links',
          workspaceId: actor.workspaceId,
          id: share.id,
          field: 'token_sealed',
        };
        await tx.shareLinks.insert({
          workspaceId: actor.workspaceId,
          id: share.id,
          secretHash: hashToken(share.secret),
          credentialId: record.id,
          tokenSealed: await vault.seal(issued.token, ref),
          expiresAt: share.expiresAt,
          createdAt: record.createdAt,
          openedAt: null,
        });
      }
      await recordAdminAction(tx, clock, actor, 'credential.issue', record.id, {
        name: record.name,
        recipient_id: record.recipientId,
        connections: grants.map((g) => g.connection_id),
        expires_at: expiresAt,
        findings: review.map((f) => `${f.severity}:${f.code}`),
        acknowledged_risks: hasHighFindings(review),
        share_link: share !== undefined,
        ...(policies.canary === true ? { canary: true } : {}),
      });
      return record;
    });
    await bus.publishInvalidation({ kind: 'credential', workspaceId: actor.workspaceId, id: credential.id });
    if (share) return { credential, token: null, shareSecret: share.secret, shareExpiresAt: share.expiresAt };
    return { credential, token: issued.token };
  }

  /**
   * Opens a share link once: returns the token and forgets it. A second open, an
   * expired link or a revoked credential all answer the same 410.
   */
  async openShareLink(secret: string): Promise<{ credential: Credential; token: string }> {
    const { store, clock, vault } = this.#deps;
    const spent = () =>
      new RelayError('share_link_spent', 'This link was already used, has expired, or never existed.');
    const link = await store.shareLinks.findBySecretHash(hashToken(secret));
    if (
      !link ||
      link.openedAt !== null ||
      link.tokenSealed === null ||
      Date.parse(link.expiresAt) <= clock.now()
    )
      throw spent();
    const ref = { table: 'share_links', workspaceId: link.workspaceId, id: link.id, field: 'token_sealed' };
    const token = await vault.open(link.tokenSealed, ref);
    // Claim first and commit the claim whatever follows, so the sealed token is
    // forgotten even when the credential turns out to be revoked.
    const credential = await store.transaction(async (tx) => {
      if (!(await tx.shareLinks.claim(link.workspaceId, link.id, new Date(clock.now()).toISOString())))
        return undefined;
      const found = await tx.credentials.get(link.workspaceId, link.credentialId);
      const actor = { workspaceId: link.workspaceId, actor: 'share_link', ip: null };
      await recordAdminAction(tx, clock, actor, 'credential.share_link.open', link.credentialId, {
        share_link_id: link.id,
        revealed: found !== undefined && found.revokedAt === null,
      });
      return found;
    });
    if (!credential || credential.revokedAt !== null) throw spent();
    return { credential, token };
  }

  async get(workspaceId: string, id: string): Promise<Credential> {
    const credential = await this.#deps.store.credentials.get(workspaceId, id);
    if (!credential) throw new RelayError('not_found', `credential ${id} not found`);
    return credential;
  }

  list(workspaceId: string, options: ListOptions & { recipientId?: string }): Promise<Page<Credential>> {
    return this.#deps.store.credentials.list(workspaceId, options);
  }

  /** Revocation is immediate: the row is marked and every cache is told before this returns. */
  async revoke(actor: Actor, id: string, options: { onlyCreatedBy?: string } = {}): Promise<Credential> {
    const { clock, store, bus } = this.#deps;
    const at = new Date(clock.now()).toISOString();
    await store.transaction(async (tx) => {
      const current = await tx.credentials.get(actor.workspaceId, id);
      if (!current || (options.onlyCreatedBy !== undefined && current.createdBy !== options.onlyCreatedBy)) {
        throw new RelayError('not_found', `credential ${id} not found`);
      }
      if (current.revokedAt === null) {
        await tx.credentials.markRevoked(actor.workspaceId, id, at);
        await recordAdminAction(tx, clock, actor, 'credential.revoke', id);
      }
    });
    await bus.publishInvalidation({ kind: 'credential', workspaceId: actor.workspaceId, id });
    return this.get(actor.workspaceId, id);
  }
}
