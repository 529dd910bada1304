import { Worker } from 'node:worker_threads';

/**
 * How many group commits between two checkpoints: about SQLite's own rhythm (1,000 WAL pages at a
 * few pages per commit). Checkpointing more often costs more syncs, and a sync of the WAL makes a
 * commit that appends to its last page wait for the disk.
 */
export const COMMITS_PER_CHECKPOINT = 64;
/**
 * The gateway's own automatic checkpoint stays as a backstop, at 4× SQLite's default: it then
 * finds almost every frame already copied (and synced) by the worker and has little left to do.
 */
export const BACKSTOP_AUTOCHECKPOINT_PAGES = 4000;

/**
 * WAL checkpoints on a thread of their own. SQLite checkpoints automatically inside the COMMIT
 * that crosses 1,000 WAL pages, and with synchronous=NORMAL that checkpoint syncs the database
 * file: a stall of several milliseconds on the event loop every few dozen commits, felt by every
 * request and stream in flight (bench/README.md). A worker with its own connection runs a passive
 * checkpoint — it never blocks writers — every COMMITS_PER_CHECKPOINT commits the store reports
 * (`committed()`), so the copying and the fsync happen off the loop.
 * Durability is unchanged: commits are durable in the WAL as before; a checkpoint only moves
 * them into the main file.
 */
export class BackgroundCheckpointer {
  readonly #worker: Worker;
  #commits = 0;

  constructor(file: string) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file } });
    // A checkpoint that fails (disk full, the file gone) leaves the backstop to try again; the
    // worker must never take the process down with it.
    this.#worker.on('error', () => undefined);
    this.#worker.unref();
  }

  /** Called after each commit of the store's group commit. */
  committed(): void {
    if (++this.#commits % COMMITS_PER_CHECKPOINT === 0) this.#worker.postMessage(0);
  }

  async stop(): Promise<void> {
    await this.#worker.terminate();
  }
}

// Linux gives each thread its own nice value: at 19 the checkpoint's page copying yields the core
// to the event loop whenever both want it (the gateway may be pinned to a single core).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  require('node:os').setPriority(tid, 19);
} catch { /* not Linux, or not allowed: checkpoints still run, at normal priority */ }
const db = new DatabaseSync(workerData.file, { timeout: 1000 });
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
parentPort.on('message', () => {
  try { checkpoint.get(); } catch { /* busy or failing: the next round, or the backstop, retries */ }
});
`;
