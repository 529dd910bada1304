import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDialectConfig,
} from 'kysely';

/**
 * Kysely's SQLite dialect with two corrections that matter once a second process (the CLI in
 * local mode next to a running gateway) opens the same file:
 *
 * - Transactions start with BEGIN IMMEDIATE: the write lock is taken up front, so a busy
 *   database is waited for (busy_timeout) at BEGIN. A deferred BEGIN that reads first and
 *   writes later fails at once with SQLITE_BUSY in WAL mode when another process committed in
 *   between. Every transaction in this store writes, so nothing is lost by locking early.
 * - Migrations are transactional. SQLite has transactional DDL but Kysely's adapter declares
 *   none, so a failing migration would leave the ones before it applied, and two processes
 *   could migrate at once. With this adapter the Migrator runs all pending migrations in one
 *   IMMEDIATE transaction: all or nothing, one process at a time (the later one finds nothing
 *   left to do). Consequence for future migrations: `PRAGMA foreign_keys` cannot change inside
 *   a transaction; a table rebuild uses `PRAGMA defer_foreign_keys = ON` instead.
 */
export class NodeSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}
