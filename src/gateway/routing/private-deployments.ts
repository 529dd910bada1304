import { ConfigError } from '../../config/errors.ts';
import { GatewayError, invalidRequest } from '../../errors/gateway-error.ts';
import type { Logger } from '../../observability/logger.ts';
import { createOpenAICompatibleAdapter } from '../../providers/openai-compatible/adapter.ts';
import { StoreNotFoundError } from '../../store/errors.ts';
import { newDeploymentId } from '../../store/ids.ts';
import type { DeploymentRecord, DeploymentRepository, SealedDeployment } from '../../store/repositories/deployments.ts';
import { SecretBoxError, sealedFingerprint, type SecretBox } from '../../store/secret-box.ts';
import { createDeployment, type Deployment } from './catalog.ts';
import type { HealthPolicy } from './health.ts';
import type { Router } from './router.ts';
import { resolveTimeouts } from './timeouts.ts';

/** How stale another process's creation or deletion may be here (this process's own: never). */
export const PRIVATE_REFRESH_INTERVAL_MS = 2_000;
/** Re-read a little before the last look: a row committed while that look ran is not missed. Re-reading is idempotent. */
const REFRESH_OVERLAP_MS = 5_000;
/** Each deployment owns a connection pool; a bound per account keeps one tenant from holding thousands. */
export const MAX_DEPLOYMENTS_PER_ACCOUNT = 100;
/** Sockets to one account's engine at most. */
const MAX_CONNECTIONS = 64;

export interface NewPrivateDeployment {
  readonly accountId: string;
  readonly model: string;
  readonly baseUrl: string;
  readonly apiKey: string | null;
  readonly upstreamModel: string | null;
  readonly chip: string | null;
}

