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
  readonly #deferred = new Map<MultiInsert, unknown[]>();

  /** Queues one row (its values in column order) for `insert`. */
  defer(insert: MultiInsert, row: readonly unknown[]): void {
    if (row.length !== insert.width) throw new Error(`a row of ${row.length} values for an insert of ${insert.width} columns`);
    let values = this.#deferred.get(insert);
    if (values === undefined) this.#deferred.set(insert, (values = []));
    for (const value of row) values.push(value);
  }

  /** Whether rows for `insert` are waiting (an operation about to read that table flushes first). */
  has(insert: MultiInsert): boolean {
    return this.#deferred.has(insert);
  }

  /** Writes every deferred row now, in the order the tables were first deferred to. */
  *flush(): Step<void> {
    for (const [insert, values] of this.#deferred) {
      this.#deferred.delete(insert);
      yield* insert.step(values);
    }
  }
}

/** One operation of a batch: yields its queries (see `Step`), returns what its caller gets. */
export type Op<T> = (tx: BatchTx) => Step<T>;

/** Runs a batch of operations in one transaction and resolves with their results after COMMIT. */
export interface TransactionRunner {
  run(ops: ReadonlyArray<Op<unknown>>): Promise<unknown[]>;
}

type Rows = readonly unknown[];

/** The operations of one batch and the deferred rows, against a query runner that answers at once. */
export function runOpsSync(ops: ReadonlyArray<Op<unknown>>, execute: (query: CompiledQuery) => Rows): unknown[] {
  const tx = new BatchTx();
  const out = ops.map((op) => driveSync(op(tx), execute));
  driveSync(tx.flush(), execute);
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
 * each caller's promise settles only after that transaction committed — durability per call,
 * one commit per batch. Batches run one after another. If a batch fails — an operation threw,
 * or a multi-row INSERT of rows several operations deferred did — its operations are retried
 * one transaction each (with their own deferred rows), so one bad operation or row cannot fail
 * its neighbours.
 */
export class GroupCommit {
  readonly #runner: TransactionRunner;
  #queue: Pending[] = [];
  #running: Promise<void> | undefined;
  #scheduled = false;
  /** The newest submission: batches run in order, so when it is done, so is everything before it. */
  #last: Promise<unknown> = Promise.resolve();
  /** Transactions committed (for tests and metrics). */
  commits = 0;
  /** Batches that failed as a whole and were retried one operation per transaction (for tests). */
  fallbacks = 0;

  constructor(runner: TransactionRunner) {
    this.#runner = runner;
  }

  submit<T>(op: Op<T>): Promise<T> {
    const done = new Promise<T>((resolve, reject) => {
      this.#queue.push({ op, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => void this.#drain());
      }
    });
    this.#last = done;
    return done;
  }

  /**
   * Resolves once every operation submitted so far has committed or failed (before closing the
   * store), including operations submitted meanwhile by callers reacting to those outcomes.
   */
  async settled(): Promise<void> {
    for (let last: Promise<unknown> | undefined; last !== this.#last; ) {
      last = this.#last;
      await last.then(
        () => {},
        () => {},
      );
    }
  }

  async #drain(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    this.#running = this.#runBatch(batch);
    try {
      await this.#running;
    } finally {
      this.#running = undefined;
    }
  }

  async #runBatch(batch: Pending[]): Promise<void> {
    try {
      const results = await this.#runner.run(batch.map((p) => p.op));
      this.commits++;
      batch.forEach((p, i) => p.resolve(results[i]));
    } catch {
      this.fallbacks++;
      for (const p of batch) {
        try {
          const [result] = await this.#runner.run([p.op]);
          this.commits++;
          p.resolve(result);
        } catch (err) {
          p.reject(err);
        }
      }
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
        this.#commit.submit((tx) => this.#runGroup(tx, members)).then(
          (results) => members.forEach((p, i) => p.resolve(results[i]!)),
          () => {
            for (const p of members) this.#commit.submit((tx) => this.#run(tx, [p.item])).then(([result]) => p.resolve(result!), p.reject);
          },
        );
      }
      group.push({ item, resolve, reject });
    });
  }

  *#runGroup(tx: BatchTx, members: ReadonlyArray<PendingItem<I, R>>): Step<R[]> {
    if (this.#open === members) this.#open = undefined; // later items form the next group
    return yield* this.#run(tx, members.map((p) => p.item));
  }
}
