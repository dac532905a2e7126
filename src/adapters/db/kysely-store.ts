import { type Kysely, sql, type Transaction } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { AuditSealer } from '../../core/audit-seal.ts';
import { RelayError } from '../../core/errors.ts';
import type {
  IpConfirmation,
  ListOptions,
  Page,
  Repositories,
  SealedField,
  SecurityEvent,
  Store,
  StoreDialect,
} from '../../ports/store.ts';
import { auditRepo } from './audit-repo.ts';
import { migrationProvider } from './migrations.ts';
import {
  adminAuditRow,
  connectionRow,
  credentialRow,
  managementTokenRow,
  recipientRow,
  toAdminAudit,
  toConnection,
  toCredential,
  toManagementToken,
  toRecipient,
  toWorkspace,
  workspaceRow,
} from './rows.ts';
import type { Database } from './schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

/** Cursor pagination over (created_at, id): stable under inserts, opaque to clients. */
function encodeCursor(at: string, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString('base64url');
}

/** A cursor that is not one of ours is bad input, not a reason to start from the top. */
function cursorOrThrow(cursor: string | undefined): [string, string] | undefined {
  if (cursor === undefined) return undefined;
  const decoded = decodeCursor(cursor);
  if (decoded === undefined) {
    throw new RelayError('validation_failed', 'cursor is not a cursor from a previous page', [
      { path: 'query/cursor', message: 'is invalid' },
    ]);
  }
  return decoded;
}

export function decodeCursor(cursor: string): [string, string] | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string')) {
      return value as [string, string];
    }
  } catch {
    // fall through: an unreadable cursor is treated as invalid input by the caller
  }
  return undefined;
}

type PageTable = 'connections' | 'recipients' | 'credentials' | 'management_tokens';

async function pageOf<T extends { id: string; created_at: string }, R>(
  rows: Promise<T[]>,
  limit: number,
  map: (row: T) => R,
): Promise<Page<R>> {
  const list = await rows;
  const more = list.length > limit;
  const page = more ? list.slice(0, limit) : list;
  const last = page.at(-1);
  return {
    data: page.map(map),
    nextCursor: more && last ? encodeCursor(last.created_at, last.id) : null,
  };
}

function pagedQuery<TB extends PageTable>(db: Db, table: TB, workspaceId: string, options: ListOptions) {
  let query = db
    .selectFrom(table as PageTable)
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('created_at')
    .orderBy('id')
    .limit(options.limit + 1);
  const cursor = cursorOrThrow(options.cursor);
  if (cursor) {
    const [at, id] = cursor;
    query = query.where((eb) =>
      eb.or([eb('created_at', '>', at), eb.and([eb('created_at', '=', at), eb('id', '>', id)])]),
    );
  }
  return query;
}

function toIpConfirmation(r: Database['ip_confirmations']): IpConfirmation {
  return {
    workspaceId: r.workspace_id,
    id: r.id,
    secretHash: r.secret_hash,
    recipientId: r.recipient_id,
    credentialId: r.credential_id,
    connectionId: r.connection_id,
    ipGroup: r.ip_group,
    ip: r.ip,
    userAgent: r.user_agent,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    confirmedAt: r.confirmed_at,
  };
}

function toSecurityEvent(r: Database['security_events']): SecurityEvent {
  return {
    workspaceId: r.workspace_id,
    id: r.id,
    at: r.at,
    kind: r.kind,
    severity: r.severity as SecurityEvent['severity'],
    subject: r.subject,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
    status: r.status === 'resolved' ? 'resolved' : 'open',
    resolvedAt: r.resolved_at,
    resolvedBy: r.resolved_by,
  };
}

/** Sealed columns across the schema: the registry `relay keys rotate-master` walks. */
const SEALED_COLUMNS = [
  { table: 'connections', field: 'secret_sealed' },
  { table: 'share_links', field: 'token_sealed' },
  // Audit data keys (core/audit-seal.ts): re-wrapping them keeps every sealed audit field readable.
  { table: 'audit_keys', field: 'key_sealed' },
] as const;

