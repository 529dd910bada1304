import type { Migration, MigrationProvider } from 'kysely';
import type { Dialect } from '../db.ts';
import { tenancy } from './0001_tenancy.ts';
import { billing } from './0002_billing.ts';
import { deployments } from './0003_deployments.ts';
import { holdsByRequest } from './0004_holds_by_request.ts';

/**
 * Every migration, in order, for one dialect: the same names on both (a migration whose subject
 * exists on one dialect only is recorded on both and does nothing on the other). Names sort
 * lexically; never rename or reorder a shipped one.
 */
export function migrationsFor(dialect: Dialect): MigrationProvider {
  const migrations: Readonly<Record<string, Migration>> = {
    '0001_tenancy': tenancy,
    '0002_billing': billing,
    '0003_deployments': deployments,
    '0004_holds_by_request': holdsByRequest(dialect),
  };
  return { getMigrations: async () => migrations };
}
