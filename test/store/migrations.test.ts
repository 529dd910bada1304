import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Migrator, sql, type Kysely } from 'kysely';
import pg from 'pg';
import { openStore, SQLITE_FILE, type Dialect } from '../../src/store/db.ts';
import type { Database } from '../../src/store/schema.ts';
import { createRepositories } from '../../src/store/index.ts';
import { runMigrations } from '../../src/store/migrate.ts';
import { migrationsFor } from '../../src/store/migrations/index.ts';
import { hashApiKey } from '../../src/store/repositories/api-keys.ts';
import { forEachBackend } from './backends.ts';

/** Index names per table, asked the way each dialect answers; the Record keeps it exhaustive. */
const INDEXES: Readonly<Record<Dialect, (db: Kysely<Database>, table: string) => Promise<string[]>>> = {
  sqlite: async (db, table) => (await sql<{ name: string }>`SELECT name FROM pragma_index_list(${table})`.execute(db)).rows.map((r) => r.name),
  postgres: async (db, table) => (await sql<{ name: string }>`SELECT indexname AS name FROM pg_indexes WHERE tablename = ${table}`.execute(db)).rows.map((r) => r.name),
};

forEachBackend('migrations', (backend) => {
  test('a fresh database gets every migration once, in order, logged once; reopening applies nothing', async () => {
    const expected = Object.keys(await migrationsFor(backend().dialect).getMigrations()).sort();
    const logged: unknown[] = [];
    const logger = { info: (obj: object) => logged.push(obj), error: () => {} };
    const first = await openStore({ ...backend().options, logger });
    try {
      const rows = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(first.db);
      assert.deepEqual(rows.rows.map((r) => r.name), expected);
      assert.deepEqual(await runMigrations(first.db, migrationsFor(backend().dialect)), [], 'already up to date');
    } finally {
      await first.close();
    }
    const second = await openStore({ ...backend().options, logger });
    try {
      assert.deepEqual(logged, [{ migrations: expected }], 'names what it applied, and only the first time');
      const rows = await sql<{ n: number | string }>`SELECT count(*) AS n FROM kysely_migration`.execute(second.db);
      assert.equal(Number(rows.rows[0]?.n), expected.length);
      assert.ok((await INDEXES[backend().dialect](second.db, 'api_keys')).includes('api_keys_account_id'));
    } finally {
      await second.close();
    }
  });

  test('a failing migration stops the open with an error naming it, and leaves no half schema', async () => {
    const options = await backend().fresh();
    // A table 0002 wants to create already exists: 0001 succeeds, 0002 fails.
    await backend().exec(options, 'CREATE TABLE holds (x INTEGER)');
    await assert.rejects(openStore(options), (err: Error) => {
      assert.match(err.message, /store migration '0002_billing' failed/);
      assert.ok(err.cause !== undefined, 'keeps the driver error as the cause');
      return true;
    });
    // Both dialects have transactional DDL: 0001 was rolled back with 0002.
    await backend().exec(options, 'CREATE TABLE accounts (x INTEGER)');
  });

  test('processes starting together on a new database migrate it once, and all of them start', async () => {
    const options = await backend().fresh();
    const db = new URL('../../src/store/db.ts', import.meta.url).href;
    const script = `const { openStore } = await import(${JSON.stringify(db)}); await (await openStore(JSON.parse(process.argv[1]))).close();`;
    const run = () => promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(options)]);
    await Promise.all([run(), run()]);
    const store = await openStore(options);
    try {
      const rows = await sql<{ n: number | string }>`SELECT count(*) AS n FROM kysely_migration`.execute(store.db);
      assert.equal(Number(rows.rows[0]?.n), Object.keys(await migrationsFor(backend().dialect).getMigrations()).length);
    } finally {
      await store.close();
    }
  });

  test('data survives close and reopen', async () => {
    const options = backend().options;
    const first = await openStore(options);
    const repos = createRepositories(first);
    const account = await repos.accounts.create({ name: 'Durable', plan: 'basic' });
    const { record, secret } = await repos.apiKeys.create({ accountId: account.id, models: ['m'] });
    await first.close();
    await first.close(); // idempotent
    if (backend().dialect === 'sqlite') assert.ok(existsSync(join(options.dataDir, SQLITE_FILE)));

    const reopened = await openStore(options);
    try {
      const again = createRepositories(reopened);
      assert.deepEqual(await again.accounts.get(account.id), account);
      const found = await again.apiKeys.findByHash(hashApiKey(secret));
      assert.equal(found?.id, record.id);
      assert.deepEqual(found?.models, ['m']);
    } finally {
      await reopened.close();
    }
  });

  test('0004: open holds survive the rebuild of their table, up and down; on SQLite it is keyed by request id (WITHOUT ROWID)', async () => {
    const store = await openStore(await backend().fresh());
    try {
      const account = await createRepositories(store).accounts.create({ name: 'Holder', plan: 'basic' });
      const migrator = new Migrator({ db: store.db, provider: migrationsFor(backend().dialect) });
      const withoutRowid = async () =>
        backend().dialect === 'sqlite' ? (await sql<{ wr: number }>`SELECT wr FROM pragma_table_list WHERE name = 'holds'`.execute(store.db)).rows[0]?.wr : undefined;
      assert.equal(await withoutRowid(), backend().dialect === 'sqlite' ? 1 : undefined);

      assert.equal((await migrator.migrateDown()).error, undefined);
      assert.equal(await withoutRowid(), backend().dialect === 'sqlite' ? 0 : undefined);
      await sql`INSERT INTO holds (request_id, account_id, key_id, model, chip, deployment_id, provider, amount, price, started_at)
        VALUES ('req_open', ${account.id}, 'key_x', 'm', 'nvidia', 'm#0', 'sim', CAST('9007199254740993' AS BIGINT), NULL, 1)`.execute(store.db);
      assert.equal((await migrator.migrateToLatest()).error, undefined);

      assert.equal(await withoutRowid(), backend().dialect === 'sqlite' ? 1 : undefined);
      const rows = await sql<{ request_id: string; amount: string }>`SELECT request_id, CAST(amount AS TEXT) AS amount FROM holds`.execute(store.db);
      assert.deepEqual(rows.rows.map((r) => ({ ...r })), [{ request_id: 'req_open', amount: '9007199254740993' }]);
    } finally {
      await store.close();
    }
  });

  test('BIGINT comes back from the driver as text or a safe number, never a rounded float', async () => {
    // Even if some other module turned int8 into a JS number process-wide, the store's pool keeps text.
    const original = pg.types.getTypeParser(20);
    pg.types.setTypeParser(20, (value: string) => Number(value));
    const store = await backend().open();
    try {
      const row = (await sql<{ big: unknown }>`SELECT CAST(9007199254740993 AS BIGINT) AS big`.execute(store.db)).rows[0];
      assert.equal(row?.big, '9007199254740993');
    } finally {
      await store.close();
      pg.types.setTypeParser(20, original);
    }
  });
});

test('a database URL that is not postgres:// is refused without echoing credentials', async () => {
  await assert.rejects(openStore({ databaseUrl: 'mysql://root:hunter2@db/maas', dataDir: tmpdir() }), (err: Error) => {
    assert.match(err.message, /must start with postgres:\/\//);
    assert.ok(!err.message.includes('hunter2'));
    return true;
  });
});
