import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

const BUSY_TIMEOUT_MS = 5000;
/** Compiled statements kept per connection; Kysely prepares on every query, SQLite compiling is not free. */
const STATEMENT_CACHE_SIZE = 256;

/** Kysely's database shape plus what the synchronous batch runner needs to know (sync-runner.ts). */
export interface NodeSqliteDatabase extends SqliteDatabase {
  /** Whether a transaction is open on the connection (BEGIN without COMMIT or ROLLBACK yet). */
  readonly inTransaction: boolean;
}

/**
 * Kysely's SQLite dialect expects a better-sqlite3-shaped database; Node's built-in
 * `node:sqlite` is the same idea with other names. This adapter is the whole difference, so
 * the embedded default needs no native add-on.
 *
 * Integers: `node:sqlite` THROWS when it reads an integer beyond 2^53 as a number, and a
 * balance in nano-yuan passes 2^53 at about 9 million yuan. So every statement reads integers
 * as bigint and rows are handed on with safe integers as numbers and larger ones as decimal
 * strings — the same `string | number` the schema declares for BIGINT columns, which is also
 * what PostgreSQL's driver returns. No read can throw or round.
 */
export function openNodeSqlite(path: string): NodeSqliteDatabase {
  // busy_timeout: a second process (the CLI in local mode next to a running gateway) waits for
  // a lock instead of failing at once. Given to the constructor so it already holds for the
  // first statement: switching to WAL takes a lock too, and processes may open a new file together.
  const db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
  // WAL: readers do not block the writer. foreign_keys: SQLite enforces REFERENCES only when
  // asked. synchronous=NORMAL is durable across process crashes in WAL mode; only an OS crash
  // can lose the last commits.
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA foreign_keys = ON');
  db.exec('PRAGMA synchronous = NORMAL');

  /** A prepared statement and how its rows become the store's; `reader`: it returns rows. */
  const compile = (sql: string): { stmt: StatementSync; reader: boolean; toRow: (row: unknown) => unknown } => {
    const stmt = db.prepare(sql);
    stmt.setReadBigInts(true);
    const columns = stmt.columns().map((column) => column.name);
    // Rows as arrays, made into objects here: node:sqlite builds each row as a null-prototype
    // object in V8's dictionary mode, so every read of a column is a hash lookup (bench/README.md).
    // Only where the text fixes the columns: SQLite recompiles a cached statement after a schema
    // change, and a `*` may then stand for other columns than the names read here.
    if (columns.length === 0 || sql.includes('*')) return { stmt, reader: columns.length > 0, toRow: convertInPlace };
    stmt.setReturnArrays(true);
    return { stmt, reader: true, toRow: (values) => rowOf(values as readonly unknown[], columns) };
  };
  // One wrapper per cached statement, built once: Kysely asks for `prepare` on every query.
  const wrap = (sql: string): CachedStatement => {
    const { stmt, reader, toRow } = compile(sql);
    return {
      used: false,
      reader,
      all: (p) => toJsRows(stmt.all(...bind(p)), toRow),
      run: (p) => {
        // With bigint reads on, these come back as bigint too; Kysely accepts either.
        const r = stmt.run(...bind(p));
        return { changes: Number(r.changes), lastInsertRowid: r.lastInsertRowid };
      },
      // A stream holds its statement until it is exhausted, so it gets its own, uncached one.
      iterate: (p) => {
        const own = compile(sql);
        return mapIterator(own.stmt.iterate(...bind(p)), own.toRow);
      },
    };
  };
  const cache = new StatementCache(STATEMENT_CACHE_SIZE, wrap);

  return {
    get inTransaction() {
      return db.isTransaction;
    },
    close: () => {
      cache.clear();
      db.close();
    },
    prepare: (sql: string): SqliteStatement => cache.get(sql),
  };
}

interface CachedStatement extends SqliteStatement {
  /** Asked for since the cache last looked at it for eviction. */
  used: boolean;
}

/**
 * Prepared statements by SQL text, at most `size`, evicted second-chance (CLOCK): a hit only
 * marks its entry, so the hot path — the same dozen statements, every request — changes no
 * map; when full, the oldest entry not used since the last sweep goes.
 */
class StatementCache {
  readonly #entries = new Map<string, CachedStatement>();
  readonly #size: number;
  readonly #create: (sql: string) => CachedStatement;

  constructor(size: number, create: (sql: string) => CachedStatement) {
    this.#size = size;
    this.#create = create;
  }

  get(sql: string): CachedStatement {
    let entry = this.#entries.get(sql);
    if (entry !== undefined) {
      entry.used = true;
      return entry;
    }
    if (this.#entries.size >= this.#size) this.#evictOne();
    entry = this.#create(sql);
    this.#entries.set(sql, entry);
    return entry;
  }

  clear(): void {
    this.#entries.clear();
  }

  #evictOne(): void {
    for (const [sql, entry] of this.#entries) {
      this.#entries.delete(sql);
      if (!entry.used) return;
      entry.used = false;
      this.#entries.set(sql, entry); // a second chance, at the young end
    }
  }
}

/** Kysely passes parameters as an array; node:sqlite takes them as arguments. */
function bind(params: ReadonlyArray<unknown>): SQLInputValue[] {
  return params as SQLInputValue[];
}

/** The rows of `all`, converted in place (the array is ours: node:sqlite made it for this call). */
function toJsRows(rows: unknown[], toRow: (row: unknown) => unknown): unknown[] {
  for (let i = 0; i < rows.length; i++) rows[i] = toRow(rows[i]);
  return rows;
}

/**
 * A row given as values: a plain object, columns in order (a later column of the same name wins,
 * as in node:sqlite's own objects). Rows of one statement share one shape, so reading them stays
 * fast. The names are the store's own SQL's, never input.
 */
function rowOf(values: readonly unknown[], columns: readonly string[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (let i = 0; i < columns.length; i++) {
    const value = values[i];
    row[columns[i]!] = typeof value === 'bigint' ? toJsInteger(value) : value;
  }
  return row;
}

/** A row node:sqlite gave as its own object (a `*` statement): integers converted in place. */
function convertInPlace(row: unknown): unknown {
  const record = row as Record<string, unknown>;
  for (const key in record) {
    const value = record[key];
    if (typeof value === 'bigint') record[key] = toJsInteger(value);
  }
  return record;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

function toJsInteger(value: bigint): number | string {
  return value <= MAX_SAFE && value >= MIN_SAFE ? Number(value) : value.toString();
}

function* mapIterator(source: Iterator<unknown>, fn: (row: unknown) => unknown): IterableIterator<unknown> {
  for (let next = source.next(); next.done !== true; next = source.next()) yield fn(next.value);
}
