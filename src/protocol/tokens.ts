/**
 * Token counting for when an upstream reports no usage, and for the simulator's own counts.
 * The BPE table (cl100k_base, ~45 MB) is loaded on first use only: a gateway whose upstreams
 * report usage never pays for it.
 */
import { createRequire } from 'node:module';

type CountFn = (text: string) => number;
let countImpl: CountFn | undefined;

function counter(): CountFn {
  if (countImpl === undefined) {
    // Synchronous on purpose: counting happens at the end of a response, where an await would
    // reorder writes; the one-time load (~100 ms) is paid on the first fallback only.
    const require = createRequire(import.meta.url);
    const mod = require('gpt-tokenizer/cjs/encoding/cl100k_base') as { countTokens: CountFn };
    countImpl = mod.countTokens;
  }
  return countImpl;
}

export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : counter()(text);
}

/** OpenAI's published chat overhead: 3 tokens per message plus 3 to prime the reply. */
const PER_MESSAGE_TOKENS = 3;
const REPLY_PRIMING_TOKENS = 3;

export function countChatPromptTokens(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let total = REPLY_PRIMING_TOKENS;
  for (const message of messages) {
    total += PER_MESSAGE_TOKENS;
    if (message === null || typeof message !== 'object') continue;
    const m = message as Record<string, unknown>;
    if (typeof m.role === 'string') total += countTextTokens(m.role);
    total += countContentTokens(m.content);
    if (typeof m.name === 'string') total += countTextTokens(m.name) + 1;
    if (m.tool_calls !== undefined) total += countTextTokens(JSON.stringify(m.tool_calls));
  }
  return total;
}

function countContentTokens(content: unknown): number {
  if (typeof content === 'string') return countTextTokens(content);
  if (!Array.isArray(content)) return 0;
  let total = 0;
  for (const part of content) {
    if (part === null || typeof part !== 'object') continue;
    const p = part as Record<string, unknown>;
    if (typeof p.text === 'string') total += countTextTokens(p.text);
    // Images and audio are priced by the upstream's own rules; a flat estimate keeps the
    // fallback bounded instead of counting base64 characters.
    else if (p.type === 'image_url' || p.type === 'input_audio') total += 85;
  }
  return total;
}

/** Completions `prompt`: string, string[], token ids, or arrays of token ids. */
export function countPromptTokens(prompt: unknown): number {
  if (typeof prompt === 'string') return countTextTokens(prompt);
  if (!Array.isArray(prompt)) return 0;
  let total = 0;
  for (const item of prompt) {
    if (typeof item === 'string') total += countTextTokens(item);
    else if (typeof item === 'number') total += 1;
    else if (Array.isArray(item)) total += item.length;
  }
  return total;
}

/** Cheap upper-bound estimate (no BPE) for admission decisions on the hot path. */
export function estimateTokensFromBytes(byteLength: number): number {
  return Math.ceil(byteLength / 3);
}
