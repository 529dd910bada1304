/**
 * The engine's batch size: at most `limit` requests generate at once (0 = no limit), the rest
 * wait first-come first-served. A waiter whose request is aborted leaves the queue at once, so
 * it neither blocks others nor takes a slot later.
 */
interface Waiter {
  readonly resolve: () => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

export class ConcurrencyGate {
  readonly limit: number;
  #active = 0;
  #queue: Waiter[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** Resolves when the caller may run; rejects with the signal's reason if aborted while queued. */
  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    if (this.limit === 0 || this.#active < this.limit) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        signal,
        onAbort: () => {
          this.#queue = this.#queue.filter((w) => w !== waiter);
          reject(signal.reason as Error);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  /** Frees a slot; the oldest waiter, if any, takes it. */
  release(): void {
    this.#active--;
    const next = this.#queue.shift();
    if (next === undefined) return;
    next.signal.removeEventListener('abort', next.onAbort);
    this.#active++;
    next.resolve();
  }
}
