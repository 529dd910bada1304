import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, SQLITE_FILE } from '../../src/store/db.ts';
import { createRepositories } from '../../src/store/index.ts';
import { BACKSTOP_AUTOCHECKPOINT_PAGES, COMMITS_PER_CHECKPOINT } from '../../src/store/sqlite/checkpointer.ts';

/** Holds placed and settled, as a gateway would: each batch commits WAL frames. */
async function bill(dataDir: string, backgroundCheckpoints: boolean): Promise<{ dbBytes: number; walBytes: number }> {
  const store = await openStore({ dataDir, backgroundCheckpoints });
  try {
    const repos = createRepositories(store);
    const account = await repos.accounts.create({ name: 'wal', plan: 'enterprise' });
    await repos.billing.credit(account.id, 10n ** 15n, 'topup', 'test');
    const dbBefore = statSync(join(dataDir, SQLITE_FILE)).size;
    // Two commits per request: enough for one checkpoint round, too few pages for SQLite's own.
    for (let i = 0; i < COMMITS_PER_CHECKPOINT / 2 + 1; i++) {
      const requestId = `req_wal_${i}`;
      await repos.billing.placeHold({ requestId, accountId: account.id, keyId: 'k', model: 'm', chip: 'c', deploymentId: 'm#0', provider: 'p', amount: 10n, price: null, startedAt: Date.now() });
      await repos.billing.settle({ requestId, promptTokens: 1, completionTokens: 1, cachedTokens: 0, cost: 0n, status: 'ok', httpStatus: 200, latencyMs: 1, ttftMs: null, endedAt: Date.now() });
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { dbBytes: statSync(join(dataDir, SQLITE_FILE)).size - dbBefore, walBytes: statSync(join(dataDir, `${SQLITE_FILE}-wal`)).size };
  } finally {
    await store.close();
  }
}

test('the gateway store checkpoints its WAL on a worker; without it the commits stay in the WAL until the backstop', async () => {
  const dirs = [mkdtempSync(join(tmpdir(), 'maas-ckpt-')), mkdtempSync(join(tmpdir(), 'maas-ckpt-'))];
  try {
    const background = await bill(dirs[0]!, true);
    const inline = await bill(dirs[1]!, false);
    // ~66 commits of a few pages each stay below SQLite's automatic checkpoint (1,000 pages): without
    // the worker every page is still only in the WAL and the database file has not grown…
    assert.ok(inline.walBytes > 0, 'the commits went to the WAL');
    assert.equal(inline.dbBytes, 0, 'no checkpoint ran on the event loop');
    // …with it, the worker has copied the committed pages into the database file meanwhile.
    assert.ok(background.dbBytes > 0, 'the worker moved pages into the database file');
    assert.ok(BACKSTOP_AUTOCHECKPOINT_PAGES > 1000, 'the backstop is above SQLite default');
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
});
