import { after, before, describe } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Dialect, type Store, type StoreOptions } from '../../src/store/db.ts';

/**
 * Runs one suite against every store backend: SQLite always, PostgreSQL when
 * MAAS_TEST_POSTGRES_URL is set. Set and unreachable fails the suite; it never skips.
 */
export const BACKENDS: Readonly<Record<Dialect, boolean>> = {
  sqlite: true,
  postgres: process.env.MAAS_TEST_POSTGRES_URL !== undefined && process.env.MAAS_TEST_POSTGRES_URL !== '',
};

export interface Backend {
  readonly dialect: Dialect;
  /** Options that open this backend's (fresh, per suite) database. */
  readonly options: StoreOptions;
  open(): Promise<Store>;
}

export function forEachBackend(name: string, fn: (backend: () => Backend) => void): void {
  for (const dialect of Object.keys(BACKENDS) as Dialect[]) {
    if (!BACKENDS[dialect]) continue;
    describe(`${name} [${dialect}]`, () => {
      let backend: Backend | undefined;
      let cleanup: () => Promise<void> = async () => {};
      before(async () => {
        const made = dialect === 'sqlite' ? sqliteBackend() : await postgresBackend();
        backend = made.backend;
        cleanup = made.cleanup;
      });
      fn(() => backend!);
      // Registered last so it runs after the suite's own after-hooks have closed their stores.
      after(() => cleanup());
    });
  }
}

function sqliteBackend(): { backend: Backend; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'maas-store-'));
  const options = { dataDir: dir };
  return {
    backend: { dialect: 'sqlite', options, open: () => openStore(options) },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function postgresBackend(): Promise<{ backend: Backend; cleanup: () => Promise<void> }> {
  const adminUrl = process.env.MAAS_TEST_POSTGRES_URL!;
  const name = `maas_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`MAAS_TEST_POSTGRES_URL is set but PostgreSQL is unreachable (${adminUrl}): ${(err as Error).message}`, { cause: err });
  }
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const options = { databaseUrl: url.toString(), dataDir: tmpdir() };
  return {
    backend: { dialect: 'postgres', options, open: () => openStore(options) },
    cleanup: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
