import type { Kysely, Selectable } from 'kysely';
import type { AccountsTable, Database } from '../schema.ts';
import { newId } from '../ids.ts';

export type AccountStatus = 'active' | 'suspended';

export interface Account {
  readonly id: string;
  readonly name: string;
  readonly plan: string;
  readonly status: AccountStatus;
  /** Integer nano-yuan (1e-9 yuan); bigint because it may exceed 2^53. */
  readonly balance: bigint;
  /** Nano-yuan reserved by requests in flight (open holds). */
  readonly held: bigint;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface AccountPatch {
  readonly name?: string;
  readonly plan?: string;
  readonly status?: AccountStatus;
}

/** The driver's row → the domain shape: BIGINT arrives as string or number (schema.ts), money becomes bigint. */
export function toAccount(row: Selectable<AccountsTable>): Account {
  return {
    id: row.id,
    name: row.name,
    plan: row.plan,
    status: row.status as AccountStatus,
    balance: BigInt(row.balance),
    held: BigInt(row.held),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

const DEFAULT_LIST_LIMIT = 1000;

export class AccountRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** A new account starts active with a zero balance; credit arrives through billing. */
  async create(input: { name: string; plan: string }): Promise<Account> {
    const now = this.#now();
    const row = { id: newId('acct'), name: input.name, plan: input.plan, status: 'active', balance: 0, held: 0, created_at: now, updated_at: now };
    await this.#db.insertInto('accounts').values(row).execute();
    return toAccount(row);
  }

  async get(id: string): Promise<Account | undefined> {
    const row = await this.#db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toAccount(row);
  }

  /** Oldest first; `id` breaks ties between accounts created in the same millisecond, so pages are stable. */
  async list(options: { limit?: number; offset?: number } = {}): Promise<Account[]> {
    const rows = await this.#db
      .selectFrom('accounts')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .limit(options.limit ?? DEFAULT_LIST_LIMIT)
      .offset(options.offset ?? 0)
      .execute();
    return rows.map(toAccount);
  }

  /** Changes only the given fields; undefined when there is no such account. One statement (RETURNING), so it reads its own write. */
  async update(id: string, patch: AccountPatch): Promise<Account | undefined> {
    const changes: { name?: string; plan?: string; status?: AccountStatus } = {};
    if (patch.name !== undefined) changes.name = patch.name;
    if (patch.plan !== undefined) changes.plan = patch.plan;
    if (patch.status !== undefined) changes.status = patch.status;
    const row = await this.#db
      .updateTable('accounts')
      .set({ ...changes, updated_at: this.#now() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? undefined : toAccount(row);
  }

  /** Accounts changed after `since` (epoch ms), so other processes' key caches can catch up. */
  async changedSince(since: number): Promise<Account[]> {
    return (await this.#db.selectFrom('accounts').selectAll().where('updated_at', '>', since).execute()).map(toAccount);
  }
}
