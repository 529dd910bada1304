import { GatewayError } from '../../errors/gateway-error.ts';
import { rateLimitHeaders } from '../../limits/headers.ts';
import type { Admitted, Limiter, Rejected } from '../../limits/limiter.ts';
import { estimateTokensFromBytes } from '../../protocol/tokens.ts';
import type { JsonObject } from '../../protocol/validate/validate.ts';
import type { Endpoint } from '../../providers/adapter.ts';
import { choicesOf, promptCount } from '../../protocol/choices.ts';
import type { Principal } from './principal.ts';

/** Gitee AI's documented default for `max_tokens` when a request names none. */
const DEFAULT_OUTPUT_CAP = 2048;

/**
 * The prompt's size in tokens, known before it runs: estimated from the body's size (no
 * tokenizer on the hot path); token ids are counted, they are shorter than three bytes.
 */
export function estimatePromptTokens(endpoint: Endpoint, body: JsonObject, bodyBytes: number): number {
  const fromBytes = estimateTokensFromBytes(bodyBytes);
  const prompt = endpoint === 'completions' ? body.prompt : endpoint === 'embeddings' ? body.input : undefined;
  return Array.isArray(prompt) ? Math.max(fromBytes, tokenIdsIn(prompt)) : fromBytes;
}

/**
 * The most a request may generate: its cap per choice (or the model's, or the default) times
 * the choices generated — `n` for each prompt of a completions batch, or `best_of` there when
 * larger (generated and billed too). Embeddings generate nothing.
 */
export function maxOutputTokens(endpoint: Endpoint, body: JsonObject, modelCap: number | undefined): number {
  if (endpoint === 'embeddings') return 0;
  const asked = body.max_completion_tokens ?? body.max_tokens;
  const perChoice = typeof asked === 'number' ? asked : (modelCap ?? DEFAULT_OUTPUT_CAP);
  if (endpoint === 'chat') return perChoice * choicesOf(endpoint, body);
  // best_of is a completions field (an integer up to 20 there); on chat it is an unknown extra.
  const n = typeof body.n === 'number' ? body.n : 1;
  const bestOf = typeof body.best_of === 'number' ? body.best_of : 0;
  return perChoice * Math.max(n, bestOf) * promptCount(body.prompt);
}

/**
 * The output cap to send upstream when the request names none: the one its hold assumed, so
 * that on a priced deployment the hold bounds what the answer can cost (Gitee AI applies the
 * same default itself). Undefined when the request has its own cap, or generates nothing.
 */
export function impliedOutputCap(endpoint: Endpoint, body: JsonObject, modelCap: number | undefined): number | undefined {
  if (endpoint === 'embeddings' || typeof body.max_tokens === 'number' || typeof body.max_completion_tokens === 'number') return undefined;
  return modelCap ?? DEFAULT_OUTPUT_CAP;
}

function tokenIdsIn(prompt: readonly unknown[]): number {
  if (typeof prompt[0] === 'string') return 0; // text prompts: the bytes say it
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
