import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kysely, PostgresDialect, type SqliteDatabase } from 'kysely';
import type pg from 'pg';
import type { StoreLogger } from './logger.ts';
import { runMigrations } from './migrate.ts';
import { migrationsFor } from './migrations/index.ts';
import type { Database } from './schema.ts';
import { NodeSqliteDialect } from './sqlite/dialect.ts';
import { openNodeSqlite, type NodeSqliteDatabase } from './sqlite/node-sqlite.ts';
import { BACKSTOP_AUTOCHECKPOINT_PAGES, BackgroundCheckpointer } from './sqlite/checkpointer.ts';

export type { StoreLogger };

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** SQLite only: the connection under `db`, for work that runs synchronously (sqlite/sync-runner.ts). */
  readonly sqlite?: NodeSqliteDatabase;
  /** Told after every group commit (SQLite with background checkpoints: paces the checkpointer). */
  readonly committed?: () => void;
  /** Closes the pool or the file; calling it again is harmless. */
  close(): Promise<void>;
}

export interface StoreOptions {
  /** postgres://… (or postgresql://…) selects PostgreSQL; unset means SQLite in `dataDir`. */
  readonly databaseUrl?: string | undefined;
  readonly dataDir: string;
  readonly logger?: StoreLogger | undefined;
  /** SQLite: checkpoint the WAL on a worker thread (sqlite/checkpointer.ts). For the long-running gateway, not for CLI commands. */
  readonly backgroundCheckpoints?: boolean;
}

export const SQLITE_FILE = 'maas.db';
const PG_POOL_MAX = 10;
/** A PostgreSQL that does not answer must fail the start, not hang it. */
const PG_CONNECT_TIMEOUT_MS = 10_000;
const PG_INT8 = 20;

/** Opens the store and brings its schema up to date before anyone reads it. */
export async function openStore(options: StoreOptions): Promise<Store> {
  const { db, dialect, sqlite } = await connect(options);
  try {
    await runMigrations(db, migrationsFor(dialect), options.logger);
  } catch (err) {
    await db.destroy().catch(() => {});
    throw err;
  }
  const checkpointer = sqlite !== undefined && options.backgroundCheckpoints === true ? startCheckpointer(sqlite, options.dataDir) : undefined;
  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    await checkpointer?.stop();
    await db.destroy();
  };
  return { db, dialect, ...(sqlite && { sqlite }), ...(checkpointer && { committed: () => checkpointer.committed() }), close: () => (closing ??= close()) };
}

function startCheckpointer(sqlite: SqliteDatabase, dataDir: string): BackgroundCheckpointer {
  sqlite.prepare(`PRAGMA wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`).all([]);
  return new BackgroundCheckpointer(join(dataDir, SQLITE_FILE));
}

async function connect(options: StoreOptions): Promise<{ db: Kysely<Database>; dialect: Dialect; sqlite?: NodeSqliteDatabase }> {
  const url = options.databaseUrl;
  if (url !== undefined && url !== '') {
    // Only the scheme goes into the message: the rest of a URL may carry a password.
    if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`MAAS_DATABASE_URL must start with postgres://, got '${url.split(':')[0]}:…'`);
    // Loaded only here: a gateway on the embedded default never carries the PostgreSQL driver.
    const { default: pgModule } = await import('pg');
    return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool: postgresPool(pgModule, url, options.logger) }) }), dialect: 'postgres' };
  }
  mkdirSync(options.dataDir, { recursive: true });
  const database = openNodeSqlite(join(options.dataDir, SQLITE_FILE));
  return { db: new Kysely<Database>({ dialect: new NodeSqliteDialect({ database }) }), dialect: 'sqlite', sqlite: database };
}

function postgresPool(pgModule: typeof pg, url: string, logger: StoreLogger | undefined): pg.Pool {
  const pool = new pgModule.Pool({
    connectionString: url,
    max: PG_POOL_MAX,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    // int8 (BIGINT: money, timestamps) as the decimal string, per pool rather than through the
    // process-global pg.types, so no other module can turn it into a rounding JS number.
    // Repositories convert: BigInt(…) for money, Number(…) for epoch ms.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === PG_INT8 ? (value: string) => value : pgModule.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client whose connection drops (server restart) emits 'error' on the pool; unhandled,
  // that would crash the process. The next query reconnects, so logging is enough.
  pool.on('error', (err) => logger?.error({ err }, 'PostgreSQL idle connection failed'));
  return pool;
}
