import { WINDOW_MS, type Decision, type LimitPolicy, type Limiter, type RateLimitState } from './limiter.ts';

/** One reservation in the token window; `tokens` is corrected in place on release. */
interface TokenEntry {
  readonly at: number;
  tokens: number;
  /** Set once the entry left the window (its tokens no longer count in the sum). */
  expired: boolean;
}

/** Per-key state: admission times (a ring as large as the RPM limit), token entries, in-flight. */
class KeyWindow {
  times: Float64Array = new Float64Array(0);
  head = 0;
  count = 0;
  readonly tokens: TokenEntry[] = [];
  tokenHead = 0;
  tokenSum = 0;
  inFlight = 0;
  lastUsed = 0;

  evict(now: number): void {
    const horizon = now - WINDOW_MS;
    while (this.count > 0 && this.times[this.head]! <= horizon) {
      this.head = (this.head + 1) % this.times.length;
      this.count--;
    }
    while (this.tokenHead < this.tokens.length && this.tokens[this.tokenHead]!.at <= horizon) {
      const entry = this.tokens[this.tokenHead]!;
      this.tokenSum -= entry.tokens;
      entry.expired = true;
      this.tokenHead++;
    }
    // Compact the token array once the dead prefix dominates, keeping pushes amortised O(1).
    if (this.tokenHead > 64 && this.tokenHead * 2 > this.tokens.length) {
      this.tokens.splice(0, this.tokenHead);
      this.tokenHead = 0;
    }
  }

  /** Resizes the request ring when a plan's RPM changed, keeping the newest admissions. */
  fitRing(rpm: number): void {
    if (this.times.length === rpm) return;
    const kept = Math.min(this.count, rpm);
    const next = new Float64Array(rpm);
    for (let i = 0; i < kept; i++) next[i] = this.times[(this.head + this.count - kept + i) % this.times.length]!;
    this.times = next;
    this.head = 0;
    this.count = kept;
  }

  oldestTime(): number {
    return this.times[this.head]!;
  }

  pushTime(now: number): void {
    this.times[(this.head + this.count) % this.times.length] = now;
    this.count++;
  }

  /** Milliseconds until enough reserved tokens leave the window for `needed` more to fit. */
  tokensFreeInMs(needed: number, limit: number, now: number): number {
    let sum = this.tokenSum;
    for (let i = this.tokenHead; i < this.tokens.length; i++) {
      sum -= this.tokens[i]!.tokens;
      if (sum + needed <= limit) return Math.max(0, this.tokens[i]!.at + WINDOW_MS - now);
    }
    return WINDOW_MS;
  }
}

const SWEEP_INTERVAL_MS = 60_000;

/**
 * The single-process limiter: exact sliding windows, O(1) per request for RPM (a ring of the
 * last `rpm` admission times: a request is admitted iff the oldest of them left the window),
 * amortised O(1) for TPM. Idle keys are swept so memory follows active keys, not all keys.
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
    if (policy.rpm > 0) w.fitRing(policy.rpm);

    if (policy.concurrency > 0 && w.inFlight >= policy.concurrency) {
      return { ok: false, limit: 'concurrency', retryAfterMs: 1000, state: stateOf(w, policy, now), tooLarge: false };
    }
    if (policy.rpm > 0 && w.count >= policy.rpm) {
      const retryAfterMs = Math.max(1, w.oldestTime() + WINDOW_MS - now);
      return { ok: false, limit: 'requests', retryAfterMs, state: stateOf(w, policy, now), tooLarge: false };
    }
    if (policy.tpm > 0 && w.tokenSum + estimatedTokens > policy.tpm) {
      const tooLarge = estimatedTokens > policy.tpm;
      const retryAfterMs = tooLarge ? WINDOW_MS : Math.max(1, w.tokensFreeInMs(estimatedTokens, policy.tpm, now));
      return { ok: false, limit: 'tokens', retryAfterMs, state: stateOf(w, policy, now), tooLarge };
    }

    if (policy.rpm > 0) w.pushTime(now);
    const entry: TokenEntry = { at: now, tokens: estimatedTokens, expired: false };
    w.tokens.push(entry);
    w.tokenSum += estimatedTokens;
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
        // Only entries still in the window count towards the sum; an expired one is history.
        if (!entry.expired) window.tokenSum += actualTokens - entry.tokens;
        entry.tokens = actualTokens;
      },
    };
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
  const firstToken = w.tokens[w.tokenHead];
  return {
    limitRequests: policy.rpm,
    remainingRequests: policy.rpm > 0 ? Math.max(0, policy.rpm - w.count) : 0,
    resetRequestsMs: w.count > 0 ? Math.max(0, w.oldestTime() + WINDOW_MS - now) : 0,
    limitTokens: policy.tpm,
    remainingTokens: policy.tpm > 0 ? Math.max(0, policy.tpm - w.tokenSum) : 0,
    resetTokensMs: firstToken !== undefined ? Math.max(0, firstToken.at + WINDOW_MS - now) : 0,
  };
}
