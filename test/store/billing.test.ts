import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { HoldRequest } from '../../src/billing/types.ts';
import type { Store } from '../../src/store/db.ts';
import { StoreConflictError } from '../../src/store/errors.ts';
import { createRepositories, type Repositories } from '../../src/store/index.ts';
import { forEachBackend, type Backend } from './backends.ts';

let seq = 0;
function hold(accountId: string, amount: bigint, extra: Partial<HoldRequest> = {}): HoldRequest {
  return {
    requestId: `req_${process.pid}_${++seq}`,
    accountId,
    keyId: 'key_x',
    model: 'm',
    chip: 'nvidia',
    deploymentId: 'm#0',
    provider: 'sim',
    amount,
    price: { input: 4_000_000n, output: 16_000_000n, cachedInput: null },
    startedAt: Date.now(),
    ...extra,
  };
}

function settlement(requestId: string, cost: bigint, status: 'ok' | 'unsettled' = 'ok') {
  return { requestId, promptTokens: 10, completionTokens: 20, cachedTokens: 0, cost, status, httpStatus: 200, latencyMs: 5, ttftMs: null, endedAt: Date.now() };
}

/** The suite's store, opened before and closed after it, and accounts funded through the ledger. */
function billingFixture(backend: () => Backend) {
  const fx = {
    store: undefined as unknown as Store,
    repos: undefined as unknown as Repositories,
    async funded(balance: bigint): Promise<string> {
      const account = await fx.repos.accounts.create({ name: 'payer', plan: 'basic' });
      if (balance > 0n) await fx.repos.billing.credit(account.id, balance, 'topup', 'test');
      return account.id;
    },
  };
  before(async () => {
    fx.store = await backend().open();
    fx.repos = createRepositories(fx.store);
  });
  after(async () => {
    await fx.store?.close();
  });
  return fx;
}

