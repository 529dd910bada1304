import type { CompiledQuery, Kysely } from 'kysely';
import type { MultiInsert, Step } from './prepared.ts';
import type { Database } from './schema.ts';

/**
 * The transaction a batch of operations runs in, as the operations see it: rows they hand to
 * `defer` instead of inserting them one by one are written together, one multi-row INSERT per
 * table, when an operation that needs them asks (`flush`) and in any case before the
 * transaction commits. Nothing an operation resolves with is visible to its caller before that
 * commit, so deferring changes how many statements run, not what is durable.
 */
export class BatchTx {
  /** Per table (a batch writes to two or three), the rows deferred to it, in order. */
  readonly #deferred: Array<{ readonly insert: MultiInsert; readonly rows: Array<readonly unknown[]> }> = [];

  /** Queues one row (its values in column order, kept as given) for `insert`. */
  defer(insert: MultiInsert, row: readonly unknown[]): void {
    if (row.length !== insert.width) throw new Error(`a row of ${row.length} values for an insert of ${insert.width} columns`);
    const table = this.#tableOf(insert);
    if (table === undefined) this.#deferred.push({ insert, rows: [row] });
    else table.rows.push(row);
  }

  /** Whether rows for `insert` are waiting (an operation about to read that table flushes first). */
  has(insert: MultiInsert): boolean {
    return this.#tableOf(insert) !== undefined;
  }

  // A loop, not find(): called for every row and settlement, it should not make a closure each time.
  #tableOf(insert: MultiInsert): { readonly insert: MultiInsert; readonly rows: Array<readonly unknown[]> } | undefined {
    for (const table of this.#deferred) if (table.insert === insert) return table;
    return undefined;
  }

  /** Whether any rows are waiting. */
  get pending(): boolean {
    return this.#deferred.length > 0;
  }

  /** Writes every deferred row now, in the order the tables were first deferred to. */
  *flush(): Step<void> {
    while (this.#deferred.length > 0) {
      const { insert, rows } = this.#deferred.shift()!;
      yield* insert.step(rows.length === 1 ? rows[0]! : rows.flat());
    }
  }
}

/** One operation of a batch: yields its queries (see `Step`), returns what its caller gets. */
export type Op<T> = (tx: BatchTx) => Step<T>;

/** Runs a batch of operations in one transaction and resolves with their results after COMMIT. */
export interface TransactionRunner {
  run(ops: ReadonlyArray<Op<unknown>>): Promise<unknown[]>;
  /**
   * The same, synchronously: returns the results after COMMIT, throws if the batch failed, or
   * returns undefined when it cannot run at once (then `run` it). Only runners over a driver that
   * answers synchronously have it (SQLite); it saves the batch every promise.
   */
  runNow?(ops: ReadonlyArray<Op<unknown>>): unknown[] | undefined;
}

type Rows = readonly unknown[];

/** The operations of one batch and the deferred rows, against a query runner that answers at once. */
export function runOpsSync(ops: ReadonlyArray<Op<unknown>>, execute: (query: CompiledQuery) => Rows): unknown[] {
  const tx = new BatchTx();
  const out = ops.map((op) => driveSync(op(tx), execute));
  if (tx.pending) driveSync(tx.flush(), execute);
  return out;
}

function driveSync<T>(step: Step<T>, execute: (query: CompiledQuery) => Rows): T {
  for (let next = step.next(); ; ) {
    if (next.done === true) return next.value;
    next = step.next(execute(next.value));
  }
}

async function driveAsync<T>(step: Step<T>, execute: (query: CompiledQuery) => Promise<Rows>): Promise<T> {
  for (let next = step.next(); ; ) {
    if (next.done === true) return next.value;
    next = step.next(await execute(next.value));
  }
}

/** Batches through Kysely's transactions: the runner for PostgreSQL (a round trip per query anyway). */
export function kyselyRunner(db: Kysely<Database>): TransactionRunner {
  return {
    run: (ops) =>
      db.transaction().execute(async (trx) => {
        const execute = async (query: CompiledQuery): Promise<Rows> => (await trx.executeQuery(query)).rows;
        const tx = new BatchTx();
        const out: unknown[] = [];
        for (const op of ops) out.push(await driveAsync(op(tx), execute));
        await driveAsync(tx.flush(), execute);
        return out;
      }),
  };
}

interface Pending {
  readonly op: Op<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Group commit: operations submitted in the same event-loop turn run in ONE transaction, and
 * each caller learns its outcome only after that transaction committed — durability per call,
 * one commit per batch. Batches run one after another. If a batch fails — an operation threw,
 * or a multi-row INSERT of rows several operations deferred did — its operations are retried
 * one transaction each (with their own deferred rows), so one bad operation or row cannot fail
 * its neighbours.
 *
 * On a synchronous runner (SQLite) a batch runs and reports inside the turn's callback, with no
 * promise of its own: the store's part of a request is then a few small objects, not a chain of
 * promises (bench/README.md, "What a request allocates").
 */
export class GroupCommit {
  readonly #runner: TransactionRunner;
  #queue: Pending[] = [];
  /** A batch still running asynchronously; the next one starts when it is done. */
  #running: Promise<void> | undefined;
  #scheduled = false;
  readonly #onTurn = (): void => this.#drain();
  /** Submitted and not yet reported, and who waits for that to be none (`settled`). */
  #inFlight = 0;
  #onIdle: Array<() => void> = [];
  /** Transactions committed (for tests and metrics). */
  commits = 0;
  /** Batches that failed as a whole and were retried one operation per transaction (for tests). */
  fallbacks = 0;

