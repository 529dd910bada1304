import type { Migration, MigrationProvider } from 'kysely';
import { tenancy } from './0001_tenancy.ts';

/** Every migration, in order. Names sort lexically; never rename or reorder a shipped one. */
const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_tenancy': tenancy,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
