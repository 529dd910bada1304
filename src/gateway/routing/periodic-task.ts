/**
 * A background job that runs in rounds: the next round is scheduled when the previous one has
 * finished (fixed delay), so a slow upstream can never make rounds pile up, and a round that
 * ends has fully written what it learned before the next one starts. Timers are unref'd: the
 * job never keeps the process alive. `stop()` aborts the running round through its signal and
 * waits for it, so nothing writes to routing state after shutdown.
 */
export class PeriodicTask {
  readonly #intervalMs: number;
  readonly #round: (signal: AbortSignal) => Promise<void>;
  readonly #onError: (err: unknown) => void;
  readonly #stopper = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** An extra round was asked for while one was running. */
  #again = false;

  constructor(intervalMs: number, round: (signal: AbortSignal) => Promise<void>, onError: (err: unknown) => void) {
    this.#intervalMs = intervalMs;
    this.#round = round;
    this.#onError = onError;
  }

  /** The first round runs at once, so what is wrong at start is known before traffic meets it. */
  start(): void {
    this.#schedule(0);
  }

  /** One more round as soon as possible (after the running one, if any); rounds never overlap. */
  runSoon(): void {
    if (this.#stopper.signal.aborted) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopper.abort();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #schedule(delayMs: number): void {
    if (this.#stopper.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#run(), delayMs);
    this.#timer.unref();
  }

  #run(): void {
    this.#timer = undefined;
    this.#again = false;
    this.#running = this.#round(this.#stopper.signal)
      .catch(this.#onError)
      .finally(() => {
        this.#running = undefined;
        this.#schedule(this.#again ? 0 : this.#intervalMs);
      });
  }
}
