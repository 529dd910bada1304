import { planNamed } from '../../config/plans.ts';
import type { Plan } from '../../config/schema.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { LimitPolicy } from '../../limits/limiter.ts';
import { hashApiKey } from '../../store/repositories/api-keys.ts';
import type { Authenticator } from './authenticator.ts';
import { ADMIN_PRINCIPAL, type Principal } from './principal.ts';

/** The key row as the store returns it, joined with its account. */
export interface KeyRow {
  readonly id: string;
  readonly keyHash: string;
  readonly models: readonly string[] | null;
  readonly limits: { readonly rpm?: number; readonly tpm?: number; readonly concurrency?: number } | null;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly account: { readonly id: string; readonly status: string; readonly plan: string };
}

export interface KeySource {
  findByHash(hash: string): Promise<KeyRow | undefined>;
  listActive(): Promise<KeyRow[]>;
  /** Keys (with accounts) written after `since`, epoch ms. */
  changedSince(since: number): Promise<Array<KeyRow & { readonly updatedAt: number }>>;
}

export interface AccountSource {
  changedSince(since: number): Promise<Array<KeyRow['account'] & { readonly updatedAt: number }>>;
}

interface Entry {
  row: KeyRow;
  /** Undefined when the account's plan is not configured (fail closed, never unlimited). */
  principal: Principal | undefined;
}

const NEGATIVE_TTL_MS = 5_000;
const REFRESH_OVERLAP_MS = 1_000;
const NEGATIVE_MAX = 10_000;

/**
 * The in-memory key table in front of the store: warmed at start, updated by the admin API
 * in the same process the moment a key or account changes (revocation takes effect on the
 * next request), and filled on demand for keys created elsewhere. Unknown keys are remembered
 * briefly so a client hammering with a bad key costs a hash, not a query.
 */
export class KeyDirectory implements Authenticator {
  readonly #source: KeySource;
  readonly #plans: Readonly<Record<string, Plan>>;
  readonly #byHash = new Map<string, Entry>();
  readonly #unknown = new Map<string, number>();
  readonly #adminHash: string | undefined;
  readonly #now: () => number;
  #refreshedAt = 0;

  constructor(source: KeySource, plans: Readonly<Record<string, Plan>>, adminHash: string | undefined, now: () => number = Date.now) {
    this.#source = source;
    this.#plans = plans;
    this.#adminHash = adminHash;
    this.#now = now;
  }

  async warm(): Promise<void> {
    this.#refreshedAt = this.#now();
    for (const row of await this.#source.listActive()) this.#remember(row);
  }

  /**
   * Catches up with writes made by other processes (another gateway, the CLI on the local
   * store): keys and accounts changed since the last look. Writes made through this process
   * never wait for it.
   */
  async refresh(accounts: AccountSource): Promise<void> {
    // Overlap the window a little: a write committed while the previous refresh ran is not lost.
    // The mark moves only once both reads succeeded: a refresh that fails (the store briefly
    // unreachable) is retried from the same point, so a revocation is never skipped.
    const since = this.#refreshedAt - REFRESH_OVERLAP_MS;
    const startedAt = this.#now();
    const keys = await this.#source.changedSince(since);
    const changedAccounts = await accounts.changedSince(since);
    for (const row of keys) this.upsertKey(row);
    for (const account of changedAccounts) this.updateAccount(account);
    this.#refreshedAt = startedAt;
  }

  authenticate(secret: string): Principal | Promise<Principal> {
    const hash = hashApiKey(secret);
    if (hash === this.#adminHash) return ADMIN_PRINCIPAL;
    const entry = this.#byHash.get(hash);
    if (entry !== undefined) return this.#check(entry);
    const until = this.#unknown.get(hash);
    if (until !== undefined && until > this.#now()) throw invalidKey();
    return this.#lookup(hash);
  }

  /** A key was created, changed or revoked in this process: take the store's row as truth. */
  upsertKey(row: KeyRow): void {
    this.#unknown.delete(row.keyHash);
    this.#remember(row);
  }

  /** An account's plan or status changed: every key of it gets the new state at once. */
  updateAccount(account: KeyRow['account']): void {
    const state = { id: account.id, status: account.status, plan: account.plan };
    for (const entry of this.#byHash.values()) {
      if (entry.row.account.id !== account.id) continue;
      this.#remember({ ...entry.row, account: state });
    }
  }

  async #lookup(hash: string): Promise<Principal> {
    const row = await this.#source.findByHash(hash);
    if (row === undefined) {
      if (this.#unknown.size >= NEGATIVE_MAX) this.#unknown.clear();
      this.#unknown.set(hash, this.#now() + NEGATIVE_TTL_MS);
      throw invalidKey();
    }
    return this.#check(this.#remember(row));
  }

  #remember(row: KeyRow): Entry {
    const entry = { row, principal: this.#principalOf(row) };
    this.#byHash.set(row.keyHash, entry);
    return entry;
  }

  #check(entry: Entry): Principal {
    const { row } = entry;
    if (row.revokedAt !== null) throw invalidKey('This API key has been revoked.');
    if (row.expiresAt !== null && row.expiresAt <= this.#now()) throw invalidKey('This API key has expired.');
    if (row.account.status !== 'active') {
      throw new GatewayError('permission_denied', 'The account this API key belongs to is suspended.');
    }
    if (entry.principal === undefined) {
      throw new GatewayError('permission_denied', `The account's plan '${row.account.plan}' is not configured on this gateway.`);
    }
    return entry.principal;
  }

  #principalOf(row: KeyRow): Principal | undefined {
    const plan = planNamed(this.#plans, row.account.plan);
    if (plan === undefined) return undefined;
    const policy: LimitPolicy = {
      rpm: row.limits?.rpm ?? plan.rpm,
      tpm: row.limits?.tpm ?? plan.tpm,
      concurrency: row.limits?.concurrency ?? plan.concurrency,
    };
    return {
      role: 'user',
      keyId: row.id,
      accountId: row.account.id,
      models: allowedModels(row.models, plan.models),
      policy,
    };
  }
}

function allowedModels(keyModels: readonly string[] | null, planModels: readonly string[] | undefined): ReadonlySet<string> | undefined {
  if (keyModels === null && planModels === undefined) return undefined;
  if (keyModels === null) return new Set(planModels);
  if (planModels === undefined) return new Set(keyModels);
  const plan = new Set(planModels);
  return new Set(keyModels.filter((m) => plan.has(m)));
}

function invalidKey(message = 'Invalid API key.'): GatewayError {
  return new GatewayError('invalid_token', message);
}
