/** Domain records as the core and services see them (parsed, typed; no secrets in plaintext). */

export const AUTH_TYPES = ['bearer', 'basic', 'header', 'query', 'oauth2_client_credentials'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

/** Non-secret auth settings; the secret itself is sealed separately. */
export interface AuthConfig {
  readonly username?: string;
  readonly header_name?: string;
  readonly query_param?: string;
  readonly token_url?: string;
  readonly client_id?: string;
  readonly scope?: string;
}

export const SECRET_SCANNING_MODES = ['off', 'warn', 'redact', 'reject'] as const;
export type SecretScanningMode = (typeof SECRET_SCANNING_MODES)[number];

export interface ConnectionOptions {
  readonly log_query_strings: boolean;
  readonly secret_scanning: SecretScanningMode;
  readonly allow_insecure_upstream: boolean;
  readonly geo?: GeoRules;
}

export interface Connection {
  readonly workspaceId: string;
  readonly id: string;
  readonly name: string;
  readonly baseUrl: string;
  readonly authType: AuthType;
  readonly authConfig: AuthConfig;
  readonly secretSealed: string;
  readonly secretLast4: string;
  readonly preset: string | null;
  readonly options: ConnectionOptions;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export const RECIPIENT_KINDS = ['human', 'service', 'agent'] as const;
export type RecipientKind = (typeof RECIPIENT_KINDS)[number];

export interface Recipient {
  readonly workspaceId: string;
  readonly id: string;
  readonly name: string;
  readonly kind: RecipientKind;
  readonly email: string | null;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

export interface Grant {
  readonly connection_id: string;
  readonly allowed_methods: readonly string[];
  readonly allowed_paths: readonly string[];
  readonly deny_query_params: readonly string[];
}

export const IP_MODES = ['confirm_new_ip', 'allowlist', 'none'] as const;
export type IpMode = (typeof IP_MODES)[number];

export interface ReviewFinding {
  readonly severity: 'low' | 'medium' | 'high';
  readonly code: string;
  readonly message: string;
}

/** Country rules: ISO 3166-1 alpha-2 codes, upper case. `allow` set: only those; `block`: all but those. */
export interface GeoRules {
  readonly allow?: readonly string[];
  readonly block?: readonly string[];
}

/** Policies a credential carries beyond its scope (SPEC §4 step 3). */
export interface CredentialPolicies {
  readonly geo?: GeoRules;
  /** SHA-256 fingerprints (hex, upper case, colon-free) of client certificates this credential accepts. */
  readonly client_cert_fingerprints?: readonly string[];
  /** When true, a request without one of the listed client certificates is refused. */
  readonly mtls_required?: boolean;
  /** A decoy (SPEC §8): any use raises a critical `canary_used` event and is answered as an unknown token. */
  readonly canary?: boolean;
}

export interface Credential {
  readonly workspaceId: string;
  readonly id: string;
  readonly recipientId: string | null;
  readonly name: string;
  readonly tokenHash: string;
  readonly tokenPrefix: string;
  readonly grants: readonly Grant[];
  readonly expiresAt: string | null;
  readonly ipMode: IpMode;
  readonly ipAllowlist: readonly string[];
  readonly rateLimitProfile: string | null;
  readonly review: readonly ReviewFinding[];
  readonly createdBy: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
  readonly policies: CredentialPolicies;
}

export const MANAGEMENT_ROLES = ['admin', 'viewer', 'provisioner'] as const;
export type ManagementRole = (typeof MANAGEMENT_ROLES)[number];

export interface ApiScope {
  readonly methods: readonly string[];
  readonly paths: readonly string[];
}

export interface ProvisionerBounds {
  readonly connections: readonly string[];
  readonly max_ttl_seconds: number;
  readonly allowed_methods: readonly string[];
  readonly allowed_paths: readonly string[];
}

export interface ManagementToken {
  readonly workspaceId: string;
  readonly id: string;
  readonly name: string;
  readonly role: ManagementRole;
  readonly tokenHash: string;
  readonly tokenPrefix: string;
  readonly expiresAt: string | null;
  readonly ipAllowlist: readonly string[];
  readonly apiScope: ApiScope | null;
  readonly bounds: ProvisionerBounds | null;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
  /** `token` (management tokens) or `api_key` (seed 003 keys, with `scopes`). */
  readonly kind: 'token' | 'api_key';
  /** Seed 003 scopes (`connections:read`, `credentials:*`, …); empty means full access for the role. */
  readonly scopes: readonly string[];
  /** A rotated-out token's hash, still accepted until `previousValidUntil` (the grace period). */
  readonly previousTokenHash: string | null;
  readonly previousValidUntil: string | null;
  readonly policies: TokenPolicies;
}

export interface TokenPolicies {
  readonly client_cert_fingerprints?: readonly string[];
  readonly mtls_required?: boolean;
  /** Rate-limit profile for this token's management API calls; the workspace default otherwise. */
  readonly rate_limit_profile?: string;
}

/** A custom token-bucket profile: `per_minute` refill, `burst` capacity. */
export interface RateProfile {
  readonly per_minute: number;
  readonly burst: number;
}

export interface WorkspaceSettings {
  readonly require_2fa: boolean;
  readonly audit_retention_days: number;
  readonly default_rate_limit_profile: string | null;
  readonly default_ip_mode: IpMode;
  /** Every proxied call must come from these CIDRs (empty: no workspace-wide restriction). */
  readonly ip_allowlist?: readonly string[];
  readonly geo?: GeoRules;
  readonly rate_limit_profiles?: Readonly<Record<string, RateProfile>>;
  /** Who is mailed when a high or critical security event is raised (SPEC §8). */
  readonly alert_emails?: readonly string[];
  /** Receives every high or critical security event, signed with `security_webhook_secret`. */
  readonly security_webhook_url?: string | null;
  /** HMAC-SHA256 key of the `Relay-Signature` header; shown once, when the webhook is set, never by any view. */
  readonly security_webhook_secret?: string | null;
  /** Auto-lockdown (SPEC §8): while `locked`, the proxy refuses every call of the workspace. */
  readonly lockdown?: WorkspaceLockdown;
}

export interface WorkspaceLockdown {
  readonly locked: boolean;
  readonly reason: string;
  readonly locked_at: string;
  /** The unresolved critical events that tripped it. */
  readonly event_ids: readonly string[];
  readonly lifted_at: string | null;
  /** Who lifted it: a management token id. */
  readonly lifted_by: string | null;
}

export interface Workspace {
  readonly id: string;
  readonly name: string;
  readonly settings: WorkspaceSettings;
  readonly createdAt: string;
}

export interface AdminAuditEvent {
  readonly workspaceId: string;
  readonly id: string;
  readonly at: string;
  /** Who acted: `mtok_…` (a management token), `cli` (an operator on the server), or `system`. */
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly ip: string | null;
}

/** Who is asking, carried from the edge into every service call. */
export interface Actor {
  readonly workspaceId: string;
  readonly actor: string;
  readonly ip: string | null;
}
