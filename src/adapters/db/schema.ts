/**
 * The one database schema, shared by SQLite and PostgreSQL. Portable types only:
 * timestamps are ISO-8601 UTC text (they sort as text), JSON is text, booleans
 * are absent (a nullable `*_at` timestamp says when something became true).
 */

export interface MetaTable {
  key: string;
  value: string;
}

export interface WorkspaceTable {
  id: string;
  name: string;
  settings: string;
  created_at: string;
}

export interface ConnectionTable {
  workspace_id: string;
  id: string;
  name: string;
  base_url: string;
  auth_type: string;
  /** Non-secret auth settings (username, header name, token URL, …) as JSON. */
  auth_config: string;
  /** The upstream key, sealed by the vault (AAD binds it to workspace, id and field). */
  secret_sealed: string;
  secret_last4: string;
  preset: string | null;
  options: string;
  created_at: string;
  updated_at: string;
}

export interface RecipientTable {
  workspace_id: string;
  id: string;
  name: string;
  kind: string;
  email: string | null;
  created_at: string;
  revoked_at: string | null;
}

export interface CredentialTable {
  workspace_id: string;
  id: string;
  recipient_id: string | null;
  name: string;
  token_hash: string;
  token_prefix: string;
  grants: string;
  expires_at: string | null;
  ip_mode: string;
  ip_allowlist: string;
  rate_limit_profile: string | null;
  review: string;
  created_by: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
  /** CredentialPolicies as JSON. */
  policies: string;
}

export interface ManagementTokenTable {
  workspace_id: string;
  id: string;
  name: string;
  role: string;
  token_hash: string;
  token_prefix: string;
  expires_at: string | null;
  ip_allowlist: string;
  api_scope: string | null;
  bounds: string | null;
  created_by: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
  /** `token` (POST /api/v1/tokens) or `api_key` (seed 003 POST /api/v1/auth/api-keys). */
  kind: string;
  /** Seed 003 API key scopes, JSON; null for tokens. */
  scopes: string | null;
  /** After a rotation, the old token's hash stays valid until `previous_valid_until`. */
  previous_token_hash: string | null;
  previous_valid_until: string | null;
  /** TokenPolicies as JSON. */
  policies: string;
}

export interface TrustedIpTable {
  workspace_id: string;
  recipient_id: string;
  /** The network as trusted: an IPv4 address, an IPv6 /64 (or configured prefix), or a shared egress range. */
  ip_group: string;
  first_ip: string;
  /** `first_use` (trust on first use) or `confirmed` (by e-mail link). */
  source: string;
  created_at: string;
}

export interface IpConfirmationTable {
  workspace_id: string;
  id: string;
  secret_hash: string;
  recipient_id: string;
  credential_id: string;
  connection_id: string;
  ip_group: string;
  ip: string;
  user_agent: string | null;
  created_at: string;
  expires_at: string;
  confirmed_at: string | null;
}

export interface OutboxTable {
  id: string;
  workspace_id: string | null;
  to_address: string;
  subject: string;
  text_body: string;
  created_at: string;
  sent_at: string | null;
  error: string | null;
}

export interface SecurityEventTable {
  workspace_id: string;
  id: string;
  at: string;
  kind: string;
  severity: string;
  subject: string;
  detail: string;
  status: string;
  resolved_at: string | null;
  resolved_by: string | null;
}

export interface ShareLinkTable {
  workspace_id: string;
  id: string;
  /** SHA-256 of the link's secret part; the link itself is shown once to the issuer. */
  secret_hash: string;
  credential_id: string;
  /** The credential's token, sealed, until the link is opened; then null. */
  token_sealed: string | null;
  expires_at: string;
  created_at: string;
  opened_at: string | null;
}

export interface AdminAuditTable {
  workspace_id: string;
  id: string;
  at: string;
  actor: string;
  action: string;
  subject: string;
  metadata: string;
  ip: string | null;
}

export interface AuditEventTable {
  /** `''` for requests no credential could be attributed to (e.g. an unknown token). */
  workspace_id: string;
  id: string;
  at: string;
  request_id: string;
  connection_id: string | null;
  credential_id: string | null;
  recipient_id: string | null;
  method: string;
  path: string;
  query: string | null;
  decision: string;
  reason: string | null;
  status: number;
  duration_ms: number;
  upstream_ms: number | null;
  bytes_in: number;
  bytes_out: number;
  ip: string;
  user_agent: string | null;
}

/** Columns migration 0005 added to `audit_events`: the hash chain and the sealing key. */
export interface AuditChainColumns {
  /** Position in the workspace's hash chain (1, 2, 3, …); null for records written before 0005. */
  seq: number | null;
  prev_hash: string | null;
  /** SHA-256 over the record as stored and `prev_hash` (core/audit-chain.ts). */
  hash: string | null;
  /** The `audit_keys` row whose key sealed path, query, ip and user_agent; null: plaintext (before 0005). */
  key_id: string | null;
  /** Path, query, ip and user agent, sealed as one message; those columns then hold '' or null. */
  sealed: string | null;
}

/** Audit data keys (core/audit-seal.ts): one per writer, workspace and hour. */
export interface AuditKeyTable {
  workspace_id: string;
  id: string;
  /** The key, sealed by the vault (AAD binds table, workspace, id and field): re-wrapped by rotate-master. */
  key_sealed: string;
  created_at: string;
  /** The highest seq sealed with it: once pruned past, no record needs it and it is deleted. */
  last_seq: number;
}

/**
 * Chained audit records, a segment per written batch and workspace
 * (adapters/db/audit-segments.ts): the records as stored, as JSON, and their
 * sealed sensitive fields (core/audit-seal.ts).
 */
export interface AuditSegmentTable {
  workspace_id: string;
  /** The seq of its first and last record: segments of a chain never overlap. */
  first_seq: number;
  last_seq: number;
  /** The earliest and latest `at` of its records. */
  min_at: string;
  max_at: string;
  records: number;
  /** The id its records' sealed references name. */
  id: string;
  /** The `audit_keys` row whose key sealed its fields ('' for records migrated from rows). */
  key_id: string;
  sealed: string;
  /** Its records, as audit-segments.ts encodes them. */
  data: string;
}

/** Per segment, each credential, recipient, connection, decision and status its records have. */
export interface AuditSegmentTermTable {
  workspace_id: string;
  term: string;
  first_seq: number;
}

/** One row per audit chain (workspace, or `''` for unattributed records). */
export interface AuditChainTable {
  workspace_id: string;
  /** The last record written: the next one follows it. */
  head_seq: number;
  head_hash: string;
  /** The last record a prune deleted: verification starts from it. */
  anchor_seq: number | null;
  anchor_hash: string | null;
  anchor_at: string | null;
}

export interface Database {
  audit_events: AuditEventTable & AuditChainColumns;
  audit_keys: AuditKeyTable;
  audit_segments: AuditSegmentTable;
  audit_segment_terms: AuditSegmentTermTable;
  audit_chains: AuditChainTable;
  relay_meta: MetaTable;
  workspaces: WorkspaceTable;
  connections: ConnectionTable;
  recipients: RecipientTable;
  credentials: CredentialTable;
  management_tokens: ManagementTokenTable;
  share_links: ShareLinkTable;
  trusted_ips: TrustedIpTable;
  ip_confirmations: IpConfirmationTable;
  outbox: OutboxTable;
  security_events: SecurityEventTable;
  admin_audit_events: AdminAuditTable;
}
