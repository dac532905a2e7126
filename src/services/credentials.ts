import { RelayError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { parseCidr } from '../core/ip.ts';
import { compileGlob } from '../core/path-glob.ts';
import type { Actor, Credential, Grant, IpMode, Recipient } from '../core/model.ts';
import { issueToken } from '../core/tokens.ts';
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
}

export interface IssuedCredential {
  readonly credential: Credential;
  /** The token itself: returned once, never stored. */
  readonly token: string;
}

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
/** Ten years: longer lifetimes are almost certainly a mistake. */
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

/** Patterns are compiled exactly as the proxy will compile them, so what is stored is what is enforced. */
function checkPathPattern(pattern: string, where: string): void {
  const compiled = compileGlob(pattern);
  if (!compiled.ok) {
    throw new RelayError('invalid_scope', `${where}: "${pattern}" ${compiled.error.detail ?? 'is not a valid path pattern'}`);
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

export class CredentialService {
  readonly #deps: ServiceDeps;

  constructor(deps: ServiceDeps) {
    this.#deps = deps;
  }

  async #checkGrants(tx: Repositories, workspaceId: string, grants: readonly Grant[]): Promise<void> {
    const seen = new Set<string>();
    for (const [i, grant] of grants.entries()) {
      if (seen.has(grant.connection_id)) {
        throw new RelayError(
          'invalid_scope',
          `grants[${i}]: connection ${grant.connection_id} is granted twice; merge the grants`,
        );
      }
      seen.add(grant.connection_id);
      if (!(await tx.connections.get(workspaceId, grant.connection_id))) {
        throw new RelayError(
          'invalid_scope',
          `grants[${i}]: connection ${grant.connection_id} does not exist`,
        );
      }
    }
  }

  async issue(actor: Actor, input: IssueCredentialInput): Promise<IssuedCredential> {
    const { clock, store, bus } = this.#deps;
    if (input.grants.length === 0)
      throw new RelayError('invalid_scope', 'grants must name at least one connection');
    const grants = input.grants.map(normaliseGrant);
    const expiresAt = expiryFrom(clock.now(), input);
    const ipAllowlist = checkIpAllowlist(input.ip_allowlist ?? []);
    if (input.ip_mode === 'allowlist' && ipAllowlist.length === 0) {
      throw new RelayError('validation_failed', 'ip_mode allowlist needs a non-empty ip_allowlist');
    }
    const issued = issueToken('proxy');
    const credential = await store.transaction(async (tx) => {
      let recipient: Recipient | undefined;
      if (input.recipient_id !== undefined) {
        recipient = await tx.recipients.get(actor.workspaceId, input.recipient_id);
        if (!recipient) throw new RelayError('not_found', `recipient ${input.recipient_id} not found`);
        if (recipient.revokedAt !== null)
          throw new RelayError('recipient_revoked', `recipient ${recipient.id} is revoked`);
      }
      await this.#checkGrants(tx, actor.workspaceId, grants);
      const record: Credential = {
        workspaceId: actor.workspaceId,
        id: newId('credential'),
        recipientId: recipient?.id ?? null,
        name: input.name,
        tokenHash: issued.hash,
        tokenPrefix: issued.displayPrefix,
        grants,
        expiresAt,
        ipMode: input.ip_mode ?? defaultIpMode(recipient, ipAllowlist),
        ipAllowlist,
        rateLimitProfile: input.rate_limit_profile ?? null,
        review: [],
        createdBy: actor.actor,
        createdAt: new Date(clock.now()).toISOString(),
        revokedAt: null,
        lastUsedAt: null,
      };
      await tx.credentials.insert(record);
      await recordAdminAction(tx, clock, actor, 'credential.issue', record.id, {
        name: record.name,
        recipient_id: record.recipientId,
        connections: grants.map((g) => g.connection_id),
        expires_at: expiresAt,
      });
      return record;
    });
    await bus.publishInvalidation({ kind: 'credential', workspaceId: actor.workspaceId, id: credential.id });
    return { credential, token: issued.token };
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
  async revoke(actor: Actor, id: string): Promise<Credential> {
    const { clock, store, bus } = this.#deps;
    const at = new Date(clock.now()).toISOString();
    await store.transaction(async (tx) => {
      const current = await tx.credentials.get(actor.workspaceId, id);
      if (!current) throw new RelayError('not_found', `credential ${id} not found`);
      if (current.revokedAt === null) {
        await tx.credentials.markRevoked(actor.workspaceId, id, at);
        await recordAdminAction(tx, clock, actor, 'credential.revoke', id);
      }
    });
    await bus.publishInvalidation({ kind: 'credential', workspaceId: actor.workspaceId, id });
    return this.get(actor.workspaceId, id);
  }
}
