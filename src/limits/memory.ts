import { WINDOW_MS, type Decision, type LimitPolicy, type Limiter, type RateLimitState } from './limiter.ts';
import { TokenWindow } from './token-window.ts';

/** Per-key state: admission times (a ring, at most as large as the RPM limit), token entries, in-flight. */
class KeyWindow {
  times: Float64Array = new Float64Array(0);
  head = 0;
  count = 0;
  readonly tokens = new TokenWindow();
  inFlight = 0;
  lastUsed = 0;

  evict(now: number): void {
    const horizon = now - WINDOW_MS;
    while (this.count > 0 && this.times[this.head]! <= horizon) {
      this.head = (this.head + 1) % this.times.length;
      this.count--;
    }
    this.tokens.evict(now);
  }

  /**
   * Drops the oldest admissions beyond `rpm` (a plan got smaller) so the ring never holds more
   * than the limit.
   */
  trimTo(rpm: number): void {
    while (this.count > rpm) {
      this.head = (this.head + 1) % this.times.length;
      this.count--;
    }
  }

  /**
   * The ring grows by doubling up to the RPM limit: memory follows a key's real traffic, so a
   * plan of a million RPM does not cost 8 MB per key up front.
   */
  #grow(rpm: number): void {
    const capacity = Math.min(rpm, Math.max(16, this.times.length * 2));
    const next = new Float64Array(capacity);
    for (let i = 0; i < this.count; i++) next[i] = this.times[(this.head + i) % this.times.length]!;
    this.times = next;
    this.head = 0;
  }

  oldestTime(): number {
    return this.times[this.head]!;
  }

  pushTime(now: number, rpm: number): void {
    if (this.count === this.times.length) this.#grow(rpm);
    this.times[(this.head + this.count) % this.times.length] = now;
    this.count++;
  }

}

const SWEEP_INTERVAL_MS = 60_000;
/** Stands in for a key with no traffic yet: peeking never creates state. */
const EMPTY_WINDOW = new KeyWindow();

/**
 * The single-process limiter. RPM is an exact sliding window, O(1) per request: a ring of the
 * last `rpm` admission times, and a request is admitted iff the oldest of them left the window.
 * TPM is a 60 × 1 s bucket window (constant memory per key). Idle keys are swept so memory
 * follows active keys, not all keys.
 */
export class MemoryLimiter implements Limiter {
  readonly #windows = new Map<string, KeyWindow>();
  readonly #now: () => number;
  #lastSweep = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  acquire(key: string, policy: LimitPolicy, estimatedTokens: number): Decision {
    const now = this.#now();
    this.#maybeSweep(now);
    let w = this.#windows.get(key);
    if (w === undefined) {
      w = new KeyWindow();
      this.#windows.set(key, w);
    }
    w.lastUsed = now;
    w.evict(now);
    if (policy.rpm > 0) w.trimTo(policy.rpm);

    if (policy.concurrency > 0 && w.inFlight >= policy.concurrency) {
      return { ok: false, limit: 'concurrency', retryAfterMs: 1000, state: stateOf(w, policy, now), tooLarge: false };
    }
    if (policy.rpm > 0 && w.count >= policy.rpm) {
      const retryAfterMs = Math.max(1, w.oldestTime() + WINDOW_MS - now);
      return { ok: false, limit: 'requests', retryAfterMs, state: stateOf(w, policy, now), tooLarge: false };
    }
    if (policy.tpm > 0 && w.tokens.sum + estimatedTokens > policy.tpm) {
      const tooLarge = estimatedTokens > policy.tpm;
      const retryAfterMs = tooLarge ? WINDOW_MS : Math.max(1, w.tokens.freeInMs(estimatedTokens, policy.tpm, now));
      return { ok: false, limit: 'tokens', retryAfterMs, state: stateOf(w, policy, now), tooLarge };
    }

    if (policy.rpm > 0) w.pushTime(now, policy.rpm);
    const bookedIn = w.tokens.add(now, estimatedTokens);
    w.inFlight++;
    const window = w;
    let released = false;
    return {
      ok: true,
      state: stateOf(w, policy, now),
      release(actualTokens: number): void {
        if (released) return;
        released = true;
        window.inFlight--;
        window.tokens.correct(bookedIn, actualTokens - estimatedTokens);
      },
    };
  }

  peek(key: string, policy: LimitPolicy): RateLimitState {
    const now = this.#now();
    const w = this.#windows.get(key);
    if (w === undefined) return stateOf(EMPTY_WINDOW, policy, now);
    w.evict(now);
    return stateOf(w, policy, now);
  }

  /** Keys tracked right now (for metrics and tests). */
  get size(): number {
    return this.#windows.size;
  }

  #maybeSweep(now: number): void {
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return;
    this.#lastSweep = now;
    for (const [key, w] of this.#windows) {
      if (w.inFlight === 0 && now - w.lastUsed > WINDOW_MS) this.#windows.delete(key);
    }
  }
}

function stateOf(w: KeyWindow, policy: LimitPolicy, now: number): RateLimitState {
  return {
    limitRequests: policy.rpm,
    remainingRequests: policy.rpm > 0 ? Math.max(0, policy.rpm - w.count) : 0,
    resetRequestsMs: w.count > 0 ? Math.max(0, w.oldestTime() + WINDOW_MS - now) : 0,
    limitTokens: policy.tpm,
    remainingTokens: policy.tpm > 0 ? Math.max(0, Math.floor(policy.tpm - w.tokens.sum)) : 0,
    resetTokensMs: w.tokens.resetInMs(now),
  };
}
