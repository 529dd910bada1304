import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.ts';

type Op<T> = (trx: Transaction<Database>) => Promise<T>;

interface Pending {
  readonly op: Op<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Group commit: operations submitted in the same event-loop turn run in ONE transaction, and
 * each caller's promise settles only after that transaction committed — durability per call,
 * one commit per batch. Batches run one after another. If a batch fails, its operations are
 * retried one transaction each, so one bad operation cannot fail its neighbours.
 */
export class GroupCommit {
  readonly #db: Kysely<Database>;
  #queue: Pending[] = [];
  #running: Promise<void> | undefined;
  #scheduled = false;
  /** Transactions committed (for tests and metrics). */
  commits = 0;

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
        const out: unknown[] = [];
        for (const p of batch) out.push(await p.op(trx));
        return out;
      });
      this.commits++;
      batch.forEach((p, i) => p.resolve(results[i]));
    } catch {
      for (const p of batch) {
        try {
          p.resolve(await this.#db.transaction().execute(p.op));
          this.commits++;
        } catch (err) {
          p.reject(err);
        }
      }
    }
  }
}
