import { CompiledQuery, type Kysely, type SqliteDatabase } from 'kysely';
import { runOpsSync, type TransactionRunner } from '../group-commit.ts';
import type { Database } from '../schema.ts';

const BEGIN = CompiledQuery.raw('BEGIN IMMEDIATE');
const COMMIT = CompiledQuery.raw('COMMIT');
const ROLLBACK = CompiledQuery.raw('ROLLBACK');

/**
 * Group-commit batches on SQLite without a promise per statement: `node:sqlite` answers
 * synchronously, so a whole batch — BEGIN, every operation's statements, the deferred inserts,
 * COMMIT — runs in one synchronous stretch on the store's connection. It still goes through
 * Kysely's connection lock (`db.connection()`), so it never lands inside a transaction Kysely
 * has open on the same connection for other repositories.
 */
export function sqliteSyncRunner(db: Kysely<Database>, connection: SqliteDatabase, committed?: () => void): TransactionRunner {
  const execute = (query: CompiledQuery): readonly unknown[] => connection.prepare(query.sql).all(query.parameters);
  return {
    run: (ops) =>
      db.connection().execute(async () => {
        execute(BEGIN);
        try {
          const out = runOpsSync(ops, execute);
          execute(COMMIT);
          committed?.();
          return out;
        } catch (err) {
          rollback(execute);
          throw err;
        }
      }),
  };
}

function rollback(execute: (query: CompiledQuery) => unknown): void {
  try {
    execute(ROLLBACK);
  } catch {
    // SQLite already rolled back on its own (some errors end the transaction): nothing to undo.
  }
}