function repositories(db: Db, dialect: StoreDialect, auditSealer?: AuditSealer): Repositories {
  return {
    workspaces: {
      async insert(w) {
        await db.insertInto('workspaces').values(workspaceRow(w)).execute();
      },
      async get(id) {
        const row = await db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
        return row && toWorkspace(row);
      },
      async getForUpdate(id) {
        let query = db.selectFrom('workspaces').selectAll().where('id', '=', id);
        if (dialect === 'postgres') query = query.forUpdate();
        const row = await query.executeTakeFirst();
        return row && toWorkspace(row);
      },
      async list() {
        const rows = await db.selectFrom('workspaces').selectAll().orderBy('created_at').execute();
        return rows.map(toWorkspace);
      },
      async updateSettings(id, settings) {
        await db
          .updateTable('workspaces')
          .set({ settings: JSON.stringify(settings) })
          .where('id', '=', id)
          .execute();
      },
    },
    connections: {
      async insert(c) {
        await db.insertInto('connections').values(connectionRow(c)).execute();
      },
      async get(workspaceId, id) {
        const row = await db
          .selectFrom('connections')
          .selectAll()
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .executeTakeFirst();
        return row && toConnection(row);
      },
      list(workspaceId, options) {
        return pageOf(pagedQuery(db, 'connections', workspaceId, options).execute(), options.limit, (r) =>
          toConnection(r as Database['connections']),
        );
      },
      async update(c) {
        const { workspace_id, id, created_at, ...rest } = connectionRow(c);
        const result = await db
          .updateTable('connections')
          .set(rest)
          .where('workspace_id', '=', workspace_id)
          .where('id', '=', id)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      },
      async delete(workspaceId, id) {
        const result = await db
          .deleteFrom('connections')
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      },
    },
    recipients: {
      async insert(r) {
        await db.insertInto('recipients').values(recipientRow(r)).execute();
      },
      async get(workspaceId, id) {
        const row = await db
          .selectFrom('recipients')
          .selectAll()
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .executeTakeFirst();
        return row && toRecipient(row);
      },
      list(workspaceId, options) {
        return pageOf(pagedQuery(db, 'recipients', workspaceId, options).execute(), options.limit, (r) =>
          toRecipient(r as Database['recipients']),
        );
      },
      async markRevoked(workspaceId, id, at) {
        const result = await db
          .updateTable('recipients')
          .set({ revoked_at: at })
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      },
    },
    credentials: {
      async insert(c) {
        await db.insertInto('credentials').values(credentialRow(c)).execute();
      },
      async get(workspaceId, id) {
        const row = await db
          .selectFrom('credentials')
          .selectAll()
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .executeTakeFirst();
        return row && toCredential(row);
      },
      async findByHash(tokenHash) {
        const row = await db
          .selectFrom('credentials')
          .selectAll()
          .where('token_hash', '=', tokenHash)
          .executeTakeFirst();
        return row && toCredential(row);
      },
      list(workspaceId, options) {
        let query = pagedQuery(db, 'credentials', workspaceId, options);
        if (options.recipientId !== undefined) query = query.where('recipient_id', '=', options.recipientId);
        return pageOf(query.execute(), options.limit, (r) => toCredential(r as Database['credentials']));
      },
      async markRevoked(workspaceId, id, at) {
        const result = await db
          .updateTable('credentials')
          .set({ revoked_at: at })
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      },
      async revokeAllOfRecipient(workspaceId, recipientId, at) {
        const rows = await db
          .updateTable('credentials')
          .set({ revoked_at: at })
          .where('workspace_id', '=', workspaceId)
          .where('recipient_id', '=', recipientId)
          .where('revoked_at', 'is', null)
          .returning('id')
          .execute();
        return rows.map((r) => r.id);
      },
      async touch(workspaceId, id, at) {
        await db
          .updateTable('credentials')
          .set({ last_used_at: at })
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .execute();
      },
      async liveGrantingConnection(workspaceId, connectionId, now) {
        // Grants are stored as JSON written by JSON.stringify, so the key/value text is exact;
        // the JSON is re-checked below so a look-alike substring cannot count.
        const needle = `%${JSON.stringify({ connection_id: connectionId }).slice(1, -1)}%`;
        const rows = await db
          .selectFrom('credentials')
          .select(['id', 'grants'])
          .where('workspace_id', '=', workspaceId)
          .where('revoked_at', 'is', null)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
          .where('grants', 'like', needle)
          .execute();
        return rows
          .filter((r) =>
            (JSON.parse(r.grants) as Array<{ connection_id: string }>).some(
              (g) => g.connection_id === connectionId,
            ),
          )
          .map((r) => r.id);
      },
    },
    managementTokens: {
      async insert(t) {
        await db.insertInto('management_tokens').values(managementTokenRow(t)).execute();
      },
      async get(workspaceId, id) {
        const row = await db
          .selectFrom('management_tokens')
          .selectAll()
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .executeTakeFirst();
        return row && toManagementToken(row);
      },
      async findByHash(tokenHash) {
        const row = await db
          .selectFrom('management_tokens')
          .selectAll()
          .where((eb) => eb.or([eb('token_hash', '=', tokenHash), eb('previous_token_hash', '=', tokenHash)]))
          .executeTakeFirst();
        return row && toManagementToken(row);
      },
      async rotate(workspaceId, id, next) {
        const current = await db
          .selectFrom('management_tokens')
          .select('token_hash')
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (!current) return false;
        await db
          .updateTable('management_tokens')
          .set({
            token_hash: next.tokenHash,
            token_prefix: next.tokenPrefix,
            previous_token_hash: current.token_hash,
            previous_valid_until: next.previousValidUntil,
          })
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .execute();
        return true;
      },
      list(workspaceId, options) {
        let query = pagedQuery(db, 'management_tokens', workspaceId, options);
        if (options.kind !== undefined) query = query.where('kind', '=', options.kind);
        return pageOf(query.execute(), options.limit, (r) =>
          toManagementToken(r as Database['management_tokens']),
        );
      },
      async markRevoked(workspaceId, id, at) {
        const result = await db
          .updateTable('management_tokens')
          .set({ revoked_at: at })
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      },
      async touch(workspaceId, id, at) {
        await db
          .updateTable('management_tokens')
          .set({ last_used_at: at })
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .execute();
      },
    },
    adminAudit: {
      async insert(e) {
        await db.insertInto('admin_audit_events').values(adminAuditRow(e)).execute();
      },
      async list(workspaceId, options) {
        let query = db
          .selectFrom('admin_audit_events')
          .selectAll()
          .where('workspace_id', '=', workspaceId)
          .orderBy('at')
          .orderBy('id')
          .limit(options.limit + 1);
        const cursor = cursorOrThrow(options.cursor);
        if (cursor) {
          const [at, id] = cursor;
          query = query.where((eb) =>
            eb.or([eb('at', '>', at), eb.and([eb('at', '=', at), eb('id', '>', id)])]),
          );
        }
        return pageOf(
          query.execute().then((rows) => rows.map((r) => ({ ...r, created_at: r.at }))),
          options.limit,
          toAdminAudit,
        );
      },
    },
    audit: auditRepo(db, dialect, auditSealer),
    shareLinks: {
      async insert(l) {
        await db
          .insertInto('share_links')
          .values({
            workspace_id: l.workspaceId,
            id: l.id,
            secret_hash: l.secretHash,
            credential_id: l.credentialId,
            token_sealed: l.tokenSealed,
            expires_at: l.expiresAt,
            created_at: l.createdAt,
            opened_at: l.openedAt,
          })
          .execute();
      },
      async findBySecretHash(secretHash) {
        const r = await db
          .selectFrom('share_links')
          .selectAll()
          .where('secret_hash', '=', secretHash)
          .executeTakeFirst();
        return (
          r && {
            workspaceId: r.workspace_id,
            id: r.id,
            secretHash: r.secret_hash,
            credentialId: r.credential_id,
            tokenSealed: r.token_sealed,
            expiresAt: r.expires_at,
            createdAt: r.created_at,
            openedAt: r.opened_at,
          }
        );
      },
      async claim(workspaceId, id, at) {
        const result = await db
          .updateTable('share_links')
          .set({ opened_at: at, token_sealed: null })
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .where('opened_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      },
    },
    trustedIps: {
      async add(t) {
        const result = await db
          .insertInto('trusted_ips')
          .values({
            workspace_id: t.workspaceId,
            recipient_id: t.recipientId,
            ip_group: t.ipGroup,
            first_ip: t.firstIp,
            source: t.source,
            created_at: t.createdAt,
          })
          .onConflict((oc) => oc.columns(['workspace_id', 'recipient_id', 'ip_group']).doNothing())
          .executeTakeFirst();
        return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
      },
      async has(workspaceId, recipientId, ipGroup) {
        const row = await db
          .selectFrom('trusted_ips')
          .select('ip_group')
          .where('workspace_id', '=', workspaceId)
          .where('recipient_id', '=', recipientId)
          .where('ip_group', '=', ipGroup)
          .executeTakeFirst();
        return row !== undefined;
      },
      async count(workspaceId, recipientId) {
        const row = await db
          .selectFrom('trusted_ips')
          .select((eb) => eb.fn.countAll<string | number>().as('n'))
          .where('workspace_id', '=', workspaceId)
          .where('recipient_id', '=', recipientId)
          .executeTakeFirstOrThrow();
        return Number(row.n);
      },
      async list(workspaceId, recipientId) {
        const rows = await db
          .selectFrom('trusted_ips')
          .selectAll()
          .where('workspace_id', '=', workspaceId)
          .where('recipient_id', '=', recipientId)
          .orderBy('created_at')
          .execute();
        return rows.map((r) => ({
          workspaceId: r.workspace_id,
          recipientId: r.recipient_id,
          ipGroup: r.ip_group,
          firstIp: r.first_ip,
          source: r.source === 'confirmed' ? 'confirmed' : 'first_use',
          createdAt: r.created_at,
        }));
      },
      async remove(workspaceId, recipientId, ipGroup) {
        const result = await db
          .deleteFrom('trusted_ips')
          .where('workspace_id', '=', workspaceId)
          .where('recipient_id', '=', recipientId)
          .where('ip_group', '=', ipGroup)
          .executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      },
    },
    ipConfirmations: {
      async insert(c) {
        await db
          .insertInto('ip_confirmations')
          .values({
            workspace_id: c.workspaceId,
            id: c.id,
            secret_hash: c.secretHash,
            recipient_id: c.recipientId,
            credential_id: c.credentialId,
            connection_id: c.connectionId,
            ip_group: c.ipGroup,
            ip: c.ip,
            user_agent: c.userAgent,
            created_at: c.createdAt,
            expires_at: c.expiresAt,
            confirmed_at: c.confirmedAt,
          })
          .execute();
      },
      async findPending(workspaceId, recipientId, ipGroup, now) {
        const row = await db
          .selectFrom('ip_confirmations')
          .selectAll()
          .where('workspace_id', '=', workspaceId)
          .where('recipient_id', '=', recipientId)
          .where('ip_group', '=', ipGroup)
          .where('confirmed_at', 'is', null)
          .where('expires_at', '>', now)
          .orderBy('created_at', 'desc')
          .executeTakeFirst();
        return row && toIpConfirmation(row);
      },
      async findBySecretHash(secretHash) {
        const row = await db
          .selectFrom('ip_confirmations')
          .selectAll()
          .where('secret_hash', '=', secretHash)
          .executeTakeFirst();
        return row && toIpConfirmation(row);
      },
      async markConfirmed(workspaceId, id, at) {
        const result = await db
          .updateTable('ip_confirmations')
          .set({ confirmed_at: at })
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .where('confirmed_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      },
    },
    outbox: {
      async insert(m) {
        await db
          .insertInto('outbox')
          .values({
            id: m.id,
            workspace_id: m.workspaceId,
            to_address: m.to,
            subject: m.subject,
            text_body: m.text,
            created_at: m.createdAt,
            sent_at: m.sentAt,
            error: m.error,
          })
          .execute();
      },
      async markSent(id, at, error) {
        await db.updateTable('outbox').set({ sent_at: at, error }).where('id', '=', id).execute();
      },
      async list(options) {
        let query = db
          .selectFrom('outbox')
          .selectAll()
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(options.limit);
        if (options.workspaceId !== undefined) query = query.where('workspace_id', '=', options.workspaceId);
        const rows = await query.execute();
        return rows.map((r) => ({
          id: r.id,
          workspaceId: r.workspace_id,
          to: r.to_address,
          subject: r.subject,
          text: r.text_body,
          createdAt: r.created_at,
          sentAt: r.sent_at,
          error: r.error,
        }));
      },
    },
    securityEvents: {
      async insert(e) {
        await db
          .insertInto('security_events')
          .values({
            workspace_id: e.workspaceId,
            id: e.id,
            at: e.at,
            kind: e.kind,
            severity: e.severity,
            subject: e.subject,
            detail: JSON.stringify(e.detail),
            status: e.status,
            resolved_at: e.resolvedAt,
            resolved_by: e.resolvedBy,
          })
          .execute();
      },
      async get(workspaceId, id) {
        const row = await db
          .selectFrom('security_events')
          .selectAll()
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .executeTakeFirst();
        return row && toSecurityEvent(row);
      },
      async list(workspaceId, options) {
        let query = db
          .selectFrom('security_events')
          .selectAll()
          .where('workspace_id', '=', workspaceId)
          .orderBy('at', 'desc')
          .orderBy('id', 'desc')
          .limit(options.limit + 1);
        if (options.status !== undefined) query = query.where('status', '=', options.status);
        if (options.kind !== undefined) query = query.where('kind', '=', options.kind);
        const cursor = cursorOrThrow(options.cursor);
        if (cursor) {
          const [at, id] = cursor;
          query = query.where((eb) =>
            eb.or([eb('at', '<', at), eb.and([eb('at', '=', at), eb('id', '<', id)])]),
          );
        }
        return pageOf(
          query.execute().then((rows) => rows.map((r) => ({ ...r, created_at: r.at }))),
          options.limit,
          toSecurityEvent,
        );
      },
      async resolve(workspaceId, id, at, by) {
        const result = await db
          .updateTable('security_events')
          .set({ status: 'resolved', resolved_at: at, resolved_by: by })
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .where('status', '=', 'open')
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      },
      async countOpen(workspaceId, severity, since) {
        const row = await db
          .selectFrom('security_events')
          .select((eb) => eb.fn.countAll<string | number>().as('n'))
          .where('workspace_id', '=', workspaceId)
          .where('severity', '=', severity)
          .where('status', '=', 'open')
          .where('at', '>=', since)
          .executeTakeFirstOrThrow();
        return Number(row.n);
      },
    },
    sealedFields: {
      async listAll() {
        const out: SealedField[] = [];
        for (const { table, field } of SEALED_COLUMNS) {
          const rows = await db.selectFrom(table).select(['workspace_id', 'id', field]).execute();
          for (const row of rows) {
            const sealed = (row as Record<string, string | null>)[field];
            // A spent share link has forgotten its token: nothing to re-wrap.
            if (typeof sealed === 'string')
              out.push({ table, field, workspaceId: row.workspace_id, id: row.id, sealed });
          }
        }
        return out;
      },
      async replace(f, sealed) {
        const column = SEALED_COLUMNS.find((c) => c.table === f.table && c.field === f.field);
        if (!column) throw new Error(`not a sealed column: ${f.table}.${f.field}`);
        await db
          .updateTable(column.table)
          .set({ [column.field]: sealed })
          .where('workspace_id', '=', f.workspaceId)
          .where('id', '=', f.id)
          .execute();
      },
    },
    meta: {
      async get(key) {
        const row = await db
          .selectFrom('relay_meta')
          .select('value')
          .where('key', '=', key)
          .executeTakeFirst();
        return row?.value;
      },
      async set(key, value) {
        await db
          .insertInto('relay_meta')
          .values({ key, value })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
          .execute();
      },
    },
  };
}

export class KyselyStore implements Store {
  readonly dialect: StoreDialect;
  readonly #db: Kysely<Database>;
  #repos: Repositories;
  #auditSealer: AuditSealer | undefined;
  readonly #onClose: () => Promise<void>;

  constructor(db: Kysely<Database>, dialect: StoreDialect, onClose: () => Promise<void> = async () => {}) {
    this.#db = db;
    this.dialect = dialect;
    this.#repos = repositories(db, dialect);
    this.#onClose = onClose;
  }

  get workspaces() {
    return this.#repos.workspaces;
  }
  get connections() {
    return this.#repos.connections;
  }
  get recipients() {
    return this.#repos.recipients;
  }
  get credentials() {
    return this.#repos.credentials;
  }
  get managementTokens() {
    return this.#repos.managementTokens;
  }
  get adminAudit() {
    return this.#repos.adminAudit;
  }
  get audit() {
    return this.#repos.audit;
  }
  get shareLinks() {
    return this.#repos.shareLinks;
  }
  get trustedIps() {
    return this.#repos.trustedIps;
  }
  get ipConfirmations() {
    return this.#repos.ipConfirmations;
  }
  get outbox() {
    return this.#repos.outbox;
  }
  get securityEvents() {
    return this.#repos.securityEvents;
  }
  get sealedFields() {
    return this.#repos.sealedFields;
  }
  get meta() {
    return this.#repos.meta;
  }

  /**
   * Audit records are sealed on write and opened on read (core/audit-seal.ts). A store
   * opened without the master key lists them with the sealed fields shown as `[sealed]`
   * and cannot write them.
   */
  useAuditSealer(sealer: AuditSealer): void {
    this.#auditSealer = sealer;
    this.#repos = repositories(this.#db, this.dialect, sealer);
  }

  /** The Kysely instance, for adapters that extend the schema (tests use it to tamper with rows). */
  get db(): Kysely<Database> {
    return this.#db;
  }

  transaction<T>(work: (tx: Repositories) => Promise<T>): Promise<T> {
    return this.#db.transaction().execute((trx) => work(repositories(trx, this.dialect, this.#auditSealer)));
  }

  #migrator(): Migrator {
    return new Migrator({
      db: this.#db,
      provider: migrationProvider,
      migrationTableName: 'relay_migrations',
    });
  }

  async migrate() {
    // Kysely takes a PostgreSQL advisory lock around migrations, so nodes starting together are safe.
    const { error, results } = await this.#migrator().migrateToLatest();
    if (error) throw error;
    return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
  }

  async pendingMigrations() {
    const all = await this.#migrator().getMigrations();
    return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
  }

  async isInitialised() {
    const tables = await this.#db.introspection.getTables();
    return tables.some((t) => t.name === 'relay_meta');
  }

  async close() {
    await this.#db.destroy();
    await this.#onClose();
  }
}

/** Executes raw SQL (tests tamper with rows through it; `relay doctor` pings with it). */
export async function ping(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