export interface PrivateDeploymentsDeps {
  readonly repo: DeploymentRepository;
  readonly router: Router;
  /** Undefined on PostgreSQL without MAAS_SECRET_KEY: nothing can be sealed or opened (store/secret-key.ts). */
  readonly box: SecretBox | undefined;
  readonly policy: HealthPolicy;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** Why a stored deployment could not be loaded: a key problem (the operator's to fix) or a damaged row. */
type LoadFailure = 'no_key' | 'wrong_key' | 'damaged';

/**
 * Accounts' own engines (`mif-…`) in the router: all live ones loaded at start, this process's
 * creations and deletions applied at once, other processes' within PRIVATE_REFRESH_INTERVAL_MS
 * (the store is polled). Each deployment gets its own OpenAI-compatible adapter, closed when the
 * deployment goes (undici lets requests in flight on it finish first).
 */
export class PrivateDeployments {
  readonly #d: PrivateDeploymentsDeps;
  readonly #now: () => number;
  /** The deployments this service put into the router. */
  readonly #loaded = new Map<string, Deployment>();
  /** Deleted ids (never reused): a refresh that read a row just before its deletion must not bring it back. */
  readonly #deleted = new Set<string>();
  /** Rows that cannot be loaded (their secret does not open), so the reason is logged once, not every refresh. */
  readonly #unloadable = new Map<string, string>();
  readonly #addedListeners: Array<(deployment: Deployment) => void> = [];
  #refreshedAt = 0;
  #refreshing = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: PrivateDeploymentsDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /**
   * Loads every live deployment. Secrets sealed under another key (or any key, when this
   * process has none) fail the start: serving without them would answer 401s from the
   * account's engine, and the operator can fix the key before any traffic arrives.
   */
  async load(): Promise<void> {
    this.#refreshedAt = this.#now();
    const unopenable: SealedDeployment[] = [];
    for (const row of await this.#d.repo.listLiveSealed()) {
      const failure = this.#tryAdd(row);
      if (failure === 'wrong_key' || failure === 'no_key') unopenable.push(row);
    }
    if (unopenable.length > 0) throw keyMismatch(unopenable, this.#d.box);
  }

  startRefreshing(intervalMs = PRIVATE_REFRESH_INTERVAL_MS): void {
    this.#timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.#d.logger.warn({ err }, 'private deployment refresh failed'));
    }, intervalMs);
    this.#timer.unref();
  }

  /** Catches up with other processes: creations are added, deletions removed. */
  async refresh(): Promise<void> {
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      const since = this.#refreshedAt - REFRESH_OVERLAP_MS;
      const startedAt = this.#now();
      for (const row of await this.#d.repo.changedSince(since)) {
        if (row.deletedAt !== null) this.#remove(row.id);
        else if (!this.#loaded.has(row.id) && !this.#unloadable.has(row.id) && !this.#deleted.has(row.id)) this.#tryAdd(row);
      }
      this.#refreshedAt = startedAt; // only after the read succeeded: a failed refresh retries from the same point
    } finally {
      this.#refreshing = false;
    }
  }

  /** Registers an account's engine; callable at once in this process. */
  async create(input: NewPrivateDeployment): Promise<DeploymentRecord> {
    const baseUrl = checkBaseUrl(input.baseUrl);
    if (input.model.startsWith('mif-')) throw invalidRequest("'model' may not start with 'mif-': that prefix names deployments.", 'model');
    const box = this.#d.box;
    if (input.apiKey !== null && box === undefined) {
      throw new GatewayError(
        'service_unavailable',
        'This gateway cannot store upstream API keys: it keeps its state in PostgreSQL and has no MAAS_SECRET_KEY. The operator must set MAAS_SECRET_KEY (the same key on every gateway process).',
        { param: 'api_key' },
      );
    }
    if ((await this.#d.repo.countLive(input.accountId)) >= MAX_DEPLOYMENTS_PER_ACCOUNT) {
      throw invalidRequest(`An account may have at most ${MAX_DEPLOYMENTS_PER_ACCOUNT} deployments; delete one first.`);
    }
    const id = newDeploymentId();
    let record: DeploymentRecord;
    try {
      record = await this.#d.repo.create({
        id,
        accountId: input.accountId,
        model: input.model,
        baseUrl,
        upstreamModel: input.upstreamModel ?? input.model,
        chip: input.chip ?? 'default',
        apiKeySealed: input.apiKey === null ? null : box!.seal(input.apiKey, id),
      });
    } catch (err) {
      if (err instanceof StoreNotFoundError) throw invalidRequest(`Unknown account '${input.accountId}'.`, 'account_id');
      throw err;
    }
    this.#add(record, input.apiKey);
    // Never the api key: only whether there is one.
    this.#d.logger.info({ deployment: id, account: record.accountId, model: record.model, base_url: baseUrl, api_key_set: record.hasApiKey }, 'private deployment registered');
    return record;
  }

  /** Deletes a live deployment (with `accountId`, only that account's); undefined when there is none. */
  async delete(id: string, accountId?: string): Promise<DeploymentRecord | undefined> {
    const record = await this.#d.repo.softDelete(id, accountId === undefined ? {} : { accountId });
    if (record !== undefined) {
      this.#remove(id);
      this.#d.logger.info({ deployment: id, account: record.accountId }, 'private deployment deleted');
    }
    return record;
  }

  get(id: string, accountId?: string): Promise<DeploymentRecord | undefined> {
    return this.#d.repo.get(id, accountId === undefined ? {} : { accountId });
  }

  list(accountId?: string): Promise<DeploymentRecord[]> {
    return this.#d.repo.list(accountId === undefined ? {} : { accountId });
  }

  /**
   * Called for each deployment added after the start (created here or seen from another
   * process), e.g. to probe it at once so its health shows without waiting for the next round.
   */
  whenAdded(listener: (deployment: Deployment) => void): void {
    this.#addedListeners.push(listener);
  }

  /** Why a live deployment is not in this process's router, if it is not. */
  unloadableReason(id: string): string | undefined {
    return this.#unloadable.get(id);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    const adapters = [...this.#loaded.values()].map((d) => d.provider.close());
    this.#loaded.clear();
    await Promise.allSettled(adapters);
  }

