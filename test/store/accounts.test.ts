import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/db.ts';
import { createRepositories, type Repositories } from '../../src/store/index.ts';
import { forEachBackend } from './backends.ts';

forEachBackend('accounts', (backend) => {
  let store: Store;
  let repos: Repositories;
  // A clock the test moves by hand: ordering and updated_at are then exact, not timing-dependent.
  let clock = 1_700_000_000_000;

  before(async () => {
    store = await backend().open();
    repos = createRepositories(store, { now: () => clock });
  });
  after(async () => {
    await store?.close();
  });

  test('create gives an active account with a zero balance; get returns the same', async () => {
    const a = await repos.accounts.create({ name: 'Acme', plan: 'basic' });
    assert.match(a.id, /^acct_[0-9a-z]{20}$/);
    assert.deepEqual(a, { id: a.id, name: 'Acme', plan: 'basic', status: 'active', balance: 0n, held: 0n, createdAt: clock, updatedAt: clock });
    assert.deepEqual(await repos.accounts.get(a.id), a);
    assert.equal(await repos.accounts.get('acct_missing'), undefined);
  });

  test('list is ordered by creation time, then id, and pages with limit/offset', async () => {
    clock += 1000;
    const sameMs = [await repos.accounts.create({ name: 'x', plan: 'basic' }), await repos.accounts.create({ name: 'y', plan: 'basic' })];
    clock += 1;
    const later = await repos.accounts.create({ name: 'z', plan: 'basic' });
    const all = await repos.accounts.list();
    const expectedTail = [...sameMs.map((a) => a.id).sort(), later.id];
    assert.deepEqual(all.slice(-3).map((a) => a.id), expectedTail);
    const times = all.map((a) => a.createdAt);
    assert.deepEqual(times, [...times].sort((x, y) => x - y));
    const paged = [...(await repos.accounts.list({ limit: 2, offset: 0 })), ...(await repos.accounts.list({ limit: 2, offset: 2 })), ...(await repos.accounts.list({ limit: 2, offset: 4 }))];
    assert.deepEqual(paged.map((a) => a.id), all.map((a) => a.id).slice(0, 6));
  });

  test('update changes only the given fields and moves updated_at; unknown id → undefined', async () => {
    const a = await repos.accounts.create({ name: 'Before', plan: 'basic' });
    clock += 5;
    const suspended = await repos.accounts.update(a.id, { status: 'suspended' });
    assert.deepEqual(suspended, { ...a, status: 'suspended', updatedAt: clock });
    clock += 5;
    const renamed = await repos.accounts.update(a.id, { name: 'After', plan: 'enterprise', status: 'active' });
    assert.deepEqual(renamed, { ...a, name: 'After', plan: 'enterprise', status: 'active', updatedAt: clock });
    assert.deepEqual(await repos.accounts.get(a.id), renamed);
    assert.equal(await repos.accounts.update('acct_missing', { name: 'x' }), undefined);
  });

  test('balance above 2^53 reads back exactly, as bigint', async () => {
    const a = await repos.accounts.create({ name: 'Rich', plan: 'basic' });
    const big = 2n ** 62n + 12_345n; // ~4.6e9 yuan in nano-yuan: a float would lose the last digits
    // Written behind the repository's back (billing will own writes); the read path is under test.
    await store.db.updateTable('accounts').set({ balance: big.toString() }).where('id', '=', a.id).execute();
    assert.equal((await repos.accounts.get(a.id))?.balance, big);
    assert.equal((await repos.accounts.list()).find((x) => x.id === a.id)?.balance, big);
    assert.equal((await repos.accounts.update(a.id, { name: 'Still rich' }))?.balance, big);
    const raw = await store.db.selectFrom('accounts').select('balance').where('id', '=', a.id).executeTakeFirstOrThrow();
    assert.equal(typeof raw.balance, 'string', 'the driver hands a BIGINT beyond 2^53 over as text, never a float');
  });

  test('changedSince finds accounts written after a time, for other processes to catch up', async () => {
    clock += 1000;
    const since = clock - 1;
    const a = await repos.accounts.create({ name: 'Fresh', plan: 'basic' });
    const ids = (await repos.accounts.changedSince(since)).map((x) => x.id);
    assert.deepEqual(ids, [a.id]);
  });
});
