import type { AuditFilter, AuditRecord } from '../core/audit.ts';
import type { EncodedAuditRecord } from '../core/audit-batch-encoding.ts';
import type { ChainBreak, ChainedAuditRecord, ChainPoint } from '../core/audit-chain.ts';
import type {
  AdminAuditEvent,
  Connection,
  Credential,
  ManagementToken,
  Recipient,
  Workspace,
} from '../core/model.ts';

/**
 * The store port: repositories the services need, nothing more. Two adapters
 * implement it over one Kysely schema (SQLite and PostgreSQL); one contract
 * suite in `test/store.contract.test.ts` runs against both.
 *
 * Every read and write is scoped by workspace id, so a query can never reach
 * another tenant's rows. Lookups by token hash are the one exception: the hash
 * itself identifies the tenant.
 */

export interface Page<T> {
  readonly data: readonly T[];
  readonly nextCursor: string | null;
}

export interface ListOptions {
  readonly limit: number;
  /** Opaque cursor from a previous page: the id of its last row. */
  readonly cursor?: string;
}

export interface WorkspaceRepo {
  insert(workspace: Workspace): Promise<void>;
  get(id: string): Promise<Workspace | undefined>;
  /** Inside a transaction: reads and locks the row (PostgreSQL `for update`; SQLite transactions already hold the write lock). */
  getForUpdate(id: string): Promise<Workspace | undefined>;
  list(): Promise<readonly Workspace[]>;
  updateSettings(id: string, settings: Workspace['settings']): Promise<void>;
}

export interface ConnectionRepo {
  insert(connection: Connection): Promise<void>;
  get(workspaceId: string, id: string): Promise<Connection | undefined>;
  list(workspaceId: string, options: ListOptions): Promise<Page<Connection>>;
  /** Replaces every mutable field; returns false when the row does not exist. */
  update(connection: Connection): Promise<boolean>;
  delete(workspaceId: string, id: string): Promise<boolean>;
}

export interface RecipientRepo {
  insert(recipient: Recipient): Promise<void>;
  get(workspaceId: string, id: string): Promise<Recipient | undefined>;
  list(workspaceId: string, options: ListOptions): Promise<Page<Recipient>>;
  markRevoked(workspaceId: string, id: string, at: string): Promise<boolean>;
}

export interface CredentialRepo {
  insert(credential: Credential): Promise<void>;
  get(workspaceId: string, id: string): Promise<Credential | undefined>;
  findByHash(tokenHash: string): Promise<Credential | undefined>;
  list(
    workspaceId: string,
    options: ListOptions & { readonly recipientId?: string },
  ): Promise<Page<Credential>>;
  markRevoked(workspaceId: string, id: string, at: string): Promise<boolean>;
  /** Revokes every live credential of a recipient; returns their ids. */
  revokeAllOfRecipient(workspaceId: string, recipientId: string, at: string): Promise<readonly string[]>;
  touch(workspaceId: string, id: string, at: string): Promise<void>;
  /** Ids of credentials, neither revoked nor expired at `now`, with a grant on the connection. */
  liveGrantingConnection(workspaceId: string, connectionId: string, now: string): Promise<readonly string[]>;
}

export interface ManagementTokenRepo {
  insert(token: ManagementToken): Promise<void>;
  get(workspaceId: string, id: string): Promise<ManagementToken | undefined>;
  /** By the current hash, or by the previous one of a rotated token (the caller checks its grace period). */
  findByHash(tokenHash: string): Promise<ManagementToken | undefined>;
  list(
    workspaceId: string,
    options: ListOptions & { readonly kind?: ManagementToken['kind'] },
  ): Promise<Page<ManagementToken>>;
  /** Replaces the token's hash; the old one stays valid until `previousValidUntil`. */
  rotate(
    workspaceId: string,
    id: string,
    next: { readonly tokenHash: string; readonly tokenPrefix: string; readonly previousValidUntil: string },
  ): Promise<boolean>;
  markRevoked(workspaceId: string, id: string, at: string): Promise<boolean>;
  touch(workspaceId: string, id: string, at: string): Promise<void>;
}

export interface ShareLink {
  readonly workspaceId: string;
  readonly id: string;
  readonly secretHash: string;
  readonly credentialId: string;
  readonly tokenSealed: string | null;
  readonly expiresAt: string;
  readonly createdAt: string;
  readonly openedAt: string | null;
}

