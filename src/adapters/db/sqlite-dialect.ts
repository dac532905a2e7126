import { chmodSync, existsSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { type SqliteDatabase, SqliteDialect, type SqliteStatement } from 'kysely';

/**
 * Kysely's SQLite dialect speaks to a driver shaped like better-sqlite3; this is
 * the subset of it (as Kysely's own `SqliteDatabase` declares) over the built-in
 * `node:sqlite`, so no native addon is needed.
 */
class NodeSqliteStatement implements SqliteStatement {
  readonly reader: boolean;
  readonly #statement: StatementSync;

  constructor(statement: StatementSync) {
    this.#statement = statement;
    this.reader = statement.columns().length > 0;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.#statement.all(...(parameters as SqlParams));
  }

  run(parameters: ReadonlyArray<unknown>) {
    const { changes, lastInsertRowid } = this.#statement.run(...(parameters as SqlParams));
    return { changes, lastInsertRowid };
  }

  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    return this.#statement.iterate(...(parameters as SqlParams)) as IterableIterator<unknown>;
  }
}

type SqlParams = Array<null | number | bigint | string | NodeJS.ArrayBufferView>;

/** Prepared statements kept per SQL text; Kysely's statements repeat, so preparing once pays. */
const STATEMENT_CACHE_SIZE = 200;

class NodeSqliteDatabase implements SqliteDatabase {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, NodeSqliteStatement>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  close(): void {
    this.#statements.clear();
    if (this.#db.isOpen) this.#db.close();
  }

  prepare(sql: string): SqliteStatement {
    // Kysely opens transactions with a deferred `begin`. Under WAL with a second
    // connection (the audit writer's thread), a deferred transaction that reads and
    // then writes fails at once with SQLITE_BUSY if the other committed meanwhile;
    // `begin immediate` takes the write lock up front, so busy_timeout applies.
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = new NodeSqliteStatement(
        this.#db.prepare(/^\s*begin\s*;?\s*$/i.test(sql) ? 'begin immediate' : sql),
      );
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        this.#statements.delete(this.#statements.keys().next().value as string);
      }
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}

export interface SqliteOptions {
  /** `temp_store = MEMORY` on this connection (see OpenStoreOptions.tempInMemory). */
  readonly tempInMemory?: boolean;
}

export function openSqlite(
  path: string,
  options: SqliteOptions = {},
): { dialect: SqliteDialect; raw: DatabaseSync } {
  const isNew = !existsSync(path);
  const raw = new DatabaseSync(path);
  // Owner-only before the first write: SQLite gives the -wal and -shm files the same mode.
  if (isNew) chmodSync(path, 0o600);
  // WAL lets readers (e.g. `relay audit verify`) run beside a live server; busy_timeout
  // waits instead of failing when another process holds the write lock.
  raw.exec(
    'PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;',
  );
  if (options.tempInMemory === true) raw.exec('PRAGMA temp_store = MEMORY;');
  return { dialect: new SqliteDialect({ database: new NodeSqliteDatabase(raw) }), raw };
}
