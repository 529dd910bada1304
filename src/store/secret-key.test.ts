import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../config/errors.ts';
import { SecretBox } from './secret-box.ts';
import { loadSecretKey, parseSecretKey, SECRET_KEY_FILE } from './secret-key.ts';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'maas-secret-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('MAAS_SECRET_KEY is read as hex or base64 (standard and URL-safe) and wins over the file', () => {
  const key = randomBytes(32);
  const expected = new SecretBox(key).fingerprint;
  for (const text of [key.toString('hex'), key.toString('base64'), key.toString('base64url'), ` ${key.toString('base64')}\n`]) {
    withDir((dir) => {
      const loaded = loadSecretKey({ value: text, dataDir: dir, dialect: 'sqlite' });
      assert.equal(loaded?.source, 'env');
      assert.equal(loaded?.box.fingerprint, expected);
      assert.throws(() => statSync(join(dir, SECRET_KEY_FILE)), 'no file is written when the key is given');
    });
  }
});

test('a malformed MAAS_SECRET_KEY fails with a ConfigError naming the variable', () => {
  for (const text of ['short', randomBytes(16).toString('hex'), randomBytes(31).toString('base64'), 'z'.repeat(64)]) {
    assert.throws(() => parseSecretKey(text), (err: unknown) => err instanceof ConfigError && err.field === 'MAAS_SECRET_KEY');
  }
});

test('SQLite without MAAS_SECRET_KEY: a key file is generated once with mode 0600 and reused', () => {
  withDir((dir) => {
    const first = loadSecretKey({ value: undefined, dataDir: dir, dialect: 'sqlite' });
    assert.equal(first?.source, 'generated');
    const path = join(dir, SECRET_KEY_FILE);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const second = loadSecretKey({ value: '', dataDir: dir, dialect: 'sqlite' });
    assert.equal(second?.source, 'file');
    assert.equal(second?.box.fingerprint, first?.box.fingerprint);
    assert.equal(second?.box.open(first!.box.seal('sk-x', 'mif-a'), 'mif-a'), 'sk-x');
    assert.ok(parseSecretKey(readFileSync(path, 'utf8')).length === 32);
  });
});

test('a damaged key file fails the start naming the file, never silently replaced', () => {
  withDir((dir) => {
    writeFileSync(join(dir, SECRET_KEY_FILE), 'not a key\n');
    assert.throws(() => loadSecretKey({ value: undefined, dataDir: dir, dialect: 'sqlite' }), (err: unknown) => err instanceof ConfigError && err.field.endsWith(SECRET_KEY_FILE));
    assert.equal(readFileSync(join(dir, SECRET_KEY_FILE), 'utf8'), 'not a key\n');
  });
});

test('PostgreSQL without MAAS_SECRET_KEY has no key (a per-process key could not be shared) and writes no file', () => {
  withDir((dir) => {
    assert.equal(loadSecretKey({ value: undefined, dataDir: dir, dialect: 'postgres' }), undefined);
    assert.throws(() => statSync(join(dir, SECRET_KEY_FILE)));
  });
});
