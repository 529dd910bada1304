import type { Store } from './db.ts';
import { AccountRepository } from './repositories/accounts.ts';
import { ApiKeyRepository } from './repositories/api-keys.ts';
import { SettingsRepository } from './repositories/settings.ts';
import { KyselyBillingStore } from './repositories/billing.ts';

export interface Repositories {
  readonly accounts: AccountRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly settings: SettingsRepository;
  readonly billing: KyselyBillingStore;
}

export function createRepositories(store: Store): Repositories {
  return {
    accounts: new AccountRepository(store.db),
    apiKeys: new ApiKeyRepository(store.db),
    settings: new SettingsRepository(store.db),
    billing: new KyselyBillingStore(store.db),
  };
}
