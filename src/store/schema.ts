import type { ColumnType, Generated } from 'kysely';

/**
 * Tables as Kysely sees them. BIGINT columns are declared as `string | number` on read because
 * PostgreSQL's driver returns int8 as a string and SQLite as a number; repositories convert.
 * Timestamps are epoch milliseconds; money is integer nano-yuan.
 */
type BigIntColumn = ColumnType<string | number, string | number | bigint, string | number | bigint>;

export interface AccountsTable {
  id: string;
  name: string;
  plan: string;
  status: string;
  balance: BigIntColumn;
  created_at: BigIntColumn;
  updated_at: BigIntColumn;
}

export interface ApiKeysTable {
  id: string;
  account_id: string;
  name: string | null;
  key_hash: string;
  prefix: string;
  models: string | null;
  limits: string | null;
  expires_at: BigIntColumn | null;
  revoked_at: BigIntColumn | null;
  created_at: BigIntColumn;
  updated_at: BigIntColumn;
}

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: BigIntColumn;
}

export interface Database {
  accounts: AccountsTable;
  api_keys: ApiKeysTable;
  settings: SettingsTable;
}

export type { Generated };
