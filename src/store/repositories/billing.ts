import { sql, type Kysely } from 'kysely';
import type {
  BillingStore,
  HoldRequest,
  HoldResult,
  LedgerEntry,
  LedgerKind,
  PriceSnapshot,
  Settlement,
  UsageGroup,
  UsageQuery,
  UsageRecord,
  UsageStatus,
  VerifyReport,
} from '../../billing/types.ts';
import { formatYuan, MAX_BALANCE } from '../../billing/money.ts';
import { StoreConflictError } from '../errors.ts';
import { GroupCommit, kyselyRunner, TurnGroups, type BatchTx, type TransactionRunner } from '../group-commit.ts';
import type { Step } from '../prepared.ts';
import type { Database } from '../schema.ts';
import { SequentialIds } from '../sequential-ids.ts';
import { BillingStatements, type ReleasedHold, type ReservedRow } from './billing-sql.ts';

function priceJson(price: PriceSnapshot | null): string | null {
  if (price === null) return null;
  return JSON.stringify({ input: price.input.toString(), output: price.output.toString(), cached_input: price.cachedInput?.toString() ?? null });
}

function priceFromJson(text: string | null): PriceSnapshot | null {
  if (text === null) return null;
  const p = JSON.parse(text) as { input: string; output: string; cached_input: string | null };
  return { input: BigInt(p.input), output: BigInt(p.output), cachedInput: p.cached_input === null ? null : BigInt(p.cached_input) };
}

/** What one group of settlements moves on one account; `balance` as the group is written. */
interface AccountSums {
  readonly accountId: string;
  held: bigint;
  cost: bigint;
  balance: bigint;
}

