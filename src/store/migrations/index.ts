import type { Migration, MigrationProvider } from 'kysely';
import { tenancy } from './0001_tenancy.ts';
import { billing } from './0002_billing.ts';
import { deployments } from './0003_deployments.ts';

/** Every migration, in order. Names sort lexically; never rename or reorder a shipped one. */
const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_tenancy': tenancy,
  '0002_billing': billing,
  '0003_deployments': deployments,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
