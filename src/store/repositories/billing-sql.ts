import { sql } from 'kysely';
import { arg, ChunkedStatement, MultiInsert, Statement, type Compiler } from '../prepared.ts';
import type { HoldsTable } from '../schema.ts';

/** Money goes to SQL as decimal text cast to BIGINT: exact in both dialects, whatever a driver does with bigint. */
const big = (i: number) => sql`CAST(${arg(i)} AS BIGINT)`;

/** `(arg(base), …)` for `width` columns, `CAST(… AS BIGINT)` at the money positions. */
function tuple(base: number, width: number, money: readonly number[]) {
  return sql`(${sql.join(Array.from({ length: width }, (_, i) => (money.includes(i) ? big(base + i) : arg(base + i))))})`;
}

export const HOLD_COLUMNS = ['request_id', 'account_id', 'key_id', 'model', 'chip', 'deployment_id', 'provider', 'amount', 'price', 'started_at'] as const;
export const LEDGER_COLUMNS = ['id', 'account_id', 'kind', 'amount', 'balance_after', 'reason', 'request_id', 'created_at'] as const;
export const USAGE_COLUMNS = [
  'request_id', 'account_id', 'key_id', 'model', 'chip', 'deployment_id', 'provider', 'prompt_tokens', 'completion_tokens',
  'cached_tokens', 'cost', 'price', 'status', 'http_status', 'latency_ms', 'ttft_ms', 'started_at', 'ended_at',
] as const;

function multiInsert(db: Compiler, table: string, columns: readonly string[], money: readonly string[]): MultiInsert {
  const positions = money.map((c) => columns.indexOf(c));
  return new MultiInsert(db, `INSERT INTO ${table} (${columns.join(', ')})`, columns.length, (base) => tuple(base, columns.length, positions));
}

export interface ReservedRow { available: string; balance: string }
export interface BalanceRow { balance: string }
/** A hold as the settlement reads it back (DELETE … RETURNING, money cast to text): what its usage record repeats. */
export type ReleasedHold = Omit<HoldsTable, 'amount' | 'started_at'> & { amount: string; started_at: string | number };

/**
 * The billing store's write statements, compiled once for one database. Each balance change is
 * one conditional UPDATE that returns what the caller needs (RETURNING instead of a read after
 * the write); rows that only get written (holds, ledger entries, usage records) are batched into
 * multi-row INSERTs by the group commit.
 */
export class BillingStatements {
  /** args: amount, account. Reserves `amount` if it fits; returns what is left available and the balance. */
  readonly reserve: Statement<ReservedRow>;
  /** args: account. Balance − held and the balance, read without writing: a hold that did not fit, or a free one. */
  readonly funds: Statement<ReservedRow>;
  /** args: request ids. Deletes their open holds and returns them; none for a request already settled. */
  readonly release: ChunkedStatement<ReleasedHold>;
  /** args: held amount, cost, account. Releases held amounts and debits costs (one account's sums); returns the balance after. */
  readonly debit: Statement<BalanceRow>;
  /** args: amount, account. Credits (or debits, if negative) unless the balance would fall below what is held. */
  readonly credit: Statement<BalanceRow>;
  /** args: request id. The balance of the account a settled request was charged to. */
  readonly settledBalance: Statement<BalanceRow>;
  readonly insertHolds: MultiInsert;
  readonly insertLedger: MultiInsert;
  readonly insertUsage: MultiInsert;

  constructor(db: Compiler) {
    this.reserve = new Statement(
      db,
      sql`UPDATE accounts SET held = held + ${big(0)} WHERE id = ${arg(1)} AND balance - held >= ${big(0)} RETURNING CAST(balance - held AS TEXT) AS available, CAST(balance AS TEXT) AS balance`,
    );
    this.funds = new Statement(db, sql`SELECT CAST(balance - held AS TEXT) AS available, CAST(balance AS TEXT) AS balance FROM accounts WHERE id = ${arg(0)}`);
    this.release = new ChunkedStatement(
      db,
      1,
      (n) =>
        sql`DELETE FROM holds WHERE request_id IN (${sql.join(Array.from({ length: n }, (_, i) => arg(i)))}) RETURNING request_id, account_id, key_id, model, chip, deployment_id, provider, CAST(amount AS TEXT) AS amount, price, started_at`,
    );
    this.debit = new Statement(
      db,
      sql`UPDATE accounts SET held = held - ${big(0)}, balance = balance - ${big(1)} WHERE id = ${arg(2)} RETURNING CAST(balance AS TEXT) AS balance`,
    );
    this.credit = new Statement(
      db,
      // The upper bound keeps the sum inside a 64-bit integer on both stores.
      sql`UPDATE accounts SET balance = balance + ${big(0)} WHERE id = ${arg(1)} AND balance + ${big(0)} >= held AND balance <= ${big(2)} - ${big(0)} RETURNING CAST(balance AS TEXT) AS balance`,
    );
    this.settledBalance = new Statement(
      db,
      sql`SELECT CAST(a.balance AS TEXT) AS balance FROM usage_records u JOIN accounts a ON a.id = u.account_id WHERE u.request_id = ${arg(0)}`,
    );
    this.insertHolds = multiInsert(db, 'holds', HOLD_COLUMNS, ['amount']);
    this.insertLedger = multiInsert(db, 'ledger_entries', LEDGER_COLUMNS, ['amount', 'balance_after']);
    this.insertUsage = multiInsert(db, 'usage_records', USAGE_COLUMNS, ['cost']);
  }
}
