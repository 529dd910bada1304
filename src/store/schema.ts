import type { ColumnType, Generated } from 'kysely';

/**
 * Tables as Kysely sees them, one declaration for both dialects. BIGINT columns read as
 * `string | number`: PostgreSQL's driver returns int8 as a decimal string (db.ts pins that), the
 * SQLite adapter a number when it is a safe integer and a decimal string above 2^53. Repositories
 * convert: `BigInt(…)` for money (integer nano-yuan, never a JS number), `Number(…)` for
 * timestamps (epoch ms, far below 2^53). Writes accept bigint, number or decimal string.
 * JSON documents (key models, limits) are TEXT: portable, and only the store parses them.
 */
type BigIntColumn = ColumnType<string | number, string | number | bigint, string | number | bigint>;

export interface AccountsTable {
  id: string;
  name: string;
  plan: string;
  status: string;
  balance: BigIntColumn;
  held: ColumnType<string | number, string | number | bigint | undefined, string | number | bigint>;
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

export interface HoldsTable {
  request_id: string;
  account_id: string;
  key_id: string;
  model: string;
  chip: string;
  deployment_id: string;
  provider: string;
  amount: BigIntColumn;
  price: string | null;
  started_at: BigIntColumn;
}

export interface LedgerEntriesTable {
  id: string;
  account_id: string;
  kind: string;
  amount: BigIntColumn;
  balance_after: BigIntColumn;
  reason: string | null;
  request_id: string | null;
  created_at: BigIntColumn;
}

export interface UsageRecordsTable {
  request_id: string;
  account_id: string;
  key_id: string;
  model: string;
  chip: string;
  deployment_id: string;
  provider: string;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cost: BigIntColumn;
  price: string | null;
  status: string;
  http_status: number;
  latency_ms: number;
  ttft_ms: number | null;
  started_at: BigIntColumn;
  ended_at: BigIntColumn;
}

/** An account's private deployment; `api_key_enc` is the sealed upstream key (secret-box.ts). */
export interface DeploymentsTable {
  id: string;
  account_id: string;
  model: string;
  base_url: string;
  upstream_model: string;
  chip: string;
  api_key_enc: string | null;
  created_at: BigIntColumn;
  updated_at: BigIntColumn;
  deleted_at: BigIntColumn | null;
}

export interface Database {
  accounts: AccountsTable;
  api_keys: ApiKeysTable;
  settings: SettingsTable;
  holds: HoldsTable;
  ledger_entries: LedgerEntriesTable;
  usage_records: UsageRecordsTable;
  deployments: DeploymentsTable;
}

export type { Generated };
