import { type Kysely, PostgresAdapter } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import { moveChainedRowsToSegments } from './audit-repo.ts';
import type { Database } from './schema.ts';

/**
 * One migration set for both dialects, written with Kysely's schema builder and
 * portable column types only. Append new migrations; never edit a shipped one.
 */
const migrations: Record<string, Migration> = {
  '0001_foundation': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('relay_meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('workspaces')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('settings', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('connections')
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('base_url', 'text', (c) => c.notNull())
        .addColumn('auth_type', 'text', (c) => c.notNull())
        .addColumn('auth_config', 'text', (c) => c.notNull())
        .addColumn('secret_sealed', 'text', (c) => c.notNull())
        .addColumn('secret_last4', 'text', (c) => c.notNull())
        .addColumn('preset', 'text')
        .addColumn('options', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('connections_pk', ['workspace_id', 'id'])
        .execute();
      await db.schema
        .createTable('recipients')
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('email', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addPrimaryKeyConstraint('recipients_pk', ['workspace_id', 'id'])
        .execute();
      await db.schema
        .createTable('credentials')
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('recipient_id', 'text')
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('token_prefix', 'text', (c) => c.notNull())
        .addColumn('grants', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('ip_mode', 'text', (c) => c.notNull())
        .addColumn('ip_allowlist', 'text', (c) => c.notNull())
        .addColumn('rate_limit_profile', 'text')
        .addColumn('review', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('last_used_at', 'text')
        .addPrimaryKeyConstraint('credentials_pk', ['workspace_id', 'id'])
        .execute();
      await db.schema
        .createIndex('credentials_recipient_idx')
        .on('credentials')
        .columns(['workspace_id', 'recipient_id'])
        .execute();
      await db.schema
        .createTable('management_tokens')
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('token_prefix', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('ip_allowlist', 'text', (c) => c.notNull())
        .addColumn('api_scope', 'text')
        .addColumn('bounds', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('last_used_at', 'text')
        .addPrimaryKeyConstraint('management_tokens_pk', ['workspace_id', 'id'])
        .execute();
      await db.schema
        .createTable('admin_audit_events')
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('ip', 'text')
        .addPrimaryKeyConstraint('admin_audit_events_pk', ['workspace_id', 'id'])
        .execute();
      await db.schema
        .createIndex('admin_audit_events_at_idx')
        .on('admin_audit_events')
        .columns(['workspace_id', 'at'])
        .execute();
    },
  },
  '0002_audit_events': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('audit_events')
        .addColumn('workspace_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('connection_id', 'text')
        .addColumn('credential_id', 'text')
        .addColumn('recipient_id', 'text')
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('query', 'text')
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('duration_ms', 'real', (c) => c.notNull())
        .addColumn('upstream_ms', 'real')
        .addColumn('bytes_in', 'bigint', (c) => c.notNull())
        .addColumn('bytes_out', 'bigint', (c) => c.notNull())
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('user_agent', 'text')
        .execute();
      await db.schema
        .createIndex('audit_events_ws_at_idx')
        .on('audit_events')
        .columns(['workspace_id', 'at', 'id'])
        .execute();
      await db.schema
        .createIndex('audit_events_ws_credential_idx')
        .on('audit_events')
        .columns(['workspace_id', 'credential_id', 'at'])
        .execute();
    },
  },
  '0003_token_rotation_api_keys_share_links': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('management_tokens')
        .addColumn('kind', 'text', (c) => c.notNull().defaultTo('token'))
        .execute();
      await db.schema.alterTable('management_tokens').addColumn('scopes', 'text').execute();
      await db.schema.alterTable('management_tokens').addColumn('previous_token_hash', 'text').execute();
      await db.schema.alterTable('management_tokens').addColumn('previous_valid_until', 'text').execute();
      await db.schema
        .createIndex('management_tokens_previous_hash_idx')
        .on('management_tokens')
        .column('previous_token_hash')
        .execute();
      await db.schema
        .createTable('share_links')
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
        .addColumn('credential_id', 'text', (c) => c.notNull())
        .addColumn('token_sealed', 'text')
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('opened_at', 'text')
        .addPrimaryKeyConstraint('share_links_pk', ['workspace_id', 'id'])
        .execute();
    },
  },
  '0004_access_policies': {
    async up(db: Kysely<unknown>) {
      // Per-credential and per-token policies (geo rules, client-certificate pins), as JSON.
      await db.schema
        .alterTable('credentials')
        .addColumn('policies', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
      await db.schema
        .alterTable('management_tokens')
        .addColumn('policies', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
      await db.schema
        .createTable('trusted_ips')
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
        .addColumn('recipient_id', 'text', (c) => c.notNull())
        .addColumn('ip_group', 'text', (c) => c.notNull())
        .addColumn('first_ip', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('trusted_ips_pk', ['workspace_id', 'recipient_id', 'ip_group'])
        .execute();
      await db.schema
        .createTable('ip_confirmations')
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
        .addColumn('recipient_id', 'text', (c) => c.notNull())
        .addColumn('credential_id', 'text', (c) => c.notNull())
        .addColumn('connection_id', 'text', (c) => c.notNull())
        .addColumn('ip_group', 'text', (c) => c.notNull())
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('user_agent', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('confirmed_at', 'text')
        .addPrimaryKeyConstraint('ip_confirmations_pk', ['workspace_id', 'id'])
        .execute();
      await db.schema
        .createIndex('ip_confirmations_pending_idx')
        .on('ip_confirmations')
        .columns(['workspace_id', 'recipient_id', 'ip_group'])
        .execute();
      await db.schema
        .createTable('outbox')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('workspace_id', 'text')
        .addColumn('to_address', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('text_body', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('sent_at', 'text')
        .addColumn('error', 'text')
        .execute();
      await db.schema
        .createTable('security_events')
        .addColumn('workspace_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('resolved_at', 'text')
        .addColumn('resolved_by', 'text')
        .addPrimaryKeyConstraint('security_events_pk', ['workspace_id', 'id'])
        .execute();
      await db.schema
        .createIndex('security_events_ws_at_idx')
        .on('security_events')
        .columns(['workspace_id', 'at'])
        .execute();
    },
  },
  '0005_audit_integrity': {
    async up(db: Kysely<unknown>) {
      // Audit at rest (core/audit-chain.ts, core/audit-seal.ts): each record's place in its
      // workspace's hash chain and the data key that sealed its sensitive fields. Records
      // already stored keep nulls: they stay readable, outside the chain, until pruned.
      for (const [column, type] of [
        ['seq', 'bigint'],
        ['prev_hash', 'text'],
        ['hash', 'text'],
        ['key_id', 'text'],
        ['sealed', 'text'],
      ] as const) {
        await db.schema.alterTable('audit_events').addColumn(column, type).execute();
      }
      // Unique: two writers can never both take the same position (a broken lock fails, not forks).
      await db.schema
        .createIndex('audit_events_ws_seq_idx')
        .on('audit_events')
        .columns(['workspace_id', 'seq'])
        .unique()
        .execute();
      await db.schema
        .createTable('audit_keys')
        .addColumn('workspace_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('key_sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_seq', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_keys_pk', ['workspace_id', 'id'])
        .execute();
      await db.schema
        .createTable('audit_chains')
        .addColumn('workspace_id', 'text', (c) => c.primaryKey())
        .addColumn('head_seq', 'bigint', (c) => c.notNull())
        .addColumn('head_hash', 'text', (c) => c.notNull())
        .addColumn('anchor_seq', 'bigint')
        .addColumn('anchor_hash', 'text')
        .addColumn('anchor_at', 'text')
        .execute();
      // The hash covers durations as written; PostgreSQL's `real` is 4 bytes and would round
      // them, so a record would no longer match its hash when read back. SQLite's REAL is 8 bytes.
      if (db.getExecutor().adapter instanceof PostgresAdapter) {
        for (const column of ['duration_ms', 'upstream_ms']) {
          await db.schema
            .alterTable('audit_events')
            .alterColumn(column, (c) => c.setDataType('double precision'))
            .execute();
        }
      }
    },
  },
  '0006_audit_segments': {
    async up(db: Kysely<unknown>) {
      // Chained audit records move from a row each to a segment per written batch
      // (adapters/db/audit-segments.ts). Records from before the chain (seq null) stay
      // in audit_events, as they were.
      await db.schema
        .createTable('audit_segments')
        .addColumn('workspace_id', 'text', (c) => c.notNull())
        .addColumn('first_seq', 'bigint', (c) => c.notNull())
        .addColumn('last_seq', 'bigint', (c) => c.notNull())
        .addColumn('min_at', 'text', (c) => c.notNull())
        .addColumn('max_at', 'text', (c) => c.notNull())
        .addColumn('records', 'integer', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('sealed', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_segments_pk', ['workspace_id', 'first_seq'])
        .execute();
      await db.schema
        .createIndex('audit_segments_last_seq_idx')
        .on('audit_segments')
        .columns(['workspace_id', 'last_seq'])
        .unique()
        .execute();
      await db.schema
        .createIndex('audit_segments_id_idx')
        .on('audit_segments')
        .columns(['workspace_id', 'id'])
        .unique()
        .execute();
      await db.schema
        .createTable('audit_segment_terms')
        .addColumn('workspace_id', 'text', (c) => c.notNull())
        .addColumn('term', 'text', (c) => c.notNull())
        .addColumn('first_seq', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_segment_terms_pk', ['workspace_id', 'term', 'first_seq'])
        .execute();
      await moveChainedRowsToSegments(db as unknown as Kysely<Database>);
    },
  },
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
