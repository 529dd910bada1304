import type { JsonObject } from './validate/validate.ts';
import type { Endpoint } from '../providers/adapter.ts';

/**
 * How many choices an answer has: `n` per prompt, and a completions `prompt` may be a batch
 * (an array of strings or of token-id arrays; one token-id array is one prompt). Embeddings
 * have none.
 */
export function choicesOf(endpoint: Endpoint, body: JsonObject): number {
  if (endpoint === 'embeddings') return 0;
  const n = typeof body.n === 'number' ? body.n : 1;
  return endpoint === 'completions' ? n * promptCount(body.prompt) : n;
}

/** Completions `prompt`: a string or one token-id array is one prompt; an array of them a batch. */
export function promptCount(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length === 0 || typeof prompt[0] === 'number') return 1;
  return prompt.length;
}
