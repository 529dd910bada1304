const SECONDS = 60;

/**
 * Tokens admitted in the last 60 seconds, in one-second buckets: constant memory per key
 * whatever its traffic (an exact log would keep one entry per request for a minute). A bucket
 * leaves the window when its second is 60 s old, so the window is exact to within a second.
 */
export class TokenWindow {
  readonly #tokens = new Float64Array(SECONDS);
  /** Which epoch second each bucket currently holds. */
  readonly #second = new Float64Array(SECONDS).fill(-1);
  #sum = 0;
  #evictedThrough = -1;

  get sum(): number {
    return this.#sum;
  }

  evict(now: number): void {
    const horizon = Math.floor(now / 1000) - SECONDS;
    if (this.#evictedThrough < horizon - SECONDS) this.#evictedThrough = horizon - SECONDS;
    for (let s = this.#evictedThrough + 1; s <= horizon; s++) {
      const i = s % SECONDS;
      if (this.#second[i] === s) {
        this.#sum -= this.#tokens[i]!;
        this.#tokens[i] = 0;
        this.#second[i] = -1;
      }
    }
    if (horizon > this.#evictedThrough) this.#evictedThrough = horizon;
  }

  /** Adds tokens at `now`; returns the second they were booked in (for a later correction). */
  add(now: number, tokens: number): number {
    const s = Math.floor(now / 1000);
    const i = s % SECONDS;
    if (this.#second[i] !== s) {
      this.#tokens[i] = 0;
      this.#second[i] = s;
    }
    this.#tokens[i]! += tokens;
    this.#sum += tokens;
    return s;
  }

  /** Applies `delta` to what second `s` booked, if that second is still in the window. */
  correct(s: number, delta: number): void {
    const i = s % SECONDS;
    if (this.#second[i] !== s || s <= this.#evictedThrough) return;
    this.#tokens[i] = Math.max(0, this.#tokens[i]! + delta);
    this.#sum = Math.max(0, this.#sum + delta);
  }

  /** Milliseconds until enough booked tokens leave for `needed` more to fit under `limit`. */
  freeInMs(needed: number, limit: number, now: number): number {
    let sum = this.#sum;
    const first = this.#evictedThrough + 1;
    for (let s = first; s < first + SECONDS; s++) {
      const i = s % SECONDS;
      if (this.#second[i] !== s) continue;
      sum -= this.#tokens[i]!;
      if (sum + needed <= limit) return Math.max(0, (s + SECONDS + 1) * 1000 - now);
    }
    return SECONDS * 1000;
  }

  /** Milliseconds until the oldest booked second leaves the window (0 when empty). */
  resetInMs(now: number): number {
    const first = this.#evictedThrough + 1;
    for (let s = first; s < first + SECONDS; s++) {
      if (this.#second[s % SECONDS] === s && this.#tokens[s % SECONDS]! > 0) return Math.max(0, (s + SECONDS + 1) * 1000 - now);
    }
    return 0;
  }
}
