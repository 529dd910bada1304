/** A key's limits, from its plan and its own overrides. 0 means "no limit" for that dimension. */
export interface LimitPolicy {
  readonly rpm: number;
  readonly tpm: number;
  readonly concurrency: number;
}

export type LimitKind = 'requests' | 'tokens' | 'concurrency';

/** What OpenAI reports on every response, so SDK retry logic and dashboards work. */
export interface RateLimitState {
  readonly limitRequests: number;
  readonly remainingRequests: number;
  /** Milliseconds until the request window has room again (0 = now). */
  readonly resetRequestsMs: number;
  readonly limitTokens: number;
  readonly remainingTokens: number;
  readonly resetTokensMs: number;
}

export interface Admitted {
  readonly ok: true;
  readonly state: RateLimitState;
  /** Ends the request: frees its concurrency slot and corrects its token reservation. */
  release(actualTokens: number): void;
}

export interface Rejected {
  readonly ok: false;
  readonly limit: LimitKind;
  readonly retryAfterMs: number;
  readonly state: RateLimitState;
  /** True when the request can never fit (its estimate alone exceeds the TPM limit). */
  readonly tooLarge: boolean;
}

export type Decision = Admitted | Rejected;

/**
 * Admission limits per key. `acquire` checks requests per minute (sliding 60 s window: at most
 * `rpm` admissions in ANY 60 s span), tokens per minute (the estimate is reserved, then
 * corrected to the real usage on release) and requests in flight, in one step: a rejected
 * request reserves nothing. Implementations: memory.ts (one process); a Redis one for clusters.
 */
export interface Limiter {
  acquire(key: string, policy: LimitPolicy, estimatedTokens: number): Decision | Promise<Decision>;
  /** The key's current state without admitting anything (for the headers of other responses). */
  peek(key: string, policy: LimitPolicy): RateLimitState | Promise<RateLimitState>;
}

export const WINDOW_MS = 60_000;
