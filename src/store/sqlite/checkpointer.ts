import { Worker } from 'node:worker_threads';

/** How often the worker copies committed WAL frames into the database file. */
const CHECKPOINT_INTERVAL_MS = 50;
/**
 * The gateway's own automatic checkpoint stays as a backstop, at 4× SQLite's default: it then
 * finds almost every frame already copied (and synced) by the worker and has little left to do.
 */
export const BACKSTOP_AUTOCHECKPOINT_PAGES = 4000;

/**
 * WAL checkpoints on a thread of their own. SQLite checkpoints automatically inside the COMMIT
 * that crosses 1,000 WAL pages, and with synchronous=NORMAL that checkpoint syncs the database
 * file: a stall of several milliseconds on the event loop every few dozen commits, felt by every
 * request and stream in flight (bench/README.md). A worker with its own connection runs passive
 * checkpoints — they never block writers — so the copying and the fsync happen off the loop.
 * Durability is unchanged: commits are durable in the WAL as before; a checkpoint only moves
 * them into the main file.
 */
export class BackgroundCheckpointer {
  readonly #worker: Worker;

  constructor(file: string) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, intervalMs: CHECKPOINT_INTERVAL_MS } });
    // A checkpoint that fails (disk full, the file gone) leaves the backstop to try again; the
    // worker must never take the process down with it.
    this.#worker.on('error', () => undefined);
    this.#worker.unref();
  }

  async stop(): Promise<void> {
    await this.#worker.terminate();
  }
}

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.file, { timeout: 1000 });
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
setInterval(() => {
  try { checkpoint.get(); } catch { /* busy or failing: the next round, or the backstop, retries */ }
}, workerData.intervalMs);
`;