export interface ShareLinkRepo {
  insert(link: ShareLink): Promise<void>;
  findBySecretHash(secretHash: string): Promise<ShareLink | undefined>;
  /** Claims the link: sets opened_at and forgets the sealed token. False when someone opened it first. */
  claim(workspaceId: string, id: string, at: string): Promise<boolean>;
}

export interface TrustedIp {
  readonly workspaceId: string;
  readonly recipientId: string;
  readonly ipGroup: string;
  readonly firstIp: string;
  readonly source: 'first_use' | 'confirmed';
  readonly createdAt: string;
}

export interface TrustedIpRepo {
  /** Inserts unless the group is already trusted; returns true when this call added it. */
  add(entry: TrustedIp): Promise<boolean>;
  has(workspaceId: string, recipientId: string, ipGroup: string): Promise<boolean>;
  /** How many groups the recipient trusts (0: the next IP is trusted on first use). */
  count(workspaceId: string, recipientId: string): Promise<number>;
  list(workspaceId: string, recipientId: string): Promise<readonly TrustedIp[]>;
  remove(workspaceId: string, recipientId: string, ipGroup: string): Promise<boolean>;
}

export interface IpConfirmation {
  readonly workspaceId: string;
  readonly id: string;
  readonly secretHash: string;
  readonly recipientId: string;
  readonly credentialId: string;
  readonly connectionId: string;
  readonly ipGroup: string;
  readonly ip: string;
  readonly userAgent: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly confirmedAt: string | null;
}

export interface IpConfirmationRepo {
  insert(entry: IpConfirmation): Promise<void>;
  /** A confirmation for this recipient and network that is neither confirmed nor expired at `now`. */
  findPending(
    workspaceId: string,
    recipientId: string,
    ipGroup: string,
    now: string,
  ): Promise<IpConfirmation | undefined>;
  findBySecretHash(secretHash: string): Promise<IpConfirmation | undefined>;
  /** Marks it confirmed; false when it was already confirmed. */
  markConfirmed(workspaceId: string, id: string, at: string): Promise<boolean>;
}

export interface OutboxMessage {
  readonly id: string;
  readonly workspaceId: string | null;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly createdAt: string;
  readonly sentAt: string | null;
  readonly error: string | null;
}

export interface OutboxRepo {
  insert(message: OutboxMessage): Promise<void>;
  markSent(id: string, at: string, error: string | null): Promise<void>;
  /** Newest first; `workspaceId` undefined lists every workspace's (operator view). */
  list(options: { readonly workspaceId?: string; readonly limit: number }): Promise<readonly OutboxMessage[]>;
}

export interface SecurityEvent {
  readonly workspaceId: string;
  readonly id: string;
  readonly at: string;
  /** `brute_force`, `scope_violation_burst`, `new_ip_blocked`, `leaked_token`, `canary_used`, … */
  readonly kind: string;
  readonly severity: 'low' | 'medium' | 'high' | 'critical';
  /** What it concerns: an IP, a credential id, a token id. */
  readonly subject: string;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly status: 'open' | 'resolved';
  readonly resolvedAt: string | null;
  readonly resolvedBy: string | null;
}

export interface SecurityEventRepo {
  insert(event: SecurityEvent): Promise<void>;
  get(workspaceId: string, id: string): Promise<SecurityEvent | undefined>;
  /** Newest first. */
  list(
    workspaceId: string,
    options: ListOptions & { readonly status?: SecurityEvent['status']; readonly kind?: string },
  ): Promise<Page<SecurityEvent>>;
  resolve(workspaceId: string, id: string, at: string, by: string): Promise<boolean>;
  /** Unresolved events of a severity since `since` (auto-lockdown counts critical ones). */
  countOpen(workspaceId: string, severity: SecurityEvent['severity'], since: string): Promise<number>;
}

export interface AdminAuditRepo {
  insert(event: AdminAuditEvent): Promise<void>;
  list(workspaceId: string, options: ListOptions): Promise<Page<AdminAuditEvent>>;
}

/** A workspace's audit chain: its head (last record written) and where a prune last cut it. */
export interface AuditChainState {
  readonly head: ChainPoint | null;
  readonly anchor: ChainPoint | null;
}

export interface AuditPruneResult {
  /** Chained records deleted (those before the anchor). */
  readonly deleted: number;
  /** Records from before the chain existed (migration 0005), deleted by age. */
  readonly deletedUnchained: number;
  readonly anchor: ChainPoint | null;
  /** A prune stops short of a break in the chain: the evidence stays for `relay audit verify`. */
  readonly stoppedAt: ChainBreak | null;
}

