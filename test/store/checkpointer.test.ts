import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
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

/** nice and scheduling policy (0 normal, 5 SCHED_IDLE) of each thread of this process. */
function threadSchedules(): Array<{ nice: number; policy: number }> {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { nice: Number(fields[16]), policy: Number(fields[38]) };
  });
}

const hasChrt = (() => {
  try {
    execFileSync('chrt', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('the checkpoint thread yields the core to the event loop: SCHED_IDLE where chrt exists, nice 19 otherwise', { skip: process.platform !== 'linux' }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'maas-ckpt-'));
  const store = await openStore({ dataDir, backgroundCheckpoints: true });
  try {
    const wanted = hasChrt ? (t: { nice: number; policy: number }) => t.policy === 5 : (t: { nice: number }) => t.nice === 19;
    let found = false;
    for (let i = 0; i < 50 && !found; i++) {
      found = threadSchedules().some(wanted);
      if (!found) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(found, `no thread at ${hasChrt ? 'SCHED_IDLE' : 'nice 19'}: ${JSON.stringify(threadSchedules())}`);
    assert.ok(threadSchedules().some((t) => t.policy === 0 && t.nice === 0), 'the event loop keeps its normal priority');
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
