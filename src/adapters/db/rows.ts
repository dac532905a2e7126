import type {
  AdminAuditEvent,
  AuthType,
  Connection,
  Credential,
  IpMode,
  ManagementRole,
  ManagementToken,
  Recipient,
  RecipientKind,
  Workspace,
} from '../../core/model.ts';
import type {
  AdminAuditTable,
  ConnectionTable,
  CredentialTable,
  ManagementTokenTable,
  RecipientTable,
  WorkspaceTable,
} from './schema.ts';

/** Row <-> record mapping, one pair per table. JSON columns are parsed here and nowhere else. */

const json = (value: unknown): string => JSON.stringify(value);
const parse = <T>(text: string): T => JSON.parse(text) as T;

export const workspaceRow = (w: Workspace): WorkspaceTable => ({
  id: w.id,
  name: w.name,
  settings: json(w.settings),
  created_at: w.createdAt,
});
export const toWorkspace = (r: WorkspaceTable): Workspace => ({
  id: r.id,
  name: r.name,
  settings: parse(r.settings),
  createdAt: r.created_at,
});

export const connectionRow = (c: Connection): ConnectionTable => ({
  workspace_id: c.workspaceId,
  id: c.id,
  name: c.name,
  base_url: c.baseUrl,
  auth_type: c.authType,
  auth_config: json(c.authConfig),
  secret_sealed: c.secretSealed,
  secret_last4: c.secretLast4,
  preset: c.preset,
  options: json(c.options),
  created_at: c.createdAt,
  updated_at: c.updatedAt,
});
export const toConnection = (r: ConnectionTable): Connection => ({
  workspaceId: r.workspace_id,
  id: r.id,
  name: r.name,
  baseUrl: r.base_url,
  authType: r.auth_type as AuthType,
  authConfig: parse(r.auth_config),
  secretSealed: r.secret_sealed,
  secretLast4: r.secret_last4,
  preset: r.preset,
  options: parse(r.options),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const recipientRow = (r: Recipient): RecipientTable => ({
  workspace_id: r.workspaceId,
  id: r.id,
  name: r.name,
  kind: r.kind,
  email: r.email,
  created_at: r.createdAt,
  revoked_at: r.revokedAt,
});
export const toRecipient = (r: RecipientTable): Recipient => ({
  workspaceId: r.workspace_id,
  id: r.id,
  name: r.name,
  kind: r.kind as RecipientKind,
  email: r.email,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

export const credentialRow = (c: Credential): CredentialTable => ({
  workspace_id: c.workspaceId,
  id: c.id,
  recipient_id: c.recipientId,
  name: c.name,
  token_hash: c.tokenHash,
  token_prefix: c.tokenPrefix,
  grants: json(c.grants),
  expires_at: c.expiresAt,
  ip_mode: c.ipMode,
  ip_allowlist: json(c.ipAllowlist),
  rate_limit_profile: c.rateLimitProfile,
  review: json(c.review),
  created_by: c.createdBy,
  created_at: c.createdAt,
  revoked_at: c.revokedAt,
  last_used_at: c.lastUsedAt,
  policies: json(c.policies),
});
export const toCredential = (r: CredentialTable): Credential => ({
  workspaceId: r.workspace_id,
  id: r.id,
  recipientId: r.recipient_id,
  name: r.name,
  tokenHash: r.token_hash,
  tokenPrefix: r.token_prefix,
  grants: parse(r.grants),
  expiresAt: r.expires_at,
  ipMode: r.ip_mode as IpMode,
  ipAllowlist: parse(r.ip_allowlist),
  rateLimitProfile: r.rate_limit_profile,
  review: parse(r.review),
  createdBy: r.created_by,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
  lastUsedAt: r.last_used_at,
  policies: parse(r.policies),
});

export const managementTokenRow = (t: ManagementToken): ManagementTokenTable => ({
  workspace_id: t.workspaceId,
  id: t.id,
  name: t.name,
  role: t.role,
  token_hash: t.tokenHash,
  token_prefix: t.tokenPrefix,
  expires_at: t.expiresAt,
  ip_allowlist: json(t.ipAllowlist),
  api_scope: t.apiScope === null ? null : json(t.apiScope),
  bounds: t.bounds === null ? null : json(t.bounds),
  created_by: t.createdBy,
  created_at: t.createdAt,
  revoked_at: t.revokedAt,
  last_used_at: t.lastUsedAt,
  kind: t.kind,
  scopes: t.scopes.length === 0 ? null : json(t.scopes),
  previous_token_hash: t.previousTokenHash,
  previous_valid_until: t.previousValidUntil,
  policies: json(t.policies),
});
export const toManagementToken = (r: ManagementTokenTable): ManagementToken => ({
  workspaceId: r.workspace_id,
  id: r.id,
  name: r.name,
  role: r.role as ManagementRole,
  tokenHash: r.token_hash,
  tokenPrefix: r.token_prefix,
  expiresAt: r.expires_at,
  ipAllowlist: parse(r.ip_allowlist),
  apiScope: r.api_scope === null ? null : parse(r.api_scope),
  bounds: r.bounds === null ? null : parse(r.bounds),
  createdBy: r.created_by,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
  lastUsedAt: r.last_used_at,
  kind: r.kind === 'api_key' ? 'api_key' : 'token',
  scopes: r.scopes === null ? [] : parse(r.scopes),
  previousTokenHash: r.previous_token_hash,
  previousValidUntil: r.previous_valid_until,
  policies: parse(r.policies),
});

export const adminAuditRow = (e: AdminAuditEvent): AdminAuditTable => ({
  workspace_id: e.workspaceId,
  id: e.id,
  at: e.at,
  actor: e.actor,
  action: e.action,
  subject: e.subject,
  metadata: json(e.metadata),
  ip: e.ip,
});
export const toAdminAudit = (r: AdminAuditTable): AdminAuditEvent => ({
  workspaceId: r.workspace_id,
  id: r.id,
  at: r.at,
  actor: r.actor,
  action: r.action,
  subject: r.subject,
  metadata: parse(r.metadata),
  ip: r.ip,
});
