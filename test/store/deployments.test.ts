import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/db.ts';
import { StoreConflictError, StoreNotFoundError } from '../../src/store/errors.ts';
import { newDeploymentId } from '../../src/store/ids.ts';
import { createRepositories, type Repositories } from '../../src/store/index.ts';
import type { Account } from '../../src/store/repositories/accounts.ts';
import type { NewDeployment } from '../../src/store/repositories/deployments.ts';
import { forEachBackend } from './backends.ts';

forEachBackend('deployments', (backend) => {
  let store: Store;
  let repos: Repositories;
  let owner: Account;
  let other: Account;
  // A clock the test moves by hand: changedSince windows are then exact.
  let clock = 1_700_000_000_000;

  const spec = (accountId: string, extra: Partial<NewDeployment> = {}): NewDeployment => ({
    id: newDeploymentId(),
    accountId,
    model: 'my-finetune',
    baseUrl: 'http://10.0.0.5:8000/v1',
    upstreamModel: 'llama-ft',
    chip: 'nvidia',
    apiKeySealed: null,
    ...extra,
  });

  before(async () => {
    store = await backend().open();
    repos = createRepositories(store, { now: () => clock });
    owner = await repos.accounts.create({ name: 'Owner', plan: 'basic' });
    other = await repos.accounts.create({ name: 'Other', plan: 'basic' });
  });
  after(async () => {
    await store?.close();
  });

  test('ids are mif- and 16 lowercase letters and digits', () => {
    const ids = new Set(Array.from({ length: 200 }, newDeploymentId));
    assert.equal(ids.size, 200);
    for (const id of ids) assert.match(id, /^mif-[0-9a-z]{16}$/);
  });

  test('create and get round-trip every field; reads never carry the sealed key', async () => {
    clock += 1000;
    const input = spec(owner.id, { apiKeySealed: 'v1.abcdef01.SEALED' });
    const created = await repos.deployments.create(input);
    const expected = {
      id: input.id,
      accountId: owner.id,
      model: 'my-finetune',
      baseUrl: 'http://10.0.0.5:8000/v1',
      upstreamModel: 'llama-ft',
      chip: 'nvidia',
      hasApiKey: true,
      createdAt: clock,
      updatedAt: clock,
      deletedAt: null,
    };
    assert.deepEqual(created, expected);
    assert.deepEqual(await repos.deployments.get(input.id), expected);
    assert.deepEqual(await repos.deployments.get(input.id, { accountId: owner.id }), expected);
    const listed = await repos.deployments.list({ accountId: owner.id });
    assert.ok(!JSON.stringify(listed).includes('SEALED'), 'list does not read the sealed key');
    assert.ok(!JSON.stringify(await repos.deployments.get(input.id)).includes('SEALED'));
    const withoutKey = await repos.deployments.create(spec(owner.id));
    assert.equal(withoutKey.hasApiKey, false);
    assert.equal((await repos.deployments.get(withoutKey.id))?.hasApiKey, false);
  });

  test('another account sees nothing: get and delete answer undefined, list leaves it out', async () => {
    const mine = await repos.deployments.create(spec(owner.id));
    assert.equal(await repos.deployments.get(mine.id, { accountId: other.id }), undefined);
    assert.equal(await repos.deployments.softDelete(mine.id, { accountId: other.id }), undefined);
    assert.ok(!(await repos.deployments.list({ accountId: other.id })).some((d) => d.id === mine.id));
    assert.ok((await repos.deployments.list()).some((d) => d.id === mine.id), 'the unscoped list has everyone’s');
    assert.ok(await repos.deployments.get(mine.id), 'still live');
  });

  test('list is oldest first and counts only live deployments', async () => {
    const account = await repos.accounts.create({ name: 'Lister', plan: 'basic' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      clock += 1000;
      ids.push((await repos.deployments.create(spec(account.id))).id);
    }
    assert.deepEqual((await repos.deployments.list({ accountId: account.id })).map((d) => d.id), ids);
    assert.equal(await repos.deployments.countLive(account.id), 3);
    await repos.deployments.softDelete(ids[1]!);
    assert.deepEqual((await repos.deployments.list({ accountId: account.id })).map((d) => d.id), [ids[0], ids[2]]);
    assert.equal(await repos.deployments.countLive(account.id), 2);
  });

  test('soft delete: gone from get and list, once; the row stays for other processes to see', async () => {
    clock += 1000;
    const d = await repos.deployments.create(spec(owner.id, { apiKeySealed: 'v1.abcdef01.X' }));
    clock += 1000;
    const deleted = await repos.deployments.softDelete(d.id, { accountId: owner.id });
    assert.equal(deleted?.deletedAt, clock);
    assert.equal(deleted?.updatedAt, clock);
    assert.equal(await repos.deployments.get(d.id), undefined);
    assert.equal(await repos.deployments.softDelete(d.id), undefined, 'deleting again finds nothing live');
    assert.ok(!(await repos.deployments.listLiveSealed()).some((x) => x.id === d.id));
    const changed = await repos.deployments.changedSince(clock - 1);
    const seen = changed.find((x) => x.id === d.id);
    assert.equal(seen?.deletedAt, clock, 'changedSince reports the deletion');
  });

  test('listLiveSealed and changedSince carry the sealed key for the router; changedSince is a strict window', async () => {
    clock += 1000;
    const windowStart = clock;
    clock += 1;
    const d = await repos.deployments.create(spec(owner.id, { apiKeySealed: 'v1.abcdef01.ROUTER' }));
    assert.equal((await repos.deployments.listLiveSealed()).find((x) => x.id === d.id)?.apiKeySealed, 'v1.abcdef01.ROUTER');
    assert.deepEqual((await repos.deployments.changedSince(windowStart)).map((x) => x.id), [d.id]);
    assert.deepEqual(await repos.deployments.changedSince(clock), []);
  });

  test('an unknown account is a StoreNotFoundError; a reused id a StoreConflictError', async () => {
    await assert.rejects(repos.deployments.create(spec('acct_missing')), (err: unknown) => err instanceof StoreNotFoundError && err.entity === 'account');
    const d = await repos.deployments.create(spec(owner.id));
    await assert.rejects(repos.deployments.create(spec(owner.id, { id: d.id })), StoreConflictError);
  });
});
