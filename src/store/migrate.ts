import { Migrator, type Kysely, type MigrationProvider } from 'kysely';
import type { StoreLogger } from './logger.ts';

/**
 * Brings the schema up to date. Kysely records applied migrations in `kysely_migration`, takes
 * a lock so two processes starting together do not both migrate, and (both dialects have
 * transactional DDL) applies the pending ones in one transaction: a failure leaves the schema
 * as it was. The error names the migration that failed, because that is what an operator
 * looking at a gateway that will not start needs first.
 */
export async function runMigrations<DB>(db: Kysely<DB>, provider: MigrationProvider, logger?: StoreLogger): Promise<string[]> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const reason = error instanceof Error ? error.message : String(error);
    const message = failed === undefined ? `store migrations could not run: ${reason}` : `store migration '${failed}' failed: ${reason}`;
    throw new Error(message, { cause: error });
  }
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  if (applied.length > 0) logger?.info({ migrations: applied }, 'store migrations applied');
  return applied;
}
