import type { Kysely, Transaction } from 'kysely';
import type { MultiInsert } from './prepared.ts';
import type { Database } from './schema.ts';

/**
 * The transaction a batch of operations runs in, plus rows they deferred: an operation may
 * hand rows to `defer` instead of inserting them itself; they are written together, one
 * multi-row INSERT per table, when the operation that needs them asks (`flush`) and in any case
 * before the transaction commits. Nothing an operation resolves with is visible to its caller
 * before that commit, so deferring changes how many statements run, not what is durable.
 */
export class BatchTx {
  readonly trx: Transaction<Database>;
  readonly #deferred = new Map<MultiInsert, unknown[]>();

  constructor(trx: Transaction<Database>) {
    this.trx = trx;
  }

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
  async flush(): Promise<void> {
    for (const [insert, values] of this.#deferred) {
      this.#deferred.delete(insert);
      await insert.insert(this.trx, values);
    }
  }
}

type Op<T> = (tx: BatchTx) => Promise<T>;

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
  readonly #db: Kysely<Database>;
  #queue: Pending[] = [];
  #running: Promise<void> | undefined;
  #scheduled = false;
  /** Transactions committed (for tests and metrics). */
  commits = 0;
  /** Batches that failed as a whole and were retried one operation per transaction (for tests). */
  fallbacks = 0;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  submit<T>(op: Op<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ op, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => void this.#drain());
      }
    });
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
      const results = await this.#db.transaction().execute(async (trx) => {
        const tx = new BatchTx(trx);
        const out: unknown[] = [];
        for (const p of batch) out.push(await p.op(tx));
        await tx.flush();
        return out;
      });
      this.commits++;
      batch.forEach((p, i) => p.resolve(results[i]));
    } catch {
      this.fallbacks++;
      for (const p of batch) {
        try {
          p.resolve(await this.#db.transaction().execute(async (trx) => runAlone(trx, p.op)));
          this.commits++;
        } catch (err) {
          p.reject(err);
        }
      }
    }
  }
}

async function runAlone<T>(trx: Transaction<Database>, op: Op<T>): Promise<T> {
  const tx = new BatchTx(trx);
  const result = await op(tx);
  await tx.flush();
  return result;
}
