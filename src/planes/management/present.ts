import { agentPrompt } from '../../core/agent-prompt.ts';
import type {
  AdminAuditEvent,
  Connection,
  Credential,
  ManagementToken,
  Recipient,
  Workspace,
} from '../../core/model.ts';
import type { IssuedCredential } from '../../services/credentials.ts';

/**
 * Public representations. Each lists its fields explicitly, so a field added
 * to a record never leaks by accident; no secret or token hash appears here.
 */

export function connectionView(c: Connection) {
  return {
    id: c.id,
    name: c.name,
    base_url: c.baseUrl,
    auth: { type: c.authType, ...c.authConfig },
    secret_last4: c.secretLast4,
    preset: c.preset,
    options: { ...c.options },
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

export function recipientView(r: Recipient) {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    email: r.email,
    status: r.revokedAt === null ? 'active' : 'revoked',
    created_at: r.createdAt,
    revoked_at: r.revokedAt,
  };
}

function statusOf(revokedAt: string | null, expiresAt: string | null, nowMs: number): string {
  if (revokedAt !== null) return 'revoked';
  if (expiresAt !== null && Date.parse(expiresAt) <= nowMs) return 'expired';
  return 'active';
}

export function credentialView(c: Credential, nowMs: number) {
  return {
    id: c.id,
    name: c.name,
    recipient_id: c.recipientId,
    token_prefix: c.tokenPrefix,
    status: statusOf(c.revokedAt, c.expiresAt, nowMs),
    grants: c.grants.map((g) => ({ ...g })),
    expires_at: c.expiresAt,
    ip_mode: c.ipMode,
    ip_allowlist: [...c.ipAllowlist],
    rate_limit_profile: c.rateLimitProfile,
    review: { findings: c.review.map((f) => ({ ...f })) },
    policies: { ...c.policies },
    created_by: c.createdBy,
    created_at: c.createdAt,
    revoked_at: c.revokedAt,
    last_used_at: c.lastUsedAt,
  };
}

export function managementTokenView(t: ManagementToken, nowMs: number) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    token_prefix: t.tokenPrefix,
    status: statusOf(t.revokedAt, t.expiresAt, nowMs),
    expires_at: t.expiresAt,
    ip_allowlist: [...t.ipAllowlist],
    api_scope: t.apiScope,
    bounds: t.bounds,
    created_at: t.createdAt,
    revoked_at: t.revokedAt,
    last_used_at: t.lastUsedAt,
    previous_valid_until: t.previousValidUntil,
    policies: { ...t.policies },
  };
}

/** Seed 003's API key shape: `key` appears only in the create response. */
export function apiKeyView(t: ManagementToken) {
  return {
    id: t.id,
    name: t.name,
    key_prefix: t.tokenPrefix,
    scopes: [...t.scopes],
    created_at: t.createdAt,
    expires_at: t.expiresAt,
    last_used_at: t.lastUsedAt,
  };
}

export function workspaceView(w: Workspace) {
  // The webhook signing secret is shown once when set, never on read.
  const { security_webhook_secret: _secret, ...settings } = w.settings;
  return { id: w.id, name: w.name, settings, created_at: w.createdAt };
}

export function adminAuditView(e: AdminAuditEvent) {
  return {
    id: e.id,
    at: e.at,
    actor: e.actor,
    action: e.action,
    subject: e.subject,
    metadata: e.metadata,
    ip: e.ip,
  };
}

/**
 * The one answer to issuing a credential (API 201 and `relay credentials add --json`):
 * the token, once; or, when it travels by share link, the link instead of the token.
 */
export function issuedCredentialView(
  issued: IssuedCredential,
  nowMs: number,
  urls: { readonly proxyBaseUrl: string; readonly publicApiUrl: string },
) {
  const { credential, token } = issued;
  return {
    ...credentialView(credential, nowMs),
    token,
    ...(issued.shareSecret === undefined
      ? {}
      : {
          share_url: `${urls.publicApiUrl.replace(/\/+$/, '')}/share/${issued.shareSecret}`,
          share_expires_at: issued.shareExpiresAt,
        }),
    agent_prompt: agentPrompt({
      credentialName: credential.name,
      proxyBaseUrl: urls.proxyBaseUrl,
      grants: credential.grants,
      expiresAt: credential.expiresAt,
    }),
  };
}
