import { GatewayError } from '../../errors/gateway-error.ts';
import { rateLimitHeaders } from '../../limits/headers.ts';
import type { Admitted, Limiter, Rejected } from '../../limits/limiter.ts';
import { estimateTokensFromBytes } from '../../protocol/tokens.ts';
import type { JsonObject } from '../../protocol/validate/validate.ts';
import type { Principal } from './principal.ts';

/** Gitee AI's documented default for `max_tokens` when a request names none. */
const DEFAULT_OUTPUT_CAP = 2048;

/**
 * What a request may cost in tokens, known before it runs: the prompt estimated from its size
 * (no tokenizer on the hot path) plus the most it may generate.
 */
export function estimateRequestTokens(body: JsonObject, bodyBytes: number, modelCap: number | undefined): number {
  return estimateTokensFromBytes(bodyBytes) + maxOutputTokens(body, modelCap);
}

/** The most a request may generate: its cap (or the model's, or the default) times `n`. */
export function maxOutputTokens(body: JsonObject, modelCap: number | undefined): number {
  const asked = body.max_completion_tokens ?? body.max_tokens;
  const output = typeof asked === 'number' ? asked : (modelCap ?? DEFAULT_OUTPUT_CAP);
  const n = typeof body.n === 'number' ? body.n : 1;
  return output * n;
}

/** Runs the key's limits; a rejection becomes the 429 the SDKs know how to back off from. */
export async function admit(limiter: Limiter, principal: Principal, estimate: number): Promise<Admitted> {
  const decision = await limiter.acquire(principal.keyId, principal.policy, estimate);
  if (!decision.ok) throw rateLimited(decision, principal, estimate);
  return decision;
}

const LIMIT_TEXT = {
  requests: (p: Principal) => `requests per minute (limit ${p.policy.rpm})`,
  tokens: (p: Principal) => `tokens per minute (limit ${p.policy.tpm})`,
  concurrency: (p: Principal) => `concurrent requests (limit ${p.policy.concurrency})`,
} as const;

function rateLimited(decision: Rejected, principal: Principal, estimate: number): GatewayError {
  const headers = rateLimitHeaders(decision.state);
  if (decision.tooLarge) {
    // Waiting will not help: say so, and tell the SDKs not to retry.
    headers['x-should-retry'] = 'false';
    return new GatewayError(
      'rate_limit_exceeded',
      `Request too large: it may use ${estimate} tokens, more than this key's ${LIMIT_TEXT.tokens(principal)}. Lower max_tokens or the prompt.`,
      { retryAfter: 60, headers },
    );
  }
  const retryAfter = Math.min(60, Math.max(1, Math.ceil(decision.retryAfterMs / 1000)));
  headers['retry-after-ms'] = String(Math.max(1, Math.ceil(decision.retryAfterMs)));
  return new GatewayError(
    'rate_limit_exceeded',
    `Rate limit exceeded: ${LIMIT_TEXT[decision.limit](principal)}. Retry after ${retryAfter} s.`,
    { retryAfter, headers },
  );
}
