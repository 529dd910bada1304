import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { openStore, type Store } from '../../src/store/db.ts';
import { GroupCommit, type Op, type TransactionRunner } from '../../src/store/group-commit.ts';
import { arg, Statement } from '../../src/store/prepared.ts';
import type { Database } from '../../src/store/schema.ts';
import { sqliteSyncRunner } from '../../src/store/sqlite/sync-runner.ts';

// SQLite only: how the synchronous batch runner shares the one connection with Kysely's own
// transactions (on PostgreSQL every transaction has a pooled connection of its own).
let dir: string;
let store: Store;
let db: Kysely<unknown>;
let runner: TransactionRunner;
let insert: Statement<never>;
let count: Statement<{ n: number }>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'maas-sync-runner-'));
  store = await openStore({ dataDir: dir });
  db = store.db as unknown as Kysely<unknown>;
  runner = sqliteSyncRunner(store.db as Kysely<Database>, store.sqlite!);
  await sql`CREATE TABLE scratch (k TEXT PRIMARY KEY)`.execute(db);
  insert = new Statement(db, sql`INSERT INTO scratch (k) VALUES (${arg(0)})`);
  count = new Statement(db, sql`SELECT COUNT(*) AS n FROM scratch`);
});
after(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const insertThenCount =
  (k: string): Op<number> =>
  function* () {
    yield* insert.step([k]);
    return (yield* count.step([]))[0]!.n;
  };

test('with no transaction open, a batch commits before run() returns', async () => {
  const done = runner.run([insertThenCount('at-once')]);
  // Read straight from the connection, before awaiting anything: the row is already committed.
  const rows = store.sqlite!.prepare("SELECT k FROM scratch WHERE k = 'at-once'").all([]);
  assert.equal(rows.length, 1);
  assert.deepEqual(await done, [1]);
  assert.equal(store.sqlite!.inTransaction, false);
});

test('a batch submitted while a Kysely transaction is open waits for it and never lands inside it', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const outer = store.db.transaction().execute(async (trx) => {
    await sql`INSERT INTO scratch (k) VALUES ('outer-1')`.execute(trx);
    await gate;
    await sql`INSERT INTO scratch (k) VALUES ('outer-2')`.execute(trx);
  });
  while (!store.sqlite!.inTransaction) await new Promise((resolve) => setImmediate(resolve));

  let settled = false;
  const batch = runner.run([insertThenCount('batch')]).finally(() => (settled = true));
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false, 'the batch must wait for the open transaction');

  release();
  await outer;
  // It ran after the outer transaction committed: it counts both of its rows and its own.
  assert.deepEqual(await batch, [4]);
});

test('through the group commit: an operation submitted while a Kysely transaction is open runs after it; with none open, it commits in the turn it was scheduled for', async () => {
  const commit = new GroupCommit(runner);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const outer = store.db.transaction().execute(async (trx) => {
    await sql`INSERT INTO scratch (k) VALUES ('gc-outer')`.execute(trx);
    await gate;
  });
  while (!store.sqlite!.inTransaction) await new Promise((resolve) => setImmediate(resolve));

  let waited = false;
  const late = commit.submit(insertThenCount('gc-late')).finally(() => (waited = true));
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(waited, false, 'the operation must wait for the open transaction');
  release();
  await outer;
  const counted = await late;
  const before = (store.sqlite!.prepare('SELECT COUNT(*) AS n FROM scratch').all([])[0] as { n: number }).n;
  assert.equal(counted, before, "it ran after the outer transaction committed: it counted the outer row and its own");

  // No transaction open: the batch runs synchronously in the next turn and its row is there at once.
  const now = commit.submit(insertThenCount('gc-now'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(store.sqlite!.prepare("SELECT k FROM scratch WHERE k = 'gc-now'").all([]).length, 1);
  assert.equal(await now, before + 1);
  assert.equal(commit.commits, 2);
});

test('a failing batch rolls back and leaves the connection out of any transaction', async () => {
  const failing: Op<never> = function* () {
    yield* insert.step(['doomed']);
    throw new Error('operation failed');
  };
  await assert.rejects(runner.run([failing]), /operation failed/);
  assert.equal(store.sqlite!.inTransaction, false);
  const rows = store.sqlite!.prepare("SELECT k FROM scratch WHERE k = 'doomed'").all([]);
  assert.equal(rows.length, 0);
});
