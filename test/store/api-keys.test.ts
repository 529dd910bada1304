import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/db.ts';
import { StoreError, StoreNotFoundError } from '../../src/store/errors.ts';
import { createRepositories, type Repositories } from '../../src/store/index.ts';
import type { Account } from '../../src/store/repositories/accounts.ts';
import { hashApiKey } from '../../src/store/repositories/api-keys.ts';
import { forEachBackend } from './backends.ts';

const KEY_FORMAT = /^sk-[0-9A-Za-z]{48}$/;

forEachBackend('api keys', (backend) => {
  let store: Store;
  let repos: Repositories;
  let account: Account;

  before(async () => {
    store = await backend().open();
    repos = createRepositories(store);
    account = await repos.accounts.create({ name: 'Owner', plan: 'basic' });
  });
  after(async () => {
    await store?.close();
  });

  test('create returns the secret once; the row holds only its SHA-256 and a 12-character prefix', async () => {
    const { record, secret } = await repos.apiKeys.create({ accountId: account.id, name: 'ci' });
    assert.match(secret, KEY_FORMAT);
    assert.match(record.id, /^key_[0-9a-z]{20}$/);
    assert.equal(record.prefix, secret.slice(0, 12));
    assert.equal(record.accountId, account.id);
    assert.equal(record.name, 'ci');
    const raw = await store.db.selectFrom('api_keys').selectAll().where('id', '=', record.id).executeTakeFirstOrThrow();
    assert.equal(raw.key_hash, hashApiKey(secret));
    assert.match(raw.key_hash, /^[0-9a-f]{64}$/);
    const stored = JSON.stringify(raw);
    assert.ok(!stored.includes(secret), 'the secret is not stored');
    assert.ok(!stored.includes(secret.slice(12)), 'nor any of it beyond the display prefix');
  });

  test('get and list never carry the secret or the hash', async () => {
    const { record, secret } = await repos.apiKeys.create({ accountId: account.id });
    const got = await repos.apiKeys.get(record.id);
    assert.deepEqual(got, record);
    const listed = await repos.apiKeys.list({ accountId: account.id });
    assert.ok(listed.some((k) => k.id === record.id));
    for (const k of [got, ...listed]) {
      assert.ok(!('keyHash' in (k as object)));
      assert.ok(!JSON.stringify(k).includes(secret.slice(12)));
      assert.ok(!JSON.stringify(k).includes(hashApiKey(secret)));
    }
    assert.equal(await repos.apiKeys.get('key_missing'), undefined);
  });

  test('secrets are distinct and use the whole base62 alphabet', async () => {
    const secrets = await Promise.all(Array.from({ length: 40 }, async () => (await repos.apiKeys.create({ accountId: account.id })).secret));
    assert.equal(new Set(secrets).size, secrets.length);
    for (const s of secrets) assert.match(s, KEY_FORMAT);
    // 1920 characters, ~31 of each on average: a missing one would mean a broken alphabet or sampler.
    assert.equal(new Set(secrets.join('').replaceAll('sk-', '')).size, 62);
  });

  test('models and limits round-trip as JSON; absent means null, an empty allowlist stays empty', async () => {
    const full = await repos.apiKeys.create({
      accountId: account.id,
      models: ['qwen3-8b', 'deepseek-v3'],
      limits: { rpm: 60, tpm: 100_000, concurrency: 2 },
      expiresAt: 4_102_444_800_000,
    });
    const partial = await repos.apiKeys.create({ accountId: account.id, models: [], limits: { tpm: 5 } });
    const bare = await repos.apiKeys.create({ accountId: account.id });
    const read = async (id: string) => (await repos.apiKeys.get(id))!;
    assert.deepEqual((await read(full.record.id)).models, ['qwen3-8b', 'deepseek-v3']);
    assert.deepEqual((await read(full.record.id)).limits, { rpm: 60, tpm: 100_000, concurrency: 2 });
    assert.equal((await read(full.record.id)).expiresAt, 4_102_444_800_000);
    assert.deepEqual((await read(partial.record.id)).models, []);
    assert.deepEqual((await read(partial.record.id)).limits, { tpm: 5 });
    assert.deepEqual(await read(bare.record.id), { ...bare.record, name: null, models: null, limits: null, expiresAt: null, revokedAt: null });
  });

  test('findByHash joins the key with its account status and plan, and sees account changes', async () => {
    const owner = await repos.accounts.create({ name: 'Joined', plan: 'enterprise' });
    const { record, secret } = await repos.apiKeys.create({ accountId: owner.id, models: ['m'] });
    const found = await repos.apiKeys.findByHash(hashApiKey(secret));
    assert.deepEqual(found, { ...record, keyHash: hashApiKey(secret), account: { id: owner.id, status: 'active', plan: 'enterprise' } });
    await repos.accounts.update(owner.id, { status: 'suspended', plan: 'basic' });
    assert.deepEqual((await repos.apiKeys.findByHash(hashApiKey(secret)))?.account, { id: owner.id, status: 'suspended', plan: 'basic' });
    assert.deepEqual(await repos.apiKeys.findById(record.id), await repos.apiKeys.findByHash(hashApiKey(secret)));
    assert.equal(await repos.apiKeys.findByHash(hashApiKey('sk-unknown')), undefined);
  });

  test('revoke is scoped to the account, idempotent, and drops the key from listActive', async () => {
    const other = await repos.accounts.create({ name: 'Other', plan: 'basic' });
    const { record, secret } = await repos.apiKeys.create({ accountId: account.id });
    assert.ok((await repos.apiKeys.listActive()).some((k) => k.id === record.id));

    assert.equal(await repos.apiKeys.revoke(record.id, { accountId: other.id }), undefined, "another account's id answers like an unknown key");
    assert.equal((await repos.apiKeys.get(record.id))?.revokedAt, null, 'and the key stays active');

    const revoked = await repos.apiKeys.revoke(record.id, { accountId: account.id });
    assert.equal(typeof revoked?.revokedAt, 'number');
    assert.equal(revoked?.updatedAt, revoked?.revokedAt);
    const again = await repos.apiKeys.revoke(record.id);
    assert.deepEqual(again, revoked, 'revoking again keeps the first revocation');
    assert.equal(await repos.apiKeys.revoke(record.id, { accountId: other.id }), undefined, 'still scoped once revoked');
    assert.equal(await repos.apiKeys.revoke('key_missing'), undefined);

    assert.ok(!(await repos.apiKeys.listActive()).some((k) => k.id === record.id));
    assert.equal((await repos.apiKeys.findByHash(hashApiKey(secret)))?.revokedAt, revoked?.revokedAt, 'admission still finds it, and sees it revoked');
    assert.ok((await repos.apiKeys.list({ accountId: account.id })).some((k) => k.id === record.id), 'list keeps revoked keys');
  });

  test('listActive returns every unrevoked key with its account', async () => {
    const active = await repos.apiKeys.listActive();
    const unrevoked = (await repos.apiKeys.list()).filter((k) => k.revokedAt === null);
    assert.deepEqual(active.map((k) => k.id).sort(), unrevoked.map((k) => k.id).sort());
    for (const k of active) {
      assert.match(k.keyHash, /^[0-9a-f]{64}$/);
      assert.equal(k.account.id, k.accountId);
    }
  });

  test('list filters by account and orders by creation', async () => {
    const solo = await repos.accounts.create({ name: 'Solo', plan: 'basic' });
    const first = await repos.apiKeys.create({ accountId: solo.id, name: 'first' });
    const second = await repos.apiKeys.create({ accountId: solo.id, name: 'second' });
    const listed = await repos.apiKeys.list({ accountId: solo.id });
    assert.deepEqual(new Set(listed.map((k) => k.id)), new Set([first.record.id, second.record.id]));
    const times = listed.map((k) => k.createdAt);
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
    assert.ok((await repos.apiKeys.list()).length > listed.length);
  });

  test('a key for an unknown account is a typed StoreNotFoundError, not a driver error', async () => {
    await assert.rejects(repos.apiKeys.create({ accountId: 'acct_nope' }), (err: unknown) => {
      assert.ok(err instanceof StoreNotFoundError);
      assert.ok(err instanceof StoreError);
      assert.equal(err.entity, 'account');
      assert.equal(err.id, 'acct_nope');
      return true;
    });
    assert.ok(!(await repos.apiKeys.list()).some((k) => k.accountId === 'acct_nope'));
  });

  test('changedSince finds keys written after a time, joined like findByHash', async () => {
    const since = Date.now() - 1;
    const { record } = await repos.apiKeys.create({ accountId: account.id });
    const changed = await repos.apiKeys.changedSince(since);
    assert.equal(changed.find((k) => k.id === record.id)?.account.id, account.id);
  });

  test('settings: get, and set as an upsert', async () => {
    assert.equal(await repos.settings.get('admin_key_hash'), undefined);
    await repos.settings.set('admin_key_hash', 'one');
    await repos.settings.set('admin_key_hash', 'two');
    assert.equal(await repos.settings.get('admin_key_hash'), 'two');
    const rows = await store.db.selectFrom('settings').selectAll().where('key', '=', 'admin_key_hash').execute();
    assert.equal(rows.length, 1);
  });
});
