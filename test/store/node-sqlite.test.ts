import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openNodeSqlite } from '../../src/store/sqlite/node-sqlite.ts';

// The adapter alone, below Kysely: SQLite only by nature.
const dir = mkdtempSync(join(tmpdir(), 'maas-node-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function open(name: string) {
  return openNodeSqlite(join(dir, name));
}

test('opens with WAL, busy_timeout 5000, foreign keys on, synchronous NORMAL', () => {
  const db = open('pragmas.db');
  try {
    const pragma = (name: string) => Object.values(db.prepare(`PRAGMA ${name}`).all([])[0] as object)[0];
    assert.equal(pragma('journal_mode'), 'wal');
    assert.equal(pragma('busy_timeout'), 5000);
    assert.equal(pragma('foreign_keys'), 1);
    assert.equal(pragma('synchronous'), 1); // NORMAL
  } finally {
    db.close();
  }
});

test('reader is true exactly for statements that return rows (RETURNING included)', () => {
  const db = open('reader.db');
  try {
    db.prepare('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)').run([]);
    assert.equal(db.prepare('INSERT INTO t (v) VALUES (?)').reader, false);
    assert.equal(db.prepare('INSERT INTO t (v) VALUES (?) RETURNING id').reader, true);
    assert.equal(db.prepare('SELECT * FROM t').reader, true);
    const result = db.prepare('INSERT INTO t (v) VALUES (?)').run(['a']);
    assert.equal(result.changes, 1);
    assert.equal(Number(result.lastInsertRowid), 1);
    assert.deepEqual(db.prepare('INSERT INTO t (v) VALUES (?) RETURNING id, v').all(['b']).map((r) => ({ ...(r as object) })), [{ id: 2, v: 'b' }]);
    assert.deepEqual([...db.prepare('SELECT v FROM t ORDER BY id').iterate([])].map((r) => (r as { v: string }).v), ['a', 'b']);
  } finally {
    db.close();
  }
});

test('integers beyond 2^53 read as exact decimal strings, never thrown or rounded; safe ones stay numbers', () => {
  const db = open('bigint.db');
  try {
    db.prepare('CREATE TABLE m (a BIGINT, b BIGINT, c BIGINT, r REAL)').run([]);
    const big = 2n ** 62n + 7n;
    db.prepare('INSERT INTO m VALUES (?, ?, ?, ?)').run([big, -big, 42, 1.5]);
    const expected = { a: big.toString(), b: (-big).toString(), c: 42, r: 1.5 };
    assert.deepEqual({ ...(db.prepare('SELECT * FROM m').all([])[0] as object) }, expected);
    assert.deepEqual({ ...([...db.prepare('SELECT * FROM m').iterate([])][0] as object) }, expected);
    // Named columns come from node:sqlite as arrays (node-sqlite.ts): the same conversion.
    assert.deepEqual(db.prepare('SELECT a, b, c, r FROM m').all([])[0], expected);
    assert.deepEqual([...db.prepare('SELECT a, b, c, r FROM m').iterate([])][0], expected);
    const edge = db.prepare('SELECT ? AS max, ? AS over').all([BigInt(Number.MAX_SAFE_INTEGER), BigInt(Number.MAX_SAFE_INTEGER) + 1n])[0];
    assert.deepEqual({ ...(edge as object) }, { max: Number.MAX_SAFE_INTEGER, over: '9007199254740992' });
  } finally {
    db.close();
  }
});

test('rows of named columns are plain objects, columns in order, a repeated name taking the later value', () => {
  const db = open('rows.db');
  try {
    db.prepare('CREATE TABLE r (id INTEGER, v TEXT)').run([]);
    db.prepare('INSERT INTO r VALUES (1, ?), (2, ?)').run(['x', 'y']);
    const sql = 'SELECT id, v, id AS twice, v AS id FROM r ORDER BY id';
    const expected = [
      { id: 'x', v: 'x', twice: 1 },
      { id: 'y', v: 'y', twice: 2 },
    ];
    for (const rows of [db.prepare(sql).all([]), [...db.prepare(sql).iterate([])]]) {
      assert.deepEqual(rows, expected);
      for (const row of rows) assert.equal(Object.getPrototypeOf(row), Object.prototype);
      assert.deepEqual(Object.keys(rows[0] as object), ['id', 'v', 'twice']);
    }
  } finally {
    db.close();
  }
});

test('cached statements see schema changes (SQLite recompiles them)', () => {
  const db = open('schema.db');
  try {
    db.prepare('CREATE TABLE s (a INTEGER)').run([]);
    db.prepare('INSERT INTO s VALUES (1)').run([]);
    assert.deepEqual(Object.keys(db.prepare('SELECT * FROM s').all([])[0] as object), ['a']);
    db.prepare('ALTER TABLE s ADD COLUMN b TEXT').run([]);
    assert.deepEqual(Object.keys(db.prepare('SELECT * FROM s').all([])[0] as object), ['a', 'b']);
    // Same number of columns, another name: rows of a `*` are named as SQLite names them now.
    db.prepare('ALTER TABLE s RENAME COLUMN b TO c').run([]);
    assert.deepEqual(Object.keys(db.prepare('SELECT * FROM s').all([])[0] as object), ['a', 'c']);
    assert.deepEqual(Object.keys([...db.prepare('SELECT * FROM s').iterate([])][0] as object), ['a', 'c']);
  } finally {
    db.close();
  }
});

test('the statement cache is bounded and keeps what is in use: one-off statements evict each other, not a statement used between them', () => {
  const db = open('cache.db');
  try {
    const hot = db.prepare('SELECT 1 AS hot');
    const firstCold = db.prepare('SELECT 0 AS cold');
    for (let i = 1; i <= 1000; i++) {
      assert.deepEqual({ ...(db.prepare(`SELECT ${i} AS cold`).all([])[0] as object) }, { cold: i });
      if (i % 100 === 0) assert.equal(db.prepare('SELECT 1 AS hot'), hot);
    }
    assert.equal(db.prepare('SELECT 1 AS hot'), hot, 'a statement asked for between sweeps stays prepared');
    assert.notEqual(db.prepare('SELECT 0 AS cold'), firstCold, 'a one-off statement was evicted (the cache holds 256)');
    assert.deepEqual({ ...(db.prepare('SELECT 1 AS hot').all([])[0] as object) }, { hot: 1 });
  } finally {
    db.close();
  }
});

test('foreign keys are enforced', () => {
  const db = open('fk.db');
  try {
    db.prepare('CREATE TABLE p (id TEXT PRIMARY KEY)').run([]);
    db.prepare('CREATE TABLE c (p TEXT REFERENCES p(id))').run([]);
    assert.throws(() => db.prepare('INSERT INTO c VALUES (?)').run(['missing']), { errcode: 787 });
  } finally {
    db.close();
  }
});
