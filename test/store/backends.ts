import { after, before, describe } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { openStore, SQLITE_FILE, type Dialect, type Store, type StoreOptions } from '../../src/store/db.ts';

/**
 * Runs one suite against every store backend: SQLite always, PostgreSQL when
 * MAAS_TEST_POSTGRES_URL is set. Set and unreachable FAILS the suite (its before-hook throws);
 * it never skips, so a CI job that meant to test PostgreSQL cannot pass without it.
 */
const POSTGRES_URL = process.env.MAAS_TEST_POSTGRES_URL || undefined;

export const BACKENDS: Readonly<Record<Dialect, boolean>> = {
  sqlite: true,
  postgres: POSTGRES_URL !== undefined,
};

export interface Backend {
  /** Known when the suite is registered (e.g. for `skip`); everything else after its before-hook. */
  readonly dialect: Dialect;
  /** Options that open this suite's own database, created fresh for the suite. */
  readonly options: StoreOptions;
  open(): Promise<Store>;
  /** Options for another, empty database (dropped with the suite's). */
  fresh(): Promise<StoreOptions>;
  /** Runs raw SQL on a database outside the store (to prepare states the store would never write). */
  exec(options: StoreOptions, sql: string): Promise<void>;
}

/** The parts of a backend that differ per dialect; the exhaustive Record makes a new dialect a compile error here. */
interface Driver {
  create(): Promise<StoreOptions>;
  exec(options: StoreOptions, sql: string): Promise<void>;
  drop(options: StoreOptions): Promise<void>;
}

const DRIVERS: Readonly<Record<Dialect, () => Driver>> = {
  sqlite: sqliteDriver,
  postgres: postgresDriver,
};

export function forEachBackend(name: string, fn: (backend: () => Backend) => void): void {
  for (const dialect of Object.keys(BACKENDS) as Dialect[]) {
    if (!BACKENDS[dialect]) continue;
    describe(`${name} [${dialect}]`, () => {
      const driver = DRIVERS[dialect]();
      const created: StoreOptions[] = [];
      let main: StoreOptions | undefined;
      const fresh = async () => {
        const options = await driver.create();
        created.push(options);
        return options;
      };
      const backend: Backend = {
        dialect,
        get options(): StoreOptions {
          if (main === undefined) throw new Error(`the ${dialect} backend is used before its before-hook ran`);
          return main;
        },
        open: () => openStore(backend.options),
        fresh,
        exec: (options, sql) => driver.exec(options, sql),
      };
      before(async () => {
        main = await fresh();
      });
      try {
        fn(() => backend);
      } finally {
        // Registered after the suite's own hooks, so it runs after they closed their stores —
        // and even when registering the suite threw, so a database is never left behind.
        after(async () => {
          for (const options of created) await driver.drop(options);
        });
      }
    });
  }
}

function sqliteDriver(): Driver {
  return {
    async create() {
      return { dataDir: mkdtempSync(join(tmpdir(), 'maas-store-')) };
    },
    async exec(options, sql) {
      const db = new DatabaseSync(join(options.dataDir, SQLITE_FILE));
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
    async drop(options) {
      rmSync(options.dataDir, { recursive: true, force: true });
    },
  };
}

/** One database per suite (`maas_test_<pid>_<random>`), created and dropped through the URL's own database. */
function postgresDriver(): Driver {
  const adminUrl = POSTGRES_URL!;
  // A client per admin statement: nothing stays connected to keep the test process alive.
  const admin = async (sql: string, url = adminUrl): Promise<void> => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
    } catch (err) {
      throw new Error(`MAAS_TEST_POSTGRES_URL is set but PostgreSQL is unreachable (${redact(url)}): ${(err as Error).message}`, { cause: err });
    }
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  return {
    async create() {
      const name = `maas_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
      await admin(`CREATE DATABASE ${name}`);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return { databaseUrl: url.toString(), dataDir: tmpdir() };
    },
    exec: (options, sql) => admin(sql, options.databaseUrl),
    async drop(options) {
      const name = new URL(options.databaseUrl!).pathname.slice(1);
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password !== '') u.password = '***';
  return u.toString();
}