forEachBackend('billing', (backend) => {
  const fx = billingFixture(backend);
  const { funded } = fx;

  test('credits and debits go through the ledger; verify proves balance = sum of entries', async () => {
    const id = await funded(1_000n);
    await fx.repos.billing.credit(id, -100n, 'adjustment', 'correction');
    const h = hold(id, 300n);
    assert.equal((await fx.repos.billing.placeHold(h)).ok, true);
    assert.equal((await fx.repos.billing.settle(settlement(h.requestId, 250n))).balance, 650n);
    const entries = await fx.repos.billing.ledger(id);
    assert.deepEqual(entries.map((e) => [e.kind, e.amount, e.balanceAfter]), [
      ['usage', -250n, 650n],
      ['adjustment', -100n, 900n],
      ['topup', 1_000n, 1_000n],
    ]);
    const report = (await fx.repos.billing.verify()).find((r) => r.accountId === id)!;
    assert.deepEqual(report, { accountId: id, balance: 650n, ledgerSum: 650n, held: 0n, openHolds: 0n, ok: true });
    await assert.rejects(fx.repos.billing.credit(id, -10_000n, 'adjustment', 'too much'), StoreConflictError);
  });

  test('a hold fits exactly on the boundary of balance − held, and not one nano-yuan more', async () => {
    const id = await funded(1_000n);
    assert.equal((await fx.repos.billing.placeHold(hold(id, 600n))).ok, true);
    const over = await fx.repos.billing.placeHold(hold(id, 401n));
    assert.deepEqual(over, { ok: false, available: 400n });
    assert.deepEqual(await fx.repos.billing.placeHold(hold(id, 400n)), { ok: true, available: 0n, balance: 1_000n }, 'a hold reserves; the balance is unchanged');
  });

  test('holds of one turn: granted together when their sum fits, in submission order one by one when it does not', async () => {
    const fits = await funded(1_000n);
    const together = await Promise.all([100n, 200n, 300n].map((amount) => fx.repos.billing.placeHold(hold(fits, amount))));
    assert.deepEqual(together, [
      { ok: true, available: 900n, balance: 1_000n },
      { ok: true, available: 700n, balance: 1_000n },
      { ok: true, available: 400n, balance: 1_000n },
    ]);
    const tight = await funded(1_000n);
    const inOrder = await Promise.all([300n, 500n, 400n, 100n].map((amount) => fx.repos.billing.placeHold(hold(tight, amount))));
    assert.deepEqual(inOrder, [
      { ok: true, available: 700n, balance: 1_000n },
      { ok: true, available: 200n, balance: 1_000n },
      { ok: false, available: 200n },
      { ok: true, available: 100n, balance: 1_000n },
    ]);
    const reports = (await fx.repos.billing.verify()).filter((r) => r.accountId === fits || r.accountId === tight);
    assert.deepEqual(reports.map((r) => [r.held, r.ok]).sort(), [[600n, true], [900n, true]].sort());
  });

  test('50 racing holds against a balance for 20: exactly 20 succeed, and everything verifies after settling', async () => {
    const id = await funded(2_000n);
    const holds = Array.from({ length: 50 }, () => hold(id, 100n));
    const results = await Promise.all(holds.map((h) => fx.repos.billing.placeHold(h)));
    assert.equal(results.filter((r) => r.ok).length, 20);
    await Promise.all(holds.filter((_, i) => results[i]!.ok).map((h) => fx.repos.billing.settle(settlement(h.requestId, 60n))));
    const report = (await fx.repos.billing.verify()).find((r) => r.accountId === id)!;
    assert.equal(report.ok, true);
    assert.equal(report.balance, 2_000n - 20n * 60n);
  });

  test('two stores on one database (two processes) cannot overdraw together', { skip: backend().dialect !== 'postgres' && 'SQLite has one writer' }, async () => {
    const id = await funded(1_000n);
    const other = await backend().open();
    try {
      const second = createRepositories(other);
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? fx.repos : second).billing.placeHold(hold(id, 100n))),
      );
      assert.equal(results.filter((r) => r.ok).length, 10);
    } finally {
      await other.close();
    }
  });

  test('settle is idempotent; a free request leaves a usage record and no ledger entry', async () => {
    const id = await funded(500n);
    const h = hold(id, 0n, { price: null });
    await fx.repos.billing.placeHold(h);
    await fx.repos.billing.settle(settlement(h.requestId, 0n));
    await fx.repos.billing.settle(settlement(h.requestId, 0n));
    const records = await fx.repos.billing.usageRecords({ accountId: id });
    assert.equal(records.length, 1);
    assert.equal(records[0]!.cost, 0n);
    assert.equal(records[0]!.price, null);
    assert.equal((await fx.repos.billing.ledger(id)).filter((e) => e.kind === 'usage').length, 0);
  });

  test('free requests read the account and never write it: holds and settlements of nothing leave its row alone', async () => {
    const id = await funded(500n);
    const db = fx.store.db;
    const counting =
      backend().dialect === 'sqlite'
        ? ['CREATE TRIGGER count_account_writes AFTER UPDATE ON accounts BEGIN INSERT INTO account_writes VALUES (1); END']
        : [
            'CREATE FUNCTION count_account_writes() RETURNS trigger AS $$ BEGIN INSERT INTO account_writes VALUES (1); RETURN NEW; END $$ LANGUAGE plpgsql',
            'CREATE TRIGGER count_account_writes AFTER UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION count_account_writes()',
          ];
    await sql.raw('CREATE TABLE account_writes (n INTEGER)').execute(db);
    for (const ddl of counting) await sql.raw(ddl).execute(db);
    const writes = async (): Promise<number> => Number((await sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM account_writes`.execute(db)).rows[0]!.n);
    try {
      const free = [hold(id, 0n, { price: null }), hold(id, 0n, { price: null })];
      const placed = await Promise.all(free.map((h) => fx.repos.billing.placeHold(h)));
      assert.deepEqual(placed, [
        { ok: true, available: 500n, balance: 500n },
        { ok: true, available: 500n, balance: 500n },
      ]);
      const settled = await Promise.all(free.map((h) => fx.repos.billing.settle(settlement(h.requestId, 0n))));
      assert.deepEqual(settled, [{ balance: 500n }, { balance: 500n }]);
      assert.equal((await fx.repos.billing.usageRecords({ accountId: id })).length, 2, 'both are on record');
      assert.equal(await writes(), 0, 'the account row was never written');
      assert.deepEqual(await fx.repos.billing.placeHold(hold('acct_missing', 0n, { price: null })), { ok: false, available: 0n });

      // The control: a paid request does write the row, so the trigger counts.
      const paid = hold(id, 100n);
      await fx.repos.billing.placeHold(paid);
      assert.deepEqual(await fx.repos.billing.settle(settlement(paid.requestId, 40n)), { balance: 460n });
      assert.equal(await writes(), 2);
    } finally {
      await sql.raw('DROP TRIGGER count_account_writes' + (backend().dialect === 'sqlite' ? '' : ' ON accounts')).execute(db);
      if (backend().dialect !== 'sqlite') await sql.raw('DROP FUNCTION count_account_writes()').execute(db);
      await sql.raw('DROP TABLE account_writes').execute(db);
    }
  });

  test('holds left by a crash are settled at their held amount as unsettled when the store reopens', async () => {
    const id = await funded(1_000n);
    const crashed = await backend().open();
    const h = hold(id, 321n);
    await createRepositories(crashed).billing.placeHold(h);
    await crashed.close();
    const recovered = await fx.repos.billing.recoverOpenHolds(Date.now());
    assert.ok(recovered >= 1);
    const record = (await fx.repos.billing.usageRecords({ accountId: id })).find((r) => r.requestId === h.requestId)!;
    assert.equal(record.status, 'unsettled');
    assert.equal(record.cost, 321n);
    assert.deepEqual(record.price, h.price);
    assert.equal((await fx.repos.billing.verify()).find((r) => r.accountId === id)?.ok, true);
  });

  test("with a minimum age, recovery leaves younger holds — other gateways' requests in flight — open", async () => {
    const id = await funded(1_000n);
    const now = Date.now();
    const stale = hold(id, 100n, { startedAt: now - 20 * 60_000 });
    const live = hold(id, 200n, { startedAt: now - 1_000 });
    await fx.repos.billing.placeHold(stale);
    await fx.repos.billing.placeHold(live);
    assert.equal(await fx.repos.billing.recoverOpenHolds(now, 11 * 60_000), 1);
    const records = await fx.repos.billing.usageRecords({ accountId: id });
    assert.deepEqual(records.map((r) => [r.requestId, r.status]), [[stale.requestId, 'unsettled']]);
    // The live request settles normally afterwards, at its real cost.
    const { balance } = await fx.repos.billing.settle(settlement(live.requestId, 7n));
    assert.equal(balance, 1_000n - 100n - 7n);
    assert.equal((await fx.repos.billing.verify()).find((r) => r.accountId === id)?.ok, true);
  });

  test('usage aggregates exactly by model and chip', async () => {
    const id = await funded(10n ** 12n);
    for (const [chip, cost] of [['nvidia', 7n], ['nvidia', 8n], ['ascend', 5n]] as const) {
      const h = hold(id, 100n, { chip });
      await fx.repos.billing.placeHold(h);
      await fx.repos.billing.settle(settlement(h.requestId, cost));
    }
    const groups = await fx.repos.billing.usage({ accountId: id, groupBy: ['chip', 'day'] });
    const byChip = Object.fromEntries(groups.map((g) => [g.group.chip, g]));
    assert.equal(byChip.nvidia?.cost, 15n);
    assert.equal(byChip.nvidia?.requests, 2);
    assert.equal(byChip.ascend?.promptTokens, 10);
    assert.match(byChip.ascend!.group.day!, /^\d{4}-\d{2}-\d{2}$/);
    const [total] = await fx.repos.billing.usage({ accountId: id });
    assert.equal(total?.cost, 20n);
  });

  test('group commit: holds issued in one turn share a transaction, and each resolves after commit', async () => {
    const id = await funded(10n ** 12n);
    const before = fx.repos.billing.commits;
    const holds = Array.from({ length: 100 }, () => hold(id, 1n));
    await Promise.all(holds.map((h) => fx.repos.billing.placeHold(h)));
    const commits = fx.repos.billing.commits - before;
    assert.ok(commits >= 1 && commits <= 3, `100 holds took ${commits} transactions`);
    const rows = await fx.store.db.selectFrom('holds').select('request_id').where('account_id', '=', id).execute();
    assert.equal(rows.length, 100, 'every hold is in the store once its promise resolved');
  });

  test('settled() waits for every write submitted so far, and for one submitted in reaction to them', async () => {
    const id = await funded(10n ** 12n);
    const holds = Array.from({ length: 20 }, () => hold(id, 1n));
    const reaction = hold(id, 1n);
    let reacted = false;
    for (const h of holds) void fx.repos.billing.placeHold(h);
    void fx.repos.billing.placeHold(holds[0]!).then(
      () => {},
      () => {
        // The duplicate of holds[0] is refused; its caller reacts with another write.
        reacted = true;
        void fx.repos.billing.placeHold(reaction);
      },
    );
    await fx.repos.billing.settled();
    assert.ok(reacted, 'the duplicate hold was refused before settled() resolved');
    const rows = await fx.store.db.selectFrom('holds').select('request_id').where('account_id', '=', id).execute();
    assert.deepEqual(new Set(rows.map((r) => r.request_id)), new Set([...holds, reaction].map((h) => h.requestId)));
  });
});

forEachBackend('billing batches', (backend) => {
  const fx = billingFixture(backend);
  const { funded } = fx;

  const openHolds = async (id: string) => (await fx.store.db.selectFrom('holds').select('request_id').where('account_id', '=', id).execute()).map((r) => r.request_id);

  test('a multi-row INSERT of holds that fails on one row does not lose the others: only that hold is refused', async () => {
    const id = await funded(10_000n);
    const taken = hold(id, 100n);
    assert.equal((await fx.repos.billing.placeHold(taken)).ok, true);
    const fallbacks = fx.repos.billing.fallbacks;
    // One turn: 20 new holds and one that reuses the open hold's request id (its row cannot be inserted).
    const fresh = Array.from({ length: 20 }, () => hold(id, 10n));
    const results = await Promise.allSettled([...fresh.slice(0, 10), { ...taken, amount: 7n }, ...fresh.slice(10)].map((h) => fx.repos.billing.placeHold(h)));
    assert.ok(fx.repos.billing.fallbacks > fallbacks, 'the batch failed as a whole and was retried per hold');
    assert.equal(results[10]!.status, 'rejected');
    assert.equal(results.filter((r) => r.status === 'fulfilled' && r.value.ok).length, 20);
    assert.deepEqual((await openHolds(id)).sort(), [taken.requestId, ...fresh.map((h) => h.requestId)].sort());
    const report = (await fx.repos.billing.verify()).find((r) => r.accountId === id)!;
    assert.equal(report.held, 100n + 20n * 10n, 'the refused hold reserved nothing');
    assert.equal(report.ok, true);
  });

  test('a multi-row INSERT of usage records that fails on one row does not lose the others: only that settlement fails, its hold stays open', async () => {
    const id = await funded(10_000n);
    // A request id that already has a usage record, held again: its settlement cannot insert its record.
    const reused = hold(id, 50n);
    await fx.repos.billing.placeHold(reused);
    await fx.repos.billing.settle(settlement(reused.requestId, 5n));
    assert.equal((await fx.repos.billing.placeHold(reused)).ok, true);
    const others = Array.from({ length: 9 }, () => hold(id, 50n));
    await Promise.all(others.map((h) => fx.repos.billing.placeHold(h)));
    const fallbacks = fx.repos.billing.fallbacks;
    const settled = await Promise.allSettled([...others.slice(0, 4), reused, ...others.slice(4)].map((h) => fx.repos.billing.settle(settlement(h.requestId, 20n))));
    // The turn's settlements ran as one operation, failed, and were retried one by one.
    assert.ok(fx.repos.billing.fallbacks > fallbacks);
    assert.equal(settled[4]!.status, 'rejected');
    assert.equal(settled.filter((r) => r.status === 'fulfilled').length, 9);
    const records = await fx.repos.billing.usageRecords({ accountId: id });
    assert.equal(records.length, 10, 'nine settlements and the first one of the reused id');
    assert.deepEqual(await openHolds(id), [reused.requestId], 'the failed settlement left its hold for a later settlement or recovery');
    const report = (await fx.repos.billing.verify()).find((r) => r.accountId === id)!;
    assert.deepEqual([report.balance, report.held, report.ok], [10_000n - 5n - 9n * 20n, 50n, true]);
    assert.equal((await fx.repos.billing.ledger(id)).filter((e) => e.kind === 'usage').length, 10);
  });

  test('150 settlements in one turn (chunks of 64, 16, 4 and 1 rows): every record and entry written, balances after in order', async () => {
    const id = await funded(1_000_000n);
    const holds = Array.from({ length: 150 }, () => hold(id, 1_000n));
    await Promise.all(holds.map((h) => fx.repos.billing.placeHold(h)));
    const commits = fx.repos.billing.commits;
    const balances = await Promise.all(holds.map((h, i) => fx.repos.billing.settle(settlement(h.requestId, BigInt(i + 1)))));
    assert.equal(fx.repos.billing.commits - commits, 1, 'one transaction');
    // Settled in submission order: each balance is the one before minus this request's cost.
    let expected = 1_000_000n;
    balances.forEach((b, i) => assert.equal(b.balance, (expected -= BigInt(i + 1))));
    assert.equal((await fx.repos.billing.usageRecords({ accountId: id, limit: 1000 })).length, 150);
    const entries = await fx.repos.billing.ledger(id, { limit: 1000 });
    assert.equal(entries.length, 151);
    assert.deepEqual(
      entries.filter((e) => e.kind === 'usage').map((e) => e.balanceAfter).sort((a, b) => (a < b ? -1 : 1)),
      balances.map((b) => b.balance).sort((a, b) => (a < b ? -1 : 1)),
    );
    assert.equal(new Set(entries.map((e) => e.id)).size, 151, 'ledger ids are unique');
    assert.equal((await fx.repos.billing.verify()).find((r) => r.accountId === id)?.ok, true);
  });

  test('settlements of one turn for two accounts, interleaved with a credit: each account charged in order, the ledger\'s balances agree', async () => {
    const a = await funded(1_000n);
    const b = await funded(5_000n);
    const holdsA = [hold(a, 100n), hold(a, 100n), hold(a, 100n)];
    const holdsB = [hold(b, 500n), hold(b, 500n)];
    await Promise.all([...holdsA, ...holdsB].map((h) => fx.repos.billing.placeHold(h)));
    const commits = fx.repos.billing.commits;
    const [a1, b1, a2, credit, b2, a3] = await Promise.all([
      fx.repos.billing.settle(settlement(holdsA[0]!.requestId, 10n)),
      fx.repos.billing.settle(settlement(holdsB[0]!.requestId, 300n)),
      fx.repos.billing.settle(settlement(holdsA[1]!.requestId, 20n)),
      fx.repos.billing.credit(a, 1_000n, 'topup', 'mid-turn'),
      fx.repos.billing.settle(settlement(holdsB[1]!.requestId, 400n)),
      fx.repos.billing.settle(settlement(holdsA[2]!.requestId, 30n)),
    ]);
    assert.equal(fx.repos.billing.commits - commits, 1, 'one transaction');
    // The turn's settlements run together where the first was submitted, before the credit.
    assert.deepEqual([a1, a2, a3].map((r) => r.balance), [990n, 970n, 940n]);
    assert.deepEqual([b1, b2].map((r) => r.balance), [4_700n, 4_300n]);
    assert.equal(credit.balance, 1_940n);
    const usageA = (await fx.repos.billing.ledger(a)).filter((e) => e.kind === 'usage').map((e) => e.balanceAfter).sort();
    assert.deepEqual(usageA, [940n, 970n, 990n]);
    const reports = (await fx.repos.billing.verify()).filter((r) => r.accountId === a || r.accountId === b);
    assert.deepEqual(reports.map((r) => [r.balance, r.held, r.ok]).sort(), [[1_940n, 0n, true], [4_300n, 0n, true]].sort());
  });

  test('a hold and its settlement submitted in the same turn, and a settlement submitted twice, still settle exactly once', async () => {
    const id = await funded(1_000n);
    const h = hold(id, 300n);
    const [held, first, second] = await Promise.all([
      fx.repos.billing.placeHold(h),
      fx.repos.billing.settle(settlement(h.requestId, 120n)),
      fx.repos.billing.settle(settlement(h.requestId, 120n)),
    ]);
    assert.equal(held.ok, true);
    assert.equal(first.balance, 880n);
    assert.equal(second.balance, 880n);
    assert.deepEqual(await openHolds(id), []);
    assert.equal((await fx.repos.billing.usageRecords({ accountId: id })).length, 1);
    assert.equal((await fx.repos.billing.verify()).find((r) => r.accountId === id)?.ok, true);
  });

  test('money beyond 2^53 nano-yuan stays exact through holds, settlements and the ledger', async () => {
    const big = 2n ** 59n + 12_345n; // beyond 2^53, below the maximum balance (10^18)
    const id = await funded(big);
    const h = hold(id, 2n ** 55n + 1n);
    assert.deepEqual(await fx.repos.billing.placeHold(h), { ok: true, available: big - (2n ** 55n + 1n), balance: big });
    const cost = 2n ** 54n + 3n;
    assert.equal((await fx.repos.billing.settle(settlement(h.requestId, cost))).balance, big - cost);
    const [entry] = await fx.repos.billing.ledger(id, { limit: 1 });
    assert.deepEqual([entry!.amount, entry!.balanceAfter], [-cost, big - cost]);
    assert.equal((await fx.repos.billing.usageRecords({ accountId: id }))[0]!.cost, cost);
    assert.equal((await fx.repos.billing.verify()).find((r) => r.accountId === id)?.ok, true);
  });
});
