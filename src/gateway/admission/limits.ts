import { GatewayError } from '../../errors/gateway-error.ts';
import { rateLimitHeaders } from '../../limits/headers.ts';
import type { Admitted, Limiter, Rejected } from '../../limits/limiter.ts';
import { estimateTokensFromBytes } from '../../protocol/tokens.ts';
import type { JsonObject } from '../../protocol/validate/validate.ts';
import type { Endpoint } from '../../providers/adapter.ts';
import type { Principal } from './principal.ts';

/** Gitee AI's documented default for `max_tokens` when a request names none. */
const DEFAULT_OUTPUT_CAP = 2048;

/**
 * What a request may cost in tokens, known before it runs: the prompt estimated from its size
 * (no tokenizer on the hot path; token ids are counted, they are shorter than three bytes) plus
 * the most it may generate.
 */
export function estimateRequestTokens(endpoint: Endpoint, body: JsonObject, bodyBytes: number, modelCap: number | undefined): number {
  return estimatePromptTokens(endpoint, body, bodyBytes) + maxOutputTokens(endpoint, body, modelCap);
}

export function estimatePromptTokens(endpoint: Endpoint, body: JsonObject, bodyBytes: number): number {
  const fromBytes = estimateTokensFromBytes(bodyBytes);
  const prompt = endpoint === 'completions' ? body.prompt : endpoint === 'embeddings' ? body.input : undefined;
  return Array.isArray(prompt) ? Math.max(fromBytes, tokenIdsIn(prompt)) : fromBytes;
}

/**
 * The most a request may generate: its cap per choice (or the model's, or the default) times
 * the choices generated — `n` (or `best_of`, which is generated and billed too) for each prompt
 * of a completions batch. Embeddings generate nothing.
 */
export function maxOutputTokens(endpoint: Endpoint, body: JsonObject, modelCap: number | undefined): number {
  if (endpoint === 'embeddings') return 0;
  const asked = body.max_completion_tokens ?? body.max_tokens;
  const perChoice = typeof asked === 'number' ? asked : (modelCap ?? DEFAULT_OUTPUT_CAP);
  const n = typeof body.n === 'number' ? body.n : 1;
  const bestOf = typeof body.best_of === 'number' ? body.best_of : 0;
  return perChoice * Math.max(n, bestOf) * (endpoint === 'completions' ? promptCount(body.prompt) : 1);
}

/**
 * A request that names no output cap gets the one its hold assumed, so the hold stays the most
 * the request can cost (Gitee AI applies the same default itself).
 */
export function capOutput(endpoint: Endpoint, body: JsonObject, modelCap: number | undefined): void {
  if (endpoint === 'embeddings' || typeof body.max_tokens === 'number' || typeof body.max_completion_tokens === 'number') return;
  body.max_tokens = modelCap ?? DEFAULT_OUTPUT_CAP;
}

/** Completions `prompt`: a string or one token-id array is one prompt; an array of them is a batch. */
function promptCount(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length === 0 || typeof prompt[0] === 'number') return 1;
  return prompt.length;
}

function tokenIdsIn(prompt: readonly unknown[]): number {
  let ids = 0;
  for (const item of prompt) {
    if (typeof item === 'number') ids++;
    else if (Array.isArray(item)) ids += item.length;
  }
  return ids;
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