/** Indexes of the holds, per account, in submission order. */
function byAccount(holds: readonly HoldRequest[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  holds.forEach((hold, i) => {
    const members = out.get(hold.accountId);
    if (members === undefined) out.set(hold.accountId, [i]);
    else members.push(i);
  });
  return out;
}

/**
 * Holds, settlements, credits and the ledger on Kysely, for SQLite and PostgreSQL alike. Every
 * balance change is a conditional row update plus a ledger entry in the same transaction;
 * holds and settlements are group-committed.
 */
export class KyselyBillingStore implements BillingStore {
  readonly #db: Kysely<Database>;
  readonly #writes: GroupCommit;
  readonly #sql: BillingStatements;
  readonly #ledgerIds = new SequentialIds('le');
  readonly #holds: TurnGroups<HoldRequest, HoldResult>;
  readonly #settlements: TurnGroups<Settlement, { readonly balance: bigint }>;

  /** `runner`: how group-committed batches reach the database (on SQLite: synchronously, sqlite/sync-runner.ts). */
  constructor(db: Kysely<Database>, runner: TransactionRunner = kyselyRunner(db)) {
    this.#db = db;
    this.#writes = new GroupCommit(runner);
    this.#sql = new BillingStatements(db);
    this.#holds = new TurnGroups(this.#writes, (tx, holds) => this.#placeHoldsIn(tx, holds));
    this.#settlements = new TurnGroups(this.#writes, (tx, settlements) => this.#settleAllIn(tx, settlements));
  }

  /** Transactions committed by the group committer (tests assert that batching batches). */
  get commits(): number {
    return this.#writes.commits;
  }

  /** Batches the group committer had to retry one operation per transaction (tests). */
  get fallbacks(): number {
    return this.#writes.fallbacks;
  }

  settled(): Promise<void> {
    return this.#writes.settled();
  }

  /**
   * The holds of one event-loop turn are one operation (store/group-commit.ts, TurnGroups): one
   * conditional UPDATE per account for their sum when it fits, one per hold otherwise.
   */
  placeHold(hold: HoldRequest): Promise<HoldResult> {
    return this.#holds.submit(hold);
  }

  /**
   * The settlements of one event-loop turn are one operation: one DELETE of their holds and one
   * UPDATE per account, instead of two statements each.
   */
  settle(s: Settlement): Promise<{ readonly balance: bigint }> {
    return this.#settlements.submit(s);
  }

  credit(accountId: string, amount: bigint, kind: Exclude<LedgerKind, 'usage'>, reason: string): Promise<{ readonly balance: bigint }> {
    return this.#writes.submit((tx) => this.#creditIn(tx, accountId, amount, kind, reason));
  }

  *#creditIn(tx: BatchTx, accountId: string, amount: bigint, kind: Exclude<LedgerKind, 'usage'>, reason: string): Step<{ readonly balance: bigint }> {
    const updated = (yield* this.#sql.credit.step([amount.toString(), accountId, MAX_BALANCE.toString()]))[0];
    if (updated === undefined) {
      throw new StoreConflictError(`cannot credit ${accountId}: unknown account, or the balance would fall below what is held or above ${formatYuan(MAX_BALANCE)} yuan`);
    }
    this.#deferLedger(tx, accountId, kind, amount, updated.balance, reason, null);
    return { balance: BigInt(updated.balance) };
  }

  /**
   * Reserves the holds of one group, in submission order per account: one conditional UPDATE for
   * an account's sum when it fits (then each of them fits), else one per hold, so that exactly the
   * holds that fit in order are granted. The hold rows go in with the batch's.
   */
  *#placeHoldsIn(tx: BatchTx, holds: readonly HoldRequest[]): Step<HoldResult[]> {
    // Index loops and `[0]` rather than destructuring: this runs for every request, and inside a
    // generator every iterator is garbage the optimiser cannot remove (bench/README.md).
    const results: HoldResult[] = new Array<HoldResult>(holds.length);
    for (const members of byAccount(holds).values()) {
      let total = 0n;
      for (let m = 0; m < members.length; m++) total += holds[members[m]!]!.amount;
      const reserved = (yield* this.#reserveGroup(holds[members[0]!]!.accountId, total, members.length))[0];
      if (reserved === undefined) {
        for (let m = 0; m < members.length; m++) results[members[m]!] = yield* this.#placeHoldIn(tx, holds[members[m]!]!);
        continue;
      }
      // What was available before the group, less each hold in turn.
      let available = BigInt(reserved.available) + total;
      const balance = BigInt(reserved.balance);
      for (let m = 0; m < members.length; m++) {
        const hold = holds[members[m]!]!;
        available -= hold.amount;
        results[members[m]!] = { ok: true, available, balance };
        this.#deferHold(tx, hold);
      }
    }
    return results;
  }

  /** An account's part of a group in one statement; no row: place its holds one by one. */
  *#reserveGroup(accountId: string, total: bigint, size: number): Step<ReservedRow[]> {
    // Holds of nothing (free deployments) reserve nothing, so the account row is read, not
    // written: no page for the WAL on SQLite, no row lock serialising an account's free traffic
    // across gateways on PostgreSQL. Their rows still go in, like every other hold's.
    if (total === 0n) return yield* this.#sql.funds.step([accountId]);
    if (size === 1) return [];
    return yield* this.#sql.reserve.step([total.toString(), accountId]);
  }

  /** One conditional UPDATE reserves the amount (or finds it does not fit). */
  *#placeHoldIn(tx: BatchTx, hold: HoldRequest): Step<HoldResult> {
    const reserved = (yield* this.#sql.reserve.step([hold.amount.toString(), hold.accountId]))[0];
    if (reserved === undefined) {
      const row = (yield* this.#sql.funds.step([hold.accountId]))[0];
      return { ok: false, available: row === undefined ? 0n : BigInt(row.available) };
    }
    this.#deferHold(tx, hold);
    return { ok: true, available: BigInt(reserved.available), balance: BigInt(reserved.balance) };
  }

  #deferHold(tx: BatchTx, hold: HoldRequest): void {
    tx.defer(this.#sql.insertHolds, [
      hold.requestId,
      hold.accountId,
      hold.keyId,
      hold.model,
      hold.chip,
      hold.deploymentId,
      hold.provider,
      hold.amount.toString(),
      priceJson(hold.price),
      hold.startedAt,
    ]);
  }

  /**
   * Releases the holds, debits the costs, writes the ledger entries and usage records, in
   * submission order; returns each settlement's balance after it. Idempotent: a request already
   * settled changes nothing and reports its account's balance.
   */
  *#settleAllIn(tx: BatchTx, group: readonly Settlement[]): Step<Array<{ readonly balance: bigint }>> {
    // Holds placed in this same batch are still deferred: write them before looking for them.
    if (tx.has(this.#sql.insertHolds)) yield* tx.flush();
    const requestIds = new Array<string>(group.length);
    for (let i = 0; i < group.length; i++) requestIds[i] = group[i]!.requestId;
    const releasedRows = yield* this.#sql.release.step(requestIds);
    // null once taken (not deleted: a Map that shrinks reallocates its table).
    const released = new Map<string, ReleasedHold | null>();
    for (let r = 0; r < releasedRows.length; r++) released.set(releasedRows[r]!.request_id, releasedRows[r]!);

    // Each released hold belongs to the first settlement of its request; a second one in the same
    // group finds the request settled. Per account, the sums for one UPDATE.
    const holds = new Array<ReleasedHold | undefined>(group.length);
    const accounts = new Map<string, AccountSums>();
    for (let i = 0; i < group.length; i++) {
      const hold = released.get(group[i]!.requestId);
      if (hold === undefined || hold === null) continue;
      released.set(hold.request_id, null);
      holds[i] = hold;
      let sums = accounts.get(hold.account_id);
      if (sums === undefined) accounts.set(hold.account_id, (sums = { accountId: hold.account_id, held: 0n, cost: 0n, balance: 0n }));
      sums.held += BigInt(hold.amount);
      sums.cost += group[i]!.cost;
    }
    for (const sums of accounts.values()) {
      // Nothing held and nothing to charge (free requests): the balance is read, the row left alone.
      const free = sums.held === 0n && sums.cost === 0n;
      const debited = (free ? yield* this.#sql.funds.step([sums.accountId]) : yield* this.#sql.debit.step([sums.held.toString(), sums.cost.toString(), sums.accountId]))[0];
      if (debited === undefined) throw new StoreConflictError(`cannot settle on ${sums.accountId}: the account is gone`);
      sums.balance = BigInt(debited.balance) + sums.cost; // before the group
    }

    // Each settlement's balance: the account's before the group minus the costs settled up to and including it.
    const results = new Array<{ readonly balance: bigint }>(group.length);
    for (let i = 0; i < group.length; i++) {
      const hold = holds[i];
      if (hold === undefined) continue;
      const sums = accounts.get(hold.account_id)!;
      sums.balance -= group[i]!.cost;
      this.#deferSettled(tx, hold, group[i]!, sums.balance);
      results[i] = { balance: sums.balance };
    }
    for (let i = 0; i < group.length; i++) {
      if (holds[i] !== undefined) continue;
      if (tx.has(this.#sql.insertUsage)) yield* tx.flush();
      const done = (yield* this.#sql.settledBalance.step([group[i]!.requestId]))[0];
      results[i] = { balance: done === undefined ? 0n : BigInt(done.balance) };
    }
    return results;
  }

  #deferSettled(tx: BatchTx, hold: ReleasedHold, s: Settlement, balance: bigint): void {
    if (s.cost > 0n) this.#deferLedger(tx, hold.account_id, 'usage', -s.cost, balance.toString(), null, s.requestId);
    tx.defer(this.#sql.insertUsage, [
      s.requestId,
      hold.account_id,
      hold.key_id,
      hold.model,
      hold.chip,
      hold.deployment_id,
      hold.provider,
      s.promptTokens,
      s.completionTokens,
      s.cachedTokens,
      s.cost.toString(),
      hold.price,
      s.status,
      s.httpStatus,
      s.latencyMs,
      s.ttftMs,
      hold.started_at,
      s.endedAt,
    ]);
  }

  #deferLedger(tx: BatchTx, accountId: string, kind: LedgerKind, amount: bigint, balanceAfter: string, reason: string | null, requestId: string | null): void {
    tx.defer(this.#sql.insertLedger, [this.#ledgerIds.next(), accountId, kind, amount.toString(), balanceAfter, reason, requestId, Date.now()]);
  }

  async ledger(accountId: string, options: { limit?: number } = {}): Promise<LedgerEntry[]> {
    const rows = await this.#db
      .selectFrom('ledger_entries')
      .select(['id', 'account_id', 'kind', 'reason', 'request_id', 'created_at'])
      .select((eb) => [eb.cast<string>('amount', 'text').as('amount'), eb.cast<string>('balance_after', 'text').as('balance_after')])
      .where('account_id', '=', accountId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit ?? 100)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      accountId: r.account_id,
      kind: r.kind as LedgerKind,
      amount: BigInt(r.amount),
      balanceAfter: BigInt(r.balance_after),
      reason: r.reason,
      requestId: r.request_id,
      createdAt: Number(r.created_at),
    }));
  }

  async usage(query: UsageQuery): Promise<UsageGroup[]> {
    const groups = query.groupBy ?? [];
    const columns = groups.map((g) => GROUP_SQL[g]);
    const select = columns.length === 0 ? sql`` : sql`${sql.join(columns)}, `;
    const groupBy = columns.length === 0 ? sql`` : sql`GROUP BY ${sql.join(columns.map((_, i) => sql.raw(String(i + 1))))} ORDER BY ${sql.join(columns.map((_, i) => sql.raw(String(i + 1))))}`;
    const rows = await sql<Record<string, string | number>>`
      SELECT ${select}COUNT(*) AS requests,
        CAST(COALESCE(SUM(prompt_tokens), 0) AS TEXT) AS prompt_tokens,
        CAST(COALESCE(SUM(completion_tokens), 0) AS TEXT) AS completion_tokens,
        CAST(COALESCE(SUM(cached_tokens), 0) AS TEXT) AS cached_tokens,
        CAST(COALESCE(SUM(cost), 0) AS TEXT) AS cost
      FROM usage_records WHERE ${whereUsage(query)} ${groupBy}`.execute(this.#db);
    return rows.rows.map((r) => ({
      group: Object.fromEntries(groups.map((g) => [g, groupValue(g, r[`g_${g}`]!)])),
      requests: Number(r.requests),
      promptTokens: Number(r.prompt_tokens),
      completionTokens: Number(r.completion_tokens),
      cachedTokens: Number(r.cached_tokens),
      cost: BigInt(r.cost ?? 0),
    }));
  }

  async usageRecords(query: UsageQuery & { limit?: number }): Promise<UsageRecord[]> {
    const rows = await sql<Record<string, string | number | null>>`
      SELECT request_id, account_id, key_id, model, chip, deployment_id, provider, prompt_tokens, completion_tokens,
        cached_tokens, CAST(cost AS TEXT) AS cost, price, status, http_status, latency_ms, ttft_ms, started_at, ended_at
      FROM usage_records WHERE ${whereUsage(query)} ORDER BY started_at DESC LIMIT ${query.limit ?? 100}`.execute(this.#db);
    return rows.rows.map((r) => ({
      requestId: String(r.request_id),
      accountId: String(r.account_id),
      keyId: String(r.key_id),
      model: String(r.model),
      chip: String(r.chip),
      deploymentId: String(r.deployment_id),
      provider: String(r.provider),
      promptTokens: Number(r.prompt_tokens),
      completionTokens: Number(r.completion_tokens),
      cachedTokens: Number(r.cached_tokens),
      cost: BigInt(r.cost as string),
      price: priceFromJson(r.price as string | null),
      status: r.status as UsageStatus,
      httpStatus: Number(r.http_status),
      latencyMs: Number(r.latency_ms),
      ttftMs: r.ttft_ms === null ? null : Number(r.ttft_ms),
      startedAt: Number(r.started_at),
      endedAt: Number(r.ended_at),
    }));
  }

  async recoverOpenHolds(now: number, minAgeMs = 0): Promise<number> {
    let query = this.#db.selectFrom('holds').select(['request_id', 'started_at']).select((eb) => eb.cast<string>('amount', 'text').as('amount'));
    // Every open hold means every one, also a hold stamped after `now` (the clock stepped back).
    if (minAgeMs > 0) query = query.where('started_at', '<=', now - minAgeMs);
    const open = await query.execute();
    for (const hold of open) {
      await this.settle({
        requestId: hold.request_id,
        promptTokens: 0,
        completionTokens: 0,
        cachedTokens: 0,
        cost: BigInt(hold.amount),
        status: 'unsettled',
        httpStatus: 0,
        latencyMs: Math.max(0, now - Number(hold.started_at)),
        ttftMs: null,
        endedAt: now,
      });
    }
    return open.length;
  }

  async verify(): Promise<VerifyReport[]> {
    const rows = await sql<{ id: string; balance: string; held: string; ledger_sum: string; open_holds: string }>`
      SELECT a.id, CAST(a.balance AS TEXT) AS balance, CAST(a.held AS TEXT) AS held,
        CAST(COALESCE((SELECT SUM(l.amount) FROM ledger_entries l WHERE l.account_id = a.id), 0) AS TEXT) AS ledger_sum,
        CAST(COALESCE((SELECT SUM(h.amount) FROM holds h WHERE h.account_id = a.id), 0) AS TEXT) AS open_holds
      FROM accounts a ORDER BY a.id`.execute(this.#db);
    return rows.rows.map((r) => {
      const report = { accountId: r.id, balance: BigInt(r.balance), ledgerSum: BigInt(r.ledger_sum), held: BigInt(r.held), openHolds: BigInt(r.open_holds) };
      return { ...report, ok: report.balance === report.ledgerSum && report.held === report.openHolds && report.balance >= 0n };
    });
  }
}

const GROUP_SQL = {
  day: sql`(started_at / 86400000) AS g_day`,
  hour: sql`(started_at / 3600000) AS g_hour`,
  model: sql`model AS g_model`,
  chip: sql`chip AS g_chip`,
  key: sql`key_id AS g_key`,
} as const;

function groupValue(group: keyof typeof GROUP_SQL, value: string | number): string {
  if (group === 'day') return new Date(Number(value) * 86_400_000).toISOString().slice(0, 10);
  if (group === 'hour') return new Date(Number(value) * 3_600_000).toISOString().slice(0, 13) + ':00Z';
  return String(value);
}

function whereUsage(q: UsageQuery) {
  const parts = [sql`1 = 1`];
  if (q.accountId !== undefined) parts.push(sql`account_id = ${q.accountId}`);
  if (q.keyId !== undefined) parts.push(sql`key_id = ${q.keyId}`);
  if (q.model !== undefined) parts.push(sql`model = ${q.model}`);
  if (q.chip !== undefined) parts.push(sql`chip = ${q.chip}`);
  if (q.from !== undefined) parts.push(sql`started_at >= ${q.from}`);
  if (q.to !== undefined) parts.push(sql`started_at < ${q.to}`);
  return sql.join(parts, sql` AND `);
}
