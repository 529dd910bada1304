import { sql, type Kysely, type Selectable } from 'kysely';
import { constraintViolation } from '../driver-errors.ts';
import { StoreConflictError, StoreNotFoundError } from '../errors.ts';
import type { Database, DeploymentsTable } from '../schema.ts';

/** An account's private deployment as the control plane shows it: never the upstream key, sealed or not. */
export interface DeploymentRecord {
  /** `mif-…` (store/ids.ts). */
  readonly id: string;
  readonly accountId: string;
  readonly model: string;
  readonly baseUrl: string;
  readonly upstreamModel: string;
  readonly chip: string;
  /** Whether an upstream api key is stored (sealed); the key itself is only for the router. */
  readonly hasApiKey: boolean;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Set when deleted; such rows are kept so other processes learn of the deletion. */
  readonly deletedAt: number | null;
}

/** What the router needs to build the deployment: the record and the sealed key (secret-box.ts). */
export type SealedDeployment = DeploymentRecord & { readonly apiKeySealed: string | null };

/** A new row. Its id is chosen by the caller (newDeploymentId), because the sealed key is bound to it. */
export type NewDeployment = Pick<DeploymentRecord, 'id' | 'accountId' | 'model' | 'baseUrl' | 'upstreamModel' | 'chip'> & {
  readonly apiKeySealed: string | null;
};

type Row = Selectable<DeploymentsTable>;
type PublicRow = Omit<Row, 'api_key_enc'> & { has_api_key: number | string | boolean };

/** Every column but the sealed key: what get and list read, so not even ciphertext reaches the control plane. */
const PUBLIC_COLUMNS = ['id', 'account_id', 'model', 'base_url', 'upstream_model', 'chip', 'created_at', 'updated_at', 'deleted_at'] as const;

export class DeploymentRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** The foreign key decides whether the account exists (no check-then-insert race). */
  async create(input: NewDeployment): Promise<DeploymentRecord> {
    const now = this.#now();
    const row: Row = {
      id: input.id,
      account_id: input.accountId,
      model: input.model,
      base_url: input.baseUrl,
      upstream_model: input.upstreamModel,
      chip: input.chip,
      api_key_enc: input.apiKeySealed,
      created_at: now,
      updated_at: now,
      deleted_at: null,
    };
    try {
      await this.#db.insertInto('deployments').values(row).execute();
    } catch (err) {
      const violation = constraintViolation(err);
      if (violation === 'foreign_key') throw new StoreNotFoundError('account', input.accountId, { cause: err });
      if (violation === 'unique') throw new StoreConflictError('deployment id collision; retry', { cause: err });
      throw err;
    }
    return toRecord({ ...row, has_api_key: row.api_key_enc !== null });
  }

  /** A live deployment; with `accountId`, only that account's (another's answers undefined, like an unknown id). */
  async get(id: string, options: { accountId?: string } = {}): Promise<DeploymentRecord | undefined> {
    let query = this.#public().where('id', '=', id).where('deleted_at', 'is', null);
    if (options.accountId !== undefined) query = query.where('account_id', '=', options.accountId);
    const row = await query.executeTakeFirst();
    return row === undefined ? undefined : toRecord(row);
  }

  /** Live deployments, oldest first; all, or one account's. */
  async list(options: { accountId?: string } = {}): Promise<DeploymentRecord[]> {
    let query = this.#public().where('deleted_at', 'is', null).orderBy('created_at').orderBy('id');
    if (options.accountId !== undefined) query = query.where('account_id', '=', options.accountId);
    return (await query.execute()).map(toRecord);
  }

  async countLive(accountId: string): Promise<number> {
    const row = await this.#db
      .selectFrom('deployments')
      .select(sql<number | string>`count(*)`.as('n'))
      .where('account_id', '=', accountId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /**
   * Marks a live deployment deleted and returns it (with `deletedAt`); undefined when there is
   * no such live deployment (unknown, deleted before, or — with `accountId` — another account's).
   */
  async softDelete(id: string, options: { accountId?: string } = {}): Promise<DeploymentRecord | undefined> {
    const now = this.#now();
    let update = this.#db.updateTable('deployments').set({ deleted_at: now, updated_at: now }).where('id', '=', id).where('deleted_at', 'is', null);
    if (options.accountId !== undefined) update = update.where('account_id', '=', options.accountId);
    const row = await update.returningAll().executeTakeFirst();
    return row === undefined ? undefined : toSealed(row);
  }

  /** Every live deployment with its sealed key: the router's load at start. */
  async listLiveSealed(): Promise<SealedDeployment[]> {
    return (await this.#db.selectFrom('deployments').selectAll().where('deleted_at', 'is', null).orderBy('created_at').execute()).map(toSealed);
  }

  /** Deployments created or deleted after `since` (epoch ms), deleted ones included, so other processes catch up. */
  async changedSince(since: number): Promise<SealedDeployment[]> {
    return (await this.#db.selectFrom('deployments').selectAll().where('updated_at', '>', since).orderBy('updated_at').execute()).map(toSealed);
  }

  #public() {
    return this.#db
      .selectFrom('deployments')
      .select(PUBLIC_COLUMNS)
      .select((eb) => eb.case().when('api_key_enc', 'is not', null).then(1).else(0).end().as('has_api_key'));
  }
}

function toRecord(row: PublicRow): DeploymentRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    model: row.model,
    baseUrl: row.base_url,
    upstreamModel: row.upstream_model,
    chip: row.chip,
    // SQLite answers 0/1, PostgreSQL an int4 (a number); both kinds of truthy are handled.
    hasApiKey: row.has_api_key === true || Number(row.has_api_key) === 1,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    deletedAt: row.deleted_at === null ? null : Number(row.deleted_at),
  };
}

function toSealed(row: Row): SealedDeployment {
  return { ...toRecord({ ...row, has_api_key: row.api_key_enc !== null }), apiKeySealed: row.api_key_enc };
}