export interface AuditRepo {
  /**
   * Seals and chains a batch (callers pass records of any workspaces) and inserts it.
   * Each workspace's chain is locked until the transaction commits (one is opened if the
   * caller has none). With `resent` (a batch sent again after the writer crashed, which may
   * have committed it), records whose id is already stored are skipped.
   */
  insertMany(records: readonly AuditRecord[], options?: { readonly resent?: boolean }): Promise<void>;
  /** `insertMany` for records as the audit writer receives them (core/audit-batch-encoding.ts). */
  insertEncoded(
    records: readonly EncodedAuditRecord[],
    options?: { readonly resent?: boolean },
  ): Promise<void>;
  /**
   * In the order recorded (records from before the chain, then chain order), filtered,
   * sensitive fields opened; `workspaceId` scopes it like every other read.
   */
  list(workspaceId: string, filter: AuditFilter, options: ListOptions): Promise<Page<AuditRecord>>;
  count(workspaceId: string): Promise<number>;
  /** Records after position `seq` in chain order, opened: what a live tail polls for. */
  after(workspaceId: string, seq: number, limit: number): Promise<readonly SequencedAuditRecord[]>;
  chainState(workspaceId: string): Promise<AuditChainState>;
  /** Records with `afterSeq < seq <= uptoSeq` exactly as stored (sealed), for verification. */
  chainPage(
    workspaceId: string,
    afterSeq: number,
    uptoSeq: number,
    limit: number,
  ): Promise<readonly ChainedAuditRecord[]>;
  findByHash(
    workspaceId: string,
    hash: string,
  ): Promise<{ readonly seq: number; readonly id: string } | undefined>;
  /** Sealed batches by id, as stored (core/audit-seal.ts), for verification of what records name. */
  sealedBatches(workspaceId: string, ids: readonly string[]): Promise<ReadonlyMap<string, string>>;
  /** Every workspace id with a chain (including `''`, records no workspace could be attributed). */
  chainedWorkspaces(): Promise<readonly string[]>;
  /** Records older than migration 0005: outside the chain, and stored in plaintext. */
  countUnchained(workspaceId: string): Promise<number>;
  /**
   * Deletes the oldest chained records written before `cutoff`, a verified prefix of the
   * chain, by whole segments (at least one, then up to about `maxRecords`), and moves the
   * anchor to the last one deleted; then the data keys no remaining record uses. Also up
   * to `maxRecords` records from before the chain. Holds the chain's lock until commit,
   * as insertMany does.
   */
  prune(workspaceId: string, cutoff: string, maxRecords: number, now: string): Promise<AuditPruneResult>;
}

export interface SequencedAuditRecord {
  readonly seq: number;
  readonly record: AuditRecord;
}

/** A sealed value somewhere in the database: enough to re-wrap it under a new master key. */
export interface SealedField {
  readonly table: string;
  readonly workspaceId: string;
  readonly id: string;
  readonly field: string;
  readonly sealed: string;
}

export interface SealedFieldRepo {
  /** Every sealed value in the database, across all tables and workspaces. */
  listAll(): Promise<readonly SealedField[]>;
  replace(field: SealedField, sealed: string): Promise<void>;
}

export interface MetaRepo {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

export interface Repositories {
  readonly workspaces: WorkspaceRepo;
  readonly connections: ConnectionRepo;
  readonly recipients: RecipientRepo;
  readonly credentials: CredentialRepo;
  readonly managementTokens: ManagementTokenRepo;
  readonly adminAudit: AdminAuditRepo;
  readonly audit: AuditRepo;
  readonly shareLinks: ShareLinkRepo;
  readonly trustedIps: TrustedIpRepo;
  readonly ipConfirmations: IpConfirmationRepo;
  readonly outbox: OutboxRepo;
  readonly securityEvents: SecurityEventRepo;
  readonly sealedFields: SealedFieldRepo;
  readonly meta: MetaRepo;
}

export type StoreDialect = 'sqlite' | 'postgres';

export interface Store extends Repositories {
  readonly dialect: StoreDialect;
  /** Runs `work` in one transaction: all its writes land together or not at all. */
  transaction<T>(work: (tx: Repositories) => Promise<T>): Promise<T>;
  /** Applies pending migrations (under a lock on PostgreSQL, so several nodes may call it at once). */
  migrate(): Promise<{ readonly applied: readonly string[] }>;
  pendingMigrations(): Promise<readonly string[]>;
  /** True when the schema exists (the database has been initialised before). */
  isInitialised(): Promise<boolean>;
  close(): Promise<void>;
}
