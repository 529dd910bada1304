import type { RateLimitState } from './limiter.ts';

/** OpenAI's reset format: Go-style durations such as `120ms`, `8.64s`, `6m0s`. */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${Math.round(seconds * 1000) / 1000}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${Math.round((seconds - minutes * 60) * 1000) / 1000}s`;
}

/** The six `x-ratelimit-*` headers; dimensions without a limit (0) are left out. */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  const out: Record<string, string> = {};
  if (state.limitRequests > 0) {
    out['x-ratelimit-limit-requests'] = String(state.limitRequests);
    out['x-ratelimit-remaining-requests'] = String(state.remainingRequests);
    out['x-ratelimit-reset-requests'] = goDuration(state.resetRequestsMs);
  }
  if (state.limitTokens > 0) {
    out['x-ratelimit-limit-tokens'] = String(state.limitTokens);
    out['x-ratelimit-remaining-tokens'] = String(state.remainingTokens);
    out['x-ratelimit-reset-tokens'] = goDuration(state.resetTokensMs);
  }
  return out;
}