  constructor(runner: TransactionRunner) {
    this.#runner = runner;
  }

  submit<T>(op: Op<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.enqueue(op as Op<unknown>, resolve as (value: unknown) => void, reject));
  }

  /** `submit` for callers that hold their own callbacks (TurnGroups): no promise per operation. */
  enqueue(op: Op<unknown>, resolve: (value: unknown) => void, reject: (err: unknown) => void): void {
    this.#queue.push({ op, resolve, reject });
    this.#inFlight++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#onTurn);
    }
  }

  /**
   * Resolves once every operation submitted so far has been reported (before closing the store),
   * including operations submitted meanwhile by callers reacting to those outcomes.
   */
  async settled(): Promise<void> {
    do {
      while (this.#inFlight > 0) await new Promise<void>((resolve) => this.#onIdle.push(resolve));
      await new Promise((resolve) => setImmediate(resolve)); // reactions to the last outcomes run first
    } while (this.#inFlight > 0);
  }

  #drain(): void {
    if (this.#running !== undefined) return; // that batch drains the queue when it is done
    this.#scheduled = false;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    if (this.#runNow(batch)) return;
    this.#runInBackground(this.#runLater(batch));
  }

  /** Marks `work` as the running batch; when it is done, what queued meanwhile runs. */
  #runInBackground(work: Promise<void>): void {
    this.#running = work.finally(() => {
      this.#running = undefined;
      if (this.#queue.length > 0) this.#drain();
    });
  }

  /** The batch on the runner's synchronous path, if it has one it can take now. */
  #runNow(batch: Pending[]): boolean {
    if (this.#runner.runNow === undefined) return false;
    let results: unknown[] | undefined;
    try {
      results = this.#runner.runNow(batch.map((p) => p.op));
    } catch {
      this.fallbacks++;
      this.#runInBackground(this.#retryEach(batch));
      return true;
    }
    if (results === undefined) return false;
    this.commits++;
    for (let i = 0; i < batch.length; i++) this.#report(batch[i]!, true, results[i]);
    return true;
  }

  async #runLater(batch: Pending[]): Promise<void> {
    let results: unknown[];
    try {
      results = await this.#runner.run(batch.map((p) => p.op));
    } catch {
      this.fallbacks++;
      return this.#retryEach(batch);
    }
    this.commits++;
    for (let i = 0; i < batch.length; i++) this.#report(batch[i]!, true, results[i]);
  }

  async #retryEach(batch: Pending[]): Promise<void> {
    for (const p of batch) {
      try {
        const [result] = await this.#runner.run([p.op]);
        this.commits++;
        this.#report(p, true, result);
      } catch (err) {
        this.#report(p, false, err);
      }
    }
  }

  #report(p: Pending, ok: boolean, outcome: unknown): void {
    if (ok) p.resolve(outcome);
    else p.reject(outcome);
    if (--this.#inFlight === 0 && this.#onIdle.length > 0) {
      const waiting = this.#onIdle;
      this.#onIdle = [];
      for (const wake of waiting) wake();
    }
  }
}

interface PendingItem<I, R> {
  readonly item: I;
  readonly resolve: (result: R) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Items of one kind submitted in the same event-loop turn, run as ONE operation of the group
 * commit (`run` gets them all, in submission order, and returns one result per item), so that
 * statements can be shared between them. If that operation fails, each item is retried as an
 * operation of its own: one bad item still cannot fail its neighbours.
 */
export class TurnGroups<I, R> {
  readonly #commit: GroupCommit;
  readonly #run: (tx: BatchTx, items: readonly I[]) => Step<R[]>;
  /** The group still taking items: closed when its operation starts. */
  #open: Array<PendingItem<I, R>> | undefined;

  constructor(commit: GroupCommit, run: (tx: BatchTx, items: readonly I[]) => Step<R[]>) {
    this.#commit = commit;
    this.#run = run;
  }

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let group = this.#open;
      if (group === undefined) {
        group = this.#open = [];
        const members = group;
        this.#commit.enqueue(
          (tx) => this.#runGroup(tx, members),
          (results) => members.forEach((p, i) => p.resolve((results as R[])[i]!)),
          () => this.#retryEach(members),
        );
      }
      group.push({ item, resolve, reject });
    });
  }

  #retryEach(members: ReadonlyArray<PendingItem<I, R>>): void {
    for (const p of members) {
      this.#commit.enqueue((tx) => this.#run(tx, [p.item]), (results) => p.resolve((results as R[])[0]!), p.reject);
    }
  }

  *#runGroup(tx: BatchTx, members: ReadonlyArray<PendingItem<I, R>>): Step<R[]> {
    if (this.#open === members) this.#open = undefined; // later items form the next group
    return yield* this.#run(tx, members.map((p) => p.item));
  }
}
