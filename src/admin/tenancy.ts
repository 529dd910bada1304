import { planNamed } from '../config/plans.ts';
import type { Plan } from '../config/schema.ts';
import { GatewayError, invalidRequest } from '../errors/gateway-error.ts';
import type { KeyDirectory } from '../gateway/admission/key-directory.ts';
import type { Account, AccountRepository } from '../store/repositories/accounts.ts';
import type { ApiKeyRecord, ApiKeyRepository } from '../store/repositories/api-keys.ts';

export interface KeyLimits {
  readonly rpm?: number;
  readonly tpm?: number;
  readonly concurrency?: number;
}

export interface NewKey {
  readonly accountId: string;
  readonly name?: string | null;
  readonly models?: readonly string[] | null;
  readonly expiresAt?: number | null;
  readonly limits?: KeyLimits | null;
}

export interface TenancyDeps {
  readonly accounts: AccountRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly plans: Readonly<Record<string, Plan>>;
  readonly models: ReadonlySet<string>;
  /** The running gateway's key table; absent when the CLI edits the store directly. */
  readonly directory?: KeyDirectory;
  readonly now?: () => number;
}

/**
 * The tenancy operations behind the admin API, the owners' key API and the CLI: one place that
 * checks plans, models and dates, writes the store and tells the key directory at once.
 */
export class Tenancy {
  readonly #d: TenancyDeps;

  constructor(deps: TenancyDeps) {
    this.#d = deps;
  }

  get plans(): Readonly<Record<string, Plan>> {
    return this.#d.plans;
  }

  async createAccount(input: { name: string; plan: string }): Promise<Account> {
    this.#requirePlan(input.plan);
    return this.#d.accounts.create(input);
  }

  listAccounts(options: { limit?: number; offset?: number } = {}): Promise<Account[]> {
    return this.#d.accounts.list(options);
  }

  async getAccount(id: string): Promise<Account> {
    const account = await this.#d.accounts.get(id);
    if (account === undefined) throw notFound('account', id);
    return account;
  }

  async updateAccount(id: string, patch: { name?: string; plan?: string; status?: 'active' | 'suspended' }): Promise<Account> {
    if (patch.plan !== undefined) this.#requirePlan(patch.plan);
    const account = await this.#d.accounts.update(id, patch);
    if (account === undefined) throw notFound('account', id);
    this.#d.directory?.updateAccount({ id: account.id, status: account.status, plan: account.plan });
    return account;
  }

  /** Creates a key; `owner` marks a self-service call, whose limits may only be lower than the plan's. */
  async createKey(input: NewKey, owner = false): Promise<{ record: ApiKeyRecord; secret: string }> {
    const account = await this.#d.accounts.get(input.accountId);
    if (account === undefined) throw invalidRequest(`Unknown account '${input.accountId}'.`, 'account_id');
    input.models?.forEach((model, i) => {
      if (!this.#d.models.has(model)) throw invalidRequest(`Unknown model '${model}'.`, `models[${i}]`);
    });
    const now = (this.#d.now ?? Date.now)();
    if (input.expiresAt != null && input.expiresAt <= now) throw invalidRequest("'expires_at' must be in the future.", 'expires_at');
    if (owner && input.limits) this.#requireWithinPlan(input.limits, account.plan);
    const created = await this.#d.apiKeys.create({
      accountId: input.accountId,
      name: input.name ?? null,
      models: input.models ? [...input.models] : null,
      expiresAt: input.expiresAt ?? null,
      limits: input.limits ?? null,
    });
    await this.#refreshDirectory(created.record.id);
    return created;
  }

  /**
   * Only an unrestricted key of an account manages its keys: a key limited to some models, with
   * an expiry or limits of its own could otherwise create an unrestricted one, or revoke the
   * keys it was carved out of.
   */
  async requireKeyManager(keyId: string): Promise<void> {
    const row = await this.#d.apiKeys.findById(keyId);
    if (row === undefined || row.models !== null || row.expiresAt !== null || row.limits !== null) {
      throw new GatewayError('permission_denied', 'This key is restricted (models, expiry or limits of its own): manage keys with an unrestricted key of the account.');
    }
  }

  listKeys(accountId?: string): Promise<ApiKeyRecord[]> {
    return this.#d.apiKeys.list(accountId === undefined ? {} : { accountId });
  }

  /** Revokes at once for this process; `accountId` scopes it to one tenant's keys. */
  async revokeKey(id: string, accountId?: string): Promise<ApiKeyRecord> {
    const record = await this.#d.apiKeys.revoke(id, accountId === undefined ? {} : { accountId });
    if (record === undefined) throw notFound('key', id);
    await this.#refreshDirectory(id);
    return record;
  }

  async #refreshDirectory(keyId: string): Promise<void> {
    if (this.#d.directory === undefined) return;
    const row = await this.#d.apiKeys.findById(keyId);
    if (row !== undefined) this.#d.directory.upsertKey(row);
  }

  #requirePlan(plan: string): void {
    if (planNamed(this.#d.plans, plan) === undefined) {
      throw invalidRequest(`Unknown plan '${plan}' (known: ${Object.keys(this.#d.plans).join(', ')}).`, 'plan');
    }
  }

  #requireWithinPlan(limits: KeyLimits, planName: string): void {
    const plan = planNamed(this.#d.plans, planName);
    if (plan === undefined) return;
    for (const dim of ['rpm', 'tpm', 'concurrency'] as const) {
      const asked = limits[dim];
      const allowed = plan[dim];
      if (asked !== undefined && allowed > 0 && (asked === 0 || asked > allowed)) {
        throw invalidRequest(`'limits.${dim}' may not exceed the plan's ${allowed}.`, `limits.${dim}`);
      }
    }
  }
}

function notFound(kind: 'account' | 'key', id: string): GatewayError {
  return new GatewayError('not_found', `No ${kind} with id '${id}'.`, { param: 'id' });
}
