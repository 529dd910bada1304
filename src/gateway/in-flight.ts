/**
 * Inference calls still running. Shutdown waits for them after it cut the connections at its
 * deadline: a call notices its client is gone a moment later and settles what was really
 * sent — without the wait, the store would close first and the next start would charge the
 * open hold at its full amount.
 */
export class InFlight {
  #count = 0;
  #waiters: Array<() => void> = [];

  enter(): void {
    this.#count++;
  }

  leave(): void {
    if (--this.#count > 0 || this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once none is running, or after `timeoutMs` whatever is left. */
  idle(timeoutMs: number): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
