import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `maas ARGS` as its own process (the pinned node), with `env` over the test's environment. */
export async function maas(args: readonly string[], env: Readonly<Record<string, string>>): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The stdout of a `--json` command that must succeed, parsed. */
export async function maasJson<T>(args: readonly string[], env: Readonly<Record<string, string>>): Promise<T> {
  const result = await maas([...args, '--json'], env);
  if (result.code !== 0) throw new Error(`maas ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/**
 * A fresh PostgreSQL database on MAAS_TEST_POSTGRES_URL's server for `fn`, dropped afterwards:
 * `fn` gets the MAAS_DATABASE_URL environment that points the gateway and the CLI at it.
 */
export async function withPostgresDatabase(prefix: string, fn: (env: Record<string, string>) => Promise<void>): Promise<void> {
  const adminUrl = process.env.MAAS_TEST_POSTGRES_URL!;
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  // MAAS_DATA_DIR too: nothing may fall back to a ./data in the checkout.
  const dataDir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  try {
    await fn({ MAAS_DATABASE_URL: url.toString(), MAAS_DATA_DIR: dataDir });
  } finally {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
