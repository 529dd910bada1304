import type { Store } from './db.ts';
import { AccountRepository } from './repositories/accounts.ts';
import { ApiKeyRepository } from './repositories/api-keys.ts';
import { SettingsRepository } from './repositories/settings.ts';
import { KyselyBillingStore } from './repositories/billing.ts';
import { DeploymentRepository } from './repositories/deployments.ts';
import { sqliteSyncRunner } from './sqlite/sync-runner.ts';

export interface Repositories {
  readonly accounts: AccountRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly settings: SettingsRepository;
  readonly billing: KyselyBillingStore;
  readonly deployments: DeploymentRepository;
}

/** The repositories over one open store. The same classes serve both dialects; only the store knows which. */
export function createRepositories(store: Store, options: { now?: () => number } = {}): Repositories {
  const now = options.now ?? Date.now;
  return {
    accounts: new AccountRepository(store.db, now),
    apiKeys: new ApiKeyRepository(store.db, now),
    settings: new SettingsRepository(store.db, now),
    billing: new KyselyBillingStore(store.db, store.sqlite && sqliteSyncRunner(store.db, store.sqlite, store.committed)),
    deployments: new DeploymentRepository(store.db, now),
  };
}
