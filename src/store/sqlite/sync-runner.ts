import { CompiledQuery, type Kysely } from 'kysely';
import { runOpsSync, type Op, type TransactionRunner } from '../group-commit.ts';
import type { Database } from '../schema.ts';
import type { NodeSqliteDatabase } from './node-sqlite.ts';

const BEGIN = CompiledQuery.raw('BEGIN IMMEDIATE');
const COMMIT = CompiledQuery.raw('COMMIT');
const ROLLBACK = CompiledQuery.raw('ROLLBACK');

/**
 * Group-commit batches on SQLite without a promise per statement: `node:sqlite` answers
 * synchronously, so a whole batch — BEGIN, every operation's statements, the deferred inserts,
 * COMMIT — runs in one synchronous stretch on the store's connection.
 *
 * A stretch that starts while no transaction is open on the connection cannot interleave with
 * anything (nothing else runs until it ends), so then it runs at once. Only when another
 * repository has a Kysely transaction open across an await does the batch queue for Kysely's
 * connection lock (`db.connection()`) and run when that transaction is over. Taking the lock
 * every time cost two Kysely instances and several promise hops per transaction.
 */
export function sqliteSyncRunner(db: Kysely<Database>, connection: NodeSqliteDatabase, committed?: () => void): TransactionRunner {
  const execute = (query: CompiledQuery): readonly unknown[] => connection.prepare(query.sql).all(query.parameters);
  const runBatch = (ops: ReadonlyArray<Op<unknown>>): unknown[] => {
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
  };
  const runNow = (ops: ReadonlyArray<Op<unknown>>): unknown[] | undefined => (connection.inTransaction ? undefined : runBatch(ops));
  return {
    runNow,
    run: (ops) => {
      try {
        const out = runNow(ops);
        return out !== undefined ? Promise.resolve(out) : db.connection().execute(async () => runBatch(ops));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
  };
}

function rollback(execute: (query: CompiledQuery) => unknown): void {
  try {
    execute(ROLLBACK);
  } catch {
    // SQLite already rolled back on its own (some errors end the transaction): nothing to undo.
  }
}
