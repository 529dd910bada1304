import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../db.ts';

/**
 * SQLite: the holds table becomes WITHOUT ROWID, its rows stored in the b-tree of its primary
 * key (request_id) instead of a rowid b-tree plus an index on request_id. Every request inserts
 * a hold and deletes it when it settles, so this halves the pages those two writes put in the
 * WAL (bench/README.md, "Holds by request id"). Open holds are few, so the copy is instant.
 *
 * PostgreSQL keeps rows in a heap and the key in an index whatever is declared: nothing to do,
 * and the migration is recorded there too, so both stores carry the same list.
 */
const COLUMNS = `request_id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts (id), key_id TEXT NOT NULL,
  model TEXT NOT NULL, chip TEXT NOT NULL, deployment_id TEXT NOT NULL, provider TEXT NOT NULL, amount BIGINT NOT NULL,
  price TEXT, started_at BIGINT NOT NULL`;

async function rebuildHolds(db: Kysely<unknown>, tableOptions: string): Promise<void> {
  await sql.raw(`CREATE TABLE holds_rebuilt (${COLUMNS}) ${tableOptions}`).execute(db);
  await sql`INSERT INTO holds_rebuilt SELECT request_id, account_id, key_id, model, chip, deployment_id, provider, amount, price, started_at FROM holds`.execute(db);
  await sql`DROP TABLE holds`.execute(db);
  await sql`ALTER TABLE holds_rebuilt RENAME TO holds`.execute(db);
}

export function holdsByRequest(dialect: Dialect): Migration {
  return {
    async up(db) {
      if (dialect === 'sqlite') await rebuildHolds(db, 'WITHOUT ROWID');
    },
    async down(db) {
      if (dialect === 'sqlite') await rebuildHolds(db, '');
    },
  };
}
