import { createHash } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { StoreConflictError } from '../errors.ts';
import { generateApiKey, newId } from '../ids.ts';
import type { ApiKeysTable, Database } from '../schema.ts';

export { generateApiKey };

export interface KeyLimits {
  readonly rpm?: number;
  readonly tpm?: number;
  readonly concurrency?: number;
}

export interface ApiKeyRecord {
  readonly id: string;
  readonly accountId: string;
  readonly name: string | null;
  /** The display prefix (`sk-` and 9 characters); the key itself is never stored. */
  readonly prefix: string;
  readonly keyHash: string;
  readonly models: string[] | null;
  readonly limits: KeyLimits | null;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A key as admission needs it: with its account's status and plan. */
export interface KeyWithAccount extends ApiKeyRecord {
  readonly account: { readonly id: string; readonly status: string; readonly plan: string };
}

export interface NewKeyInput {
  readonly accountId: string;
  readonly name?: string | null;
  readonly models?: string[] | null;
  readonly expiresAt?: number | null;
  readonly limits?: KeyLimits | null;
}

const PREFIX_LENGTH = 12;

export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function toRecord(row: Selectable<ApiKeysTable>): ApiKeyRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    prefix: row.prefix,
    keyHash: row.key_hash,
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
    limits: row.limits === null ? null : (JSON.parse(row.limits) as KeyLimits),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export class ApiKeyRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** Creates a key for an existing account; the secret is returned here and nowhere else. */
  async create(input: NewKeyInput): Promise<{ record: ApiKeyRecord; secret: string }> {
    const account = await this.#db.selectFrom('accounts').select('id').where('id', '=', input.accountId).executeTakeFirst();
    if (account === undefined) throw new StoreConflictError(`unknown account '${input.accountId}'`);
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
    await this.#db.insertInto('api_keys').values(row).execute();
    return { record: toRecord(row), secret };
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.#db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toRecord(row);
  }

  async list(options: { accountId?: string } = {}): Promise<ApiKeyRecord[]> {
    let query = this.#db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id');
    if (options.accountId !== undefined) query = query.where('account_id', '=', options.accountId);
    return (await query.execute()).map(toRecord);
  }

  /** Marks a key revoked (once; later calls keep the first time). Scoped to one account if given. */
  async revoke(id: string, options: { accountId?: string } = {}): Promise<ApiKeyRecord | undefined> {
    const now = this.#now();
    let update = this.#db.updateTable('api_keys').set({ revoked_at: now, updated_at: now }).where('id', '=', id).where('revoked_at', 'is', null);
    if (options.accountId !== undefined) update = update.where('account_id', '=', options.accountId);
    await update.execute();
    const record = await this.get(id);
    if (record === undefined || (options.accountId !== undefined && record.accountId !== options.accountId)) return undefined;
    return record;
  }

  async findByHash(hash: string): Promise<KeyWithAccount | undefined> {
    const row = await this.#joined().where('api_keys.key_hash', '=', hash).executeTakeFirst();
    return row === undefined ? undefined : withAccount(row);
  }

  async findById(id: string): Promise<KeyWithAccount | undefined> {
    const row = await this.#joined().where('api_keys.id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : withAccount(row);
  }

  /** Keys that are not revoked, with their accounts: the key cache's warm-up. */
  async listActive(): Promise<KeyWithAccount[]> {
    return (await this.#joined().where('api_keys.revoked_at', 'is', null).execute()).map(withAccount);
  }

  /** Keys changed after `since` (epoch ms), so other processes' caches can catch up. */
  async changedSince(since: number): Promise<KeyWithAccount[]> {
    return (await this.#joined().where('api_keys.updated_at', '>', since).execute()).map(withAccount);
  }

  #joined() {
    return this.#db
      .selectFrom('api_keys')
      .innerJoin('accounts', 'accounts.id', 'api_keys.account_id')
      .selectAll('api_keys')
      .select(['accounts.status as account_status', 'accounts.plan as account_plan']);
  }
}

function withAccount(row: Selectable<ApiKeysTable> & { account_status: string; account_plan: string }): KeyWithAccount {
  return { ...toRecord(row), account: { id: row.account_id, status: row.account_status, plan: row.account_plan } };
}
