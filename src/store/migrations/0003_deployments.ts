import type { Kysely, Migration } from 'kysely';

/**
 * Accounts' private deployments (`mif-…`): their own engines, registered at run time. Rows are
 * soft-deleted (`deleted_at`) so other gateway processes see a deletion through `updated_at`
 * and drop the deployment from their routers. The upstream api key is kept sealed
 * (AES-256-GCM, see store/secret-box.ts), never in clear.
 */
export const deployments: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('deployments')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('base_url', 'text', (c) => c.notNull())
      .addColumn('upstream_model', 'text', (c) => c.notNull())
      .addColumn('chip', 'text', (c) => c.notNull())
      .addColumn('api_key_enc', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('deleted_at', 'bigint')
      .execute();
    await db.schema.createIndex('deployments_account_id').on('deployments').column('account_id').execute();
    await db.schema.createIndex('deployments_updated_at').on('deployments').column('updated_at').execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('deployments').execute();
  },
};