  /** Opens the row's secret and adds it; on failure records why (logged once) and says which kind. */
  #tryAdd(row: SealedDeployment): LoadFailure | undefined {
    let apiKey: string | null = null;
    if (row.apiKeySealed !== null) {
      const opened = this.#open(row.apiKeySealed, row.id);
      if (typeof opened !== 'string') {
        const reason = `its upstream api key cannot be opened: ${opened.message}`;
        this.#unloadable.set(row.id, reason);
        this.#d.logger.error({ deployment: row.id, account: row.accountId }, `private deployment not loaded: ${reason}`);
        return opened.kind;
      }
      apiKey = opened;
    }
    this.#add(row, apiKey);
    return undefined;
  }

  #open(sealed: string, id: string): string | { kind: LoadFailure; message: string } {
    const box = this.#d.box;
    if (box === undefined) return { kind: 'no_key', message: 'this process has no secret key (PostgreSQL store and MAAS_SECRET_KEY unset)' };
    try {
      return box.open(sealed, id);
    } catch (err) {
      if (!(err instanceof SecretBoxError)) throw err;
      return { kind: err.reason === 'wrong_key' ? 'wrong_key' : 'damaged', message: err.message };
    }
  }

  #add(record: DeploymentRecord, apiKey: string | null): void {
    const provider = createOpenAICompatibleAdapter(record.id, {
      type: 'openai',
      base_url: record.baseUrl,
      max_connections: MAX_CONNECTIONS,
      ...(apiKey === null ? {} : { api_key: apiKey }),
    });
    const deployment = createDeployment({
      id: record.id,
      model: record.model,
      owner: record.accountId,
      provider,
      upstreamModel: record.upstreamModel,
      chip: record.chip,
      // An account's own engine: it pays for the hardware, the gateway charges nothing per token.
      price: undefined,
      weight: 1,
      priority: 0,
      maxConcurrency: 0,
      timeouts: resolveTimeouts(undefined, undefined),
      metricsUrl: undefined,
      policy: this.#d.policy,
    });
    this.#d.router.addPrivate(deployment);
    this.#loaded.set(record.id, deployment);
    for (const listener of this.#addedListeners) listener(deployment);
  }

  #remove(id: string): void {
    this.#deleted.add(id);
    this.#unloadable.delete(id);
    const deployment = this.#loaded.get(id);
    this.#loaded.delete(id);
    this.#d.router.removePrivate(id);
    deployment?.provider.close().catch((err: unknown) => this.#d.logger.warn({ err, deployment: id }, 'closing a deleted deployment’s connections failed'));
  }
}

/** http(s) only, no credentials, query or fragment (they would be lost or leak); stored without a trailing slash. */
function checkBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidRequest(`'base_url' is not a URL: '${text}'.`, 'base_url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidRequest("'base_url' must start with http:// or https://.", 'base_url');
  if (url.username !== '' || url.password !== '') throw invalidRequest("'base_url' may not carry credentials; send the key as 'api_key'.", 'base_url');
  if (url.search !== '' || url.hash !== '') throw invalidRequest("'base_url' may not have a query or fragment; it ends where /chat/completions is appended (usually /v1).", 'base_url');
  return url.href.replace(/\/+$/, '');
}

function keyMismatch(rows: readonly SealedDeployment[], box: SecretBox | undefined): ConfigError {
  const sealedWith = [...new Set(rows.map((r) => sealedFingerprint(r.apiKeySealed!) ?? '?'))].join(', ');
  const ids = rows.slice(0, 5).map((r) => r.id).join(', ') + (rows.length > 5 ? ', …' : '');
  const have = box === undefined ? 'this process has no key (PostgreSQL store and MAAS_SECRET_KEY unset)' : `this process has the key ${box.fingerprint}`;
  return new ConfigError(
    'MAAS_SECRET_KEY',
    `${rows.length} private deployment(s) (${ids}) hold upstream api keys sealed with the secret key ${sealedWith}, but ${have}. ` +
      'Set MAAS_SECRET_KEY to the key they were sealed with, the same on every gateway process (see docs/deployments.md).',
  );
}
