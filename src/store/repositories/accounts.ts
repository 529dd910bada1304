import type { Kysely, Selectable } from 'kysely';
import type { AccountsTable, Database } from '../schema.ts';
import { newId } from '../ids.ts';

export type AccountStatus = 'active' | 'suspended';

export interface Account {
  readonly id: string;
  readonly name: string;
  readonly plan: string;
  readonly status: AccountStatus;
  /** Integer nano-yuan. */
  readonly balance: bigint;
  /** Nano-yuan reserved by requests in flight (open holds). */
  readonly held: bigint;
  readonly createdAt: number;
  readonly updatedAt: number;
}

type AccountRow = Omit<Selectable<AccountsTable>, 'held'> & { held?: string | number };

export function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    name: row.name,
    plan: row.plan,
    status: row.status as AccountStatus,
    balance: BigInt(row.balance),
    held: BigInt(row.held ?? 0),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** Balance is read through CAST AS TEXT: SQLite would hand a JS number above 2^53 back rounded. */
const COLUMNS = ['id', 'name', 'plan', 'status', 'created_at', 'updated_at'] as const;

export class AccountRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  async create(input: { name: string; plan: string }): Promise<Account> {
    const now = this.#now();
    const row = { id: newId('acct'), name: input.name, plan: input.plan, status: 'active', balance: 0, created_at: now, updated_at: now };
    await this.#db.insertInto('accounts').values(row).execute();
    return toAccount(row);
  }

  async get(id: string): Promise<Account | undefined> {
    const row = await this.#select().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toAccount(row);
  }

  async list(options: { limit?: number; offset?: number } = {}): Promise<Account[]> {
    const rows = await this.#select()
      .orderBy('created_at')
      .orderBy('id')
      .limit(options.limit ?? 1000)
      .offset(options.offset ?? 0)
      .execute();
    return rows.map(toAccount);
  }

  async update(id: string, patch: { name?: string; plan?: string; status?: AccountStatus }): Promise<Account | undefined> {
    const changes = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    await this.#db.updateTable('accounts').set({ ...changes, updated_at: this.#now() }).where('id', '=', id).execute();
    return this.get(id);
  }

  /** Accounts changed after `since` (epoch ms), for caches in other processes. */
  async changedSince(since: number): Promise<Account[]> {
    return (await this.#select().where('updated_at', '>', since).execute()).map(toAccount);
  }

  #select() {
    return this.#db
      .selectFrom('accounts')
      .select(COLUMNS)
      .select((eb) => [eb.cast<string>('balance', 'text').as('balance'), eb.cast<string>('held', 'text').as('held')]);
  }
}
