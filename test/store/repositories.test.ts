import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { Store } from '../../src/store/db.ts';
import { StoreConflictError } from '../../src/store/errors.ts';
import { createRepositories, type Repositories } from '../../src/store/index.ts';
import { hashApiKey } from '../../src/store/repositories/api-keys.ts';
import { forEachBackend } from './backends.ts';

forEachBackend('store', (backend) => {
  let store: Store;
  let repos: Repositories;

  before(async () => {
    store = await backend().open();
    repos = createRepositories(store);
  });
  after(async () => {
    await store?.close();
  });

  test('migrations are recorded once and reopening is a no-op', async () => {
    const second = await backend().open();
    const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(second.db);
    assert.deepEqual(rows.rows.map((r) => r.name), ['0001_tenancy', '0002_billing']);
    await second.close();
  });

  test('accounts: create, get, list in creation order, update', async () => {
    const a = await repos.accounts.create({ name: 'A', plan: 'basic' });
    const b = await repos.accounts.create({ name: 'B', plan: 'enterprise' });
    assert.match(a.id, /^acct_[0-9a-z]{20}$/);
    assert.equal(a.status, 'active');
    assert.equal(a.balance, 0n);
    assert.deepEqual(await repos.accounts.get(a.id), a);
    const ids = (await repos.accounts.list()).map((x) => x.id);
    assert.ok(ids.indexOf(a.id) < ids.indexOf(b.id));
    const updated = await repos.accounts.update(a.id, { status: 'suspended', plan: 'enterprise' });
    assert.equal(updated?.status, 'suspended');
    assert.equal(updated?.plan, 'enterprise');
    assert.equal(updated?.name, 'A');
    assert.equal(await repos.accounts.update('acct_missing', { name: 'x' }), undefined);
  });

  test('balance reads back exactly above 2^53 (as bigint, never a float)', async () => {
    const a = await repos.accounts.create({ name: 'Rich', plan: 'basic' });
    const big = 2n ** 62n + 12345n;
    await store.db.updateTable('accounts').set({ balance: big.toString() }).where('id', '=', a.id).execute();
    assert.equal((await repos.accounts.get(a.id))?.balance, big);
  });

  test('keys: the secret is returned once and only its hash is stored', async () => {
    const account = await repos.accounts.create({ name: 'K', plan: 'basic' });
    const { record, secret } = await repos.apiKeys.create({
      accountId: account.id,
      name: 'ci',
      models: ['m1', 'm2'],
      limits: { rpm: 5, concurrency: 1 },
      expiresAt: 4_102_444_800_000,
    });
    assert.match(secret, /^sk-[0-9A-Za-z]{48}$/);
    assert.equal(record.prefix, secret.slice(0, 12));
    const raw = await store.db.selectFrom('api_keys').selectAll().where('id', '=', record.id).executeTakeFirstOrThrow();
    assert.equal(raw.key_hash, hashApiKey(secret));
    assert.ok(!JSON.stringify(raw).includes(secret.slice(12)), 'no secret material beyond the prefix');
    const found = await repos.apiKeys.findByHash(hashApiKey(secret));
    assert.deepEqual(found?.models, ['m1', 'm2']);
    assert.deepEqual(found?.limits, { rpm: 5, concurrency: 1 });
    assert.equal(found?.expiresAt, 4_102_444_800_000);
    assert.deepEqual(found?.account, { id: account.id, status: 'active', plan: 'basic' });
  });

  test('keys: revoke is scoped to the account and idempotent; listActive drops revoked keys', async () => {
    const owner = await repos.accounts.create({ name: 'Owner', plan: 'basic' });
    const other = await repos.accounts.create({ name: 'Other', plan: 'basic' });
    const { record } = await repos.apiKeys.create({ accountId: owner.id });
    assert.equal(await repos.apiKeys.revoke(record.id, { accountId: other.id }), undefined);
    assert.equal((await repos.apiKeys.get(record.id))?.revokedAt, null, "another account cannot revoke it");
    const revoked = await repos.apiKeys.revoke(record.id, { accountId: owner.id });
    assert.ok(revoked?.revokedAt);
    const again = await repos.apiKeys.revoke(record.id);
    assert.equal(again?.revokedAt, revoked.revokedAt);
    assert.ok(!(await repos.apiKeys.listActive()).some((k) => k.id === record.id));
    assert.deepEqual((await repos.apiKeys.list({ accountId: owner.id })).map((k) => k.id), [record.id]);
  });

  test('keys: an unknown account is a typed conflict, not a driver error', async () => {
    await assert.rejects(repos.apiKeys.create({ accountId: 'acct_nope' }), StoreConflictError);
  });

  test('settings upsert', async () => {
    await repos.settings.set('admin_key_hash', 'one');
    await repos.settings.set('admin_key_hash', 'two');
    assert.equal(await repos.settings.get('admin_key_hash'), 'two');
    assert.equal(await repos.settings.get('missing'), undefined);
  });

  test('changedSince finds what other processes must refresh', async () => {
    const since = Date.now() - 1;
    const account = await repos.accounts.create({ name: 'Fresh', plan: 'basic' });
    const { record } = await repos.apiKeys.create({ accountId: account.id });
    assert.ok((await repos.accounts.changedSince(since)).some((a) => a.id === account.id));
    assert.ok((await repos.apiKeys.changedSince(since)).some((k) => k.id === record.id));
  });

  test('data survives close and reopen', async () => {
    const account = await repos.accounts.create({ name: 'Durable', plan: 'basic' });
    const reopened = await backend().open();
    assert.equal((await createRepositories(reopened).accounts.get(account.id))?.name, 'Durable');
    await reopened.close();
  });
});
