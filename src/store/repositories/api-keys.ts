import { hash } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { constraintViolation } from '../driver-errors.ts';
import { StoreConflictError, StoreNotFoundError } from '../errors.ts';
import { generateApiKey, newId } from '../ids.ts';
import type { ApiKeysTable, Database } from '../schema.ts';
import type { AccountStatus } from './accounts.ts';

export { generateApiKey };

/** Per-key overrides of the plan's limits; an absent field means "the plan's". */
export interface KeyLimits {
  readonly rpm?: number;
  readonly tpm?: number;
  readonly concurrency?: number;
}

/** A key as the control plane shows it: no secret, no hash. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly accountId: string;
  readonly name: string | null;
  /** The display prefix (`sk-` and 9 characters); the key itself is never stored. */
  readonly prefix: string;
  /** Model ids this key may call; null means all that the plan allows. */
  readonly models: string[] | null;
  readonly limits: KeyLimits | null;
  /** Epoch ms. */
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A key as admission needs it: with its hash (the cache's lookup key) and its account's status and plan. */
export type KeyWithAccount = ApiKeyRecord & {
  readonly keyHash: string;
  readonly account: { readonly id: string; readonly status: AccountStatus; readonly plan: string };
};

export interface NewKeyInput {
  readonly accountId: string;
  readonly name?: string | null;
  readonly models?: readonly string[] | null;
  readonly expiresAt?: number | null;
  readonly limits?: KeyLimits | null;
}

/** `sk-` and 9 characters: enough for a person to tell keys apart, too little to guess the rest (the 39 other characters carry ~232 bits). */
const PREFIX_LENGTH = 12;

/** What the store keeps of a key. Unsalted SHA-256 is right here: the input is 285 random bits, so there is nothing to brute-force. */
export function hashApiKey(secret: string): string {
  return hash('sha256', secret);
}

/** Every column but the hash: what `get`, `list` and `revoke` read, so the hash never reaches the control plane. */
const PUBLIC_COLUMNS = [
  'id',
  'account_id',
  'name',
  'prefix',
  'models',
  'limits',
  'expires_at',
  'revoked_at',
  'created_at',
  'updated_at',
] as const;

type PublicRow = Pick<Selectable<ApiKeysTable>, (typeof PUBLIC_COLUMNS)[number]>;
type JoinedRow = Selectable<ApiKeysTable> & { account_status: string; account_plan: string };

export class ApiKeyRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /**
   * Creates a key for an existing account. The secret is returned here and nowhere else; only
   * its hash and display prefix are written. The foreign key decides whether the account exists
   * (no check-then-insert race) and its violation becomes a StoreNotFoundError.
   */
  async create(input: NewKeyInput): Promise<{ record: ApiKeyRecord; secret: string }> {
    const secret = generateApiKey();
    const now = this.#now();
    const row = {
      id: newId('key'),
      account_id: input.accountId,
      name: input.name ?? null,
      key_hash: hashApiKey(secret),
      prefix: secret.slice(0, PREFIX_LENGTH),
      models: input.models == null ? null : JSON.stringify(input.models),
      limits: input.limits == null ? null : JSON.stringify(input.limits),
      expires_at: input.expiresAt ?? null,
      revoked_at: null,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.#db.insertInto('api_keys').values(row).execute();
    } catch (err) {
      const violation = constraintViolation(err);
      if (violation === 'foreign_key') throw new StoreNotFoundError('account', input.accountId, { cause: err });
      if (violation === 'unique') throw new StoreConflictError('key id or hash collision; retry', { cause: err });
      throw err;
    }
    return { record: toRecord(row), secret };
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.#public().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toRecord(row);
  }

  /** Oldest first; all keys, or one account's. */
  async list(options: { accountId?: string } = {}): Promise<ApiKeyRecord[]> {
    let query = this.#public().orderBy('created_at').orderBy('id');
    if (options.accountId !== undefined) query = query.where('account_id', '=', options.accountId);
    return (await query.execute()).map(toRecord);
  }

  /**
   * Marks a key revoked. With `accountId`, only that account's key: another tenant's key id
   * answers undefined, exactly like an unknown id, and stays active. Idempotent: revoking
   * again returns the record with the first revocation time.
   */
  async revoke(id: string, options: { accountId?: string } = {}): Promise<ApiKeyRecord | undefined> {
    const now = this.#now();
    let update = this.#db
      .updateTable('api_keys')
      .set({ revoked_at: now, updated_at: now })
      .where('id', '=', id)
      .where('revoked_at', 'is', null);
    if (options.accountId !== undefined) update = update.where('account_id', '=', options.accountId);
    const revoked = await update.returning(PUBLIC_COLUMNS).executeTakeFirst();
    if (revoked !== undefined) return toRecord(revoked);
    // Nothing changed: unknown, another account's, or revoked before. Only the last is an answer.
    let select = this.#public().where('id', '=', id);
    if (options.accountId !== undefined) select = select.where('account_id', '=', options.accountId);
    const existing = await select.executeTakeFirst();
    return existing === undefined ? undefined : toRecord(existing);
  }

  /** The admission path's lookup for a key this process has not cached: one indexed query (UNIQUE key_hash). */
  async findByHash(hash: string): Promise<KeyWithAccount | undefined> {
    const row = await this.#joined().where('api_keys.key_hash', '=', hash).executeTakeFirst();
    return row === undefined ? undefined : withAccount(row);
  }

  async findById(id: string): Promise<KeyWithAccount | undefined> {
    const row = await this.#joined().where('api_keys.id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : withAccount(row);
  }

  /** Keys that are not revoked, with their accounts: the key cache's warm-up at start. Expired keys are included; admission checks expiry per request. */
  async listActive(): Promise<KeyWithAccount[]> {
    return (await this.#joined().where('api_keys.revoked_at', 'is', null).execute()).map(withAccount);
  }

  /** Keys changed after `since` (epoch ms), so other processes' caches can catch up. */
  async changedSince(since: number): Promise<KeyWithAccount[]> {
    return (await this.#joined().where('api_keys.updated_at', '>', since).execute()).map(withAccount);
  }

  #public() {
    return this.#db.selectFrom('api_keys').select(PUBLIC_COLUMNS);
  }

  #joined() {
    return this.#db
      .selectFrom('api_keys')
      .innerJoin('accounts', 'accounts.id', 'api_keys.account_id')
      .selectAll('api_keys')
      .select(['accounts.status as account_status', 'accounts.plan as account_plan']);
  }
}

function toRecord(row: PublicRow): ApiKeyRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    prefix: row.prefix,
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
    limits: row.limits === null ? null : (JSON.parse(row.limits) as KeyLimits),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function withAccount(row: JoinedRow): KeyWithAccount {
  return {
    ...toRecord(row),
    keyHash: row.key_hash,
    account: { id: row.account_id, status: row.account_status as AccountStatus, plan: row.account_plan },
  };
}
