import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import type { Store } from '../../src/store/db.ts';
import { kyselyRunner, type TransactionRunner } from '../../src/store/group-commit.ts';
import { arg, MultiInsert, Statement, type Step } from '../../src/store/prepared.ts';
import type { Database } from '../../src/store/schema.ts';
import { sqliteSyncRunner } from '../../src/store/sqlite/sync-runner.ts';
import { SequentialIds } from '../../src/store/sequential-ids.ts';
import { forEachBackend } from './backends.ts';

forEachBackend('prepared statements', (backend) => {
  let store: Store;
  let db: Kysely<unknown>;
  let runner: TransactionRunner;
  /** Runs one operation the way the store does on this dialect: synchronously on SQLite, awaited on PostgreSQL. */
  const exec = async <T>(step: () => Step<T>): Promise<T> => (await runner.run([step]))[0] as T;

  before(async () => {
    store = await backend().open();
    db = store.db as unknown as Kysely<unknown>;
    const typed = store.db as Kysely<Database>;
    runner = store.sqlite === undefined ? kyselyRunner(typed) : sqliteSyncRunner(typed, store.sqlite);
    await sql`CREATE TABLE scratch (k TEXT PRIMARY KEY, n BIGINT NOT NULL, note TEXT)`.execute(db);
  });
  after(async () => {
    await store?.close();
  });

  test('a statement is compiled once and runs with its arguments in slot order, a slot used twice included', async () => {
    const both = new Statement<{ a: string; b: string; c: string }>(db, sql`SELECT CAST(${arg(1)} AS TEXT) AS a, CAST(${arg(0)} AS TEXT) AS b, CAST(${arg(1)} AS TEXT) AS c`);
    // Spread: node:sqlite rows have a null prototype.
    assert.deepEqual((await exec(() => both.step(['x', 'y']))).map((r) => ({ ...r })), [{ a: 'y', b: 'x', c: 'y' }]);
    assert.deepEqual((await exec(() => both.step(['p', 'q']))).map((r) => ({ ...r })), [{ a: 'q', b: 'p', c: 'q' }]);
    await assert.rejects(exec(() => both.step(['only one'])), /expected 2 arguments/);
    assert.throws(() => new Statement(db, sql`SELECT ${'inline'} AS v`), /through arg\(i\)/);
    assert.throws(() => new Statement(db, sql`SELECT ${arg(1)} AS v`), /argument 0 is never used/);
  });

  test('a multi-row INSERT writes any number of rows, exactly, in chunks', async () => {
    const insert = new MultiInsert(db, 'INSERT INTO scratch (k, n, note)', 3, (base) => sql`(${arg(base)}, CAST(${arg(base + 1)} AS BIGINT), ${arg(base + 2)})`);
    let written = 0;
    for (const count of [0, 1, 3, 4, 5, 21, 64, 85, 150]) {
      const values = Array.from({ length: count }, (_, i) => [`r${written + i}`, (2n ** 62n + BigInt(written + i)).toString(), i % 2 === 0 ? null : 'odd']).flat();
      await exec(() => insert.step(values));
      written += count;
    }
    const rows = await sql<{ k: string; n: string; note: string | null }>`SELECT k, CAST(n AS TEXT) AS n, note FROM scratch`.execute(db);
    assert.equal(rows.rows.length, written);
    const byKey = new Map(rows.rows.map((r) => [r.k, r]));
    for (let i = 0; i < written; i++) assert.equal(byKey.get(`r${i}`)?.n, (2n ** 62n + BigInt(i)).toString());
    await assert.rejects(exec(() => insert.step(['a', '1'])), /do not make items of 3/);
  });
});

test('sequential ids: unique, fixed length, issued in sorted order, random per instance', () => {
  const a = new SequentialIds('le');
  const ids = Array.from({ length: 5000 }, () => a.next());
  assert.ok(ids.every((id) => /^le_[0-9a-z]{20}$/.test(id)));
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  assert.notEqual(new SequentialIds('le').next().slice(0, 15), ids[0]!.slice(0, 15));
});
