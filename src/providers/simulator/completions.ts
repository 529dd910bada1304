import { createRequire } from 'node:module';
import { countPromptTokens } from '../../protocol/tokens.ts';
import { SimRequestError } from './errors.ts';
import { randomHex, unixSeconds } from './ids.ts';
import { completionTokens, planChoice, type ChoicePlan, type FinishReason } from './plan.ts';
import { chunkWriter, optionalInt, readStop, readStreaming, type Body, type Job, type JobContext } from './request.ts';
import type { StreamFormat } from './stream.ts';
import { baseSeed, choiceRng, logprobRng } from './text.ts';

/** One prompt: its text is only needed (and token ids only decoded) when echoed. */
interface Prompt {
  readonly key: string;
  readonly text: () => string;
}

const MAX_TOKENS = 1_000_000;
const DEFAULT_MAX_TOKENS = 16;

function isTokenIds(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((v) => Number.isInteger(v));
}

/** prompt: string | string[] | number[] | number[][], as in the OpenAI spec. */
function readPrompts(prompt: unknown): Prompt[] {
  if (typeof prompt === 'string') return [{ key: prompt, text: () => prompt }];
  if (isTokenIds(prompt)) return [idsPrompt(prompt)];
  if (Array.isArray(prompt) && prompt.length > 0) {
    return prompt.map((item) => {
      if (typeof item === 'string') return { key: item, text: () => item };
      if (isTokenIds(item)) return idsPrompt(item);
      throw new SimRequestError(400, 'prompt items must be strings or arrays of token ids', 'prompt');
    });
  }
  throw new SimRequestError(400, 'prompt must be a string, an array of strings, or (arrays of) token ids', 'prompt');
}

function idsPrompt(ids: number[]): Prompt {
  return { key: JSON.stringify(ids), text: () => decodeIds(ids) };
}

let decodeImpl: ((ids: Iterable<number>) => string) | undefined;

/** Echoing a token-id prompt needs the tokenizer's decoder; loaded on first use only. */
function decodeIds(ids: number[]): string {
  if (decodeImpl === undefined) {
    const require = createRequire(import.meta.url);
    decodeImpl = (require('gpt-tokenizer/cjs/encoding/cl100k_base') as { decode: (ids: Iterable<number>) => string }).decode;
  }
  try {
    return decodeImpl(ids);
  } catch {
    throw new SimRequestError(400, 'prompt contains token ids outside the vocabulary', 'prompt');
  }
}

/** POST /completions: P prompts × n choices, indexed by prompt then by sample. */
export function completionsJob(body: Body, ctx: JobContext): Job {
  const prompts = readPrompts(body.prompt);
  const n = optionalInt(body, 'n', 1, 128) ?? 1;
  const bestOf = optionalInt(body, 'best_of', 1, 20);
  const { stream, includeUsage } = readStreaming(body);
  if (bestOf !== undefined && bestOf > 1 && stream) throw new SimRequestError(400, 'best_of > 1 cannot be streamed', 'best_of');
  if (bestOf !== undefined && bestOf < n) throw new SimRequestError(400, 'best_of must be greater than or equal to n', 'best_of');
  const cap = optionalInt(body, 'max_tokens', 0, MAX_TOKENS) ?? DEFAULT_MAX_TOKENS;
  const logprobs = optionalInt(body, 'logprobs', 0, 20);
  const stop = readStop(body.stop);

  const choices: ChoicePlan[] = [];
  const echoes: string[] = [];
  prompts.forEach((prompt, p) => {
    const base = baseSeed(body.seed, prompt.key);
    const echo = body.echo === true ? prompt.text() : '';
    for (let i = 0; i < n; i++) {
      const index = p * n + i;
      // The sampled token plus `logprobs` alternatives, as OpenAI returns up to k+1 entries.
      const spec = { length: ctx.outputTokens, cap, reasoning: false, stop, continuation: true, topLogprobs: logprobs === undefined ? undefined : logprobs + 1 };
      choices.push(planChoice(index, choiceRng(base, index), logprobRng(base, index), spec));
      echoes.push(echo);
    }
  });
  const meta: CompletionMeta = {
    id: `cmpl-${randomHex()}`,
    created: unixSeconds(),
    model: ctx.model,
    promptTokens: countPromptTokens(body.prompt),
    logprobs: logprobs !== undefined,
    reportUsage: ctx.reportUsage,
    echoes,
  };
  return {
    stream,
    promptTokens: meta.promptTokens,
    choices,
    render: () => renderCompletion(meta, choices),
    format: () => completionStreamFormat(meta, choices, includeUsage),
  };
}

interface CompletionMeta {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly promptTokens: number;
  readonly logprobs: boolean;
  readonly reportUsage: boolean;
  /** Per choice: the prompt text to prepend ('' without echo). */
  readonly echoes: readonly string[];
}

function usage(meta: CompletionMeta, choices: readonly ChoicePlan[]) {
  const completion = completionTokens(choices);
  return { prompt_tokens: meta.promptTokens, completion_tokens: completion, total_tokens: meta.promptTokens + completion };
}

/** Where each token starts in the returned text (after the echoed prompt). */
function textOffsets(choice: ChoicePlan, echo: string): number[] {
  const offsets: number[] = [];
  let offset = echo.length;
  for (const step of choice.steps) {
    offsets.push(offset);
    offset += step.text.length;
  }
  return offsets;
}

/** The four parallel arrays of legacy logprobs, for steps [from, to) of one choice. */
function logprobsObject(choice: ChoicePlan, offsets: readonly number[], from: number, to: number) {
  const steps = choice.steps.slice(from, to);
  return {
    tokens: steps.map((s) => s.text),
    token_logprobs: steps.map((s) => s.logprob?.logprob ?? 0),
    top_logprobs: steps.map((s) => Object.fromEntries((s.logprob?.top ?? []).map((t) => [t.token, t.logprob]))),
    text_offset: offsets.slice(from, to),
  };
}

function renderCompletion(meta: CompletionMeta, choices: readonly ChoicePlan[]): string {
  const body: Record<string, unknown> = {
    id: meta.id,
    object: 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: choices.map((choice) => {
      const echo = meta.echoes[choice.index]!;
      return {
        index: choice.index,
        text: echo + choice.steps.map((s) => s.text).join(''),
        logprobs: meta.logprobs ? logprobsObject(choice, textOffsets(choice, echo), 0, choice.steps.length) : null,
        finish_reason: choice.finishReason,
      };
    }),
  };
  if (meta.reportUsage) body.usage = usage(meta, choices);
  return JSON.stringify(body);
}

function choiceEntry(index: number, text: string, logprobs: string, finish: FinishReason | null): string {
  return `[{"index":${index},"text":${text},"logprobs":${logprobs},"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]`;
}

/** `text_completion` chunks: the echoed prompt first (if any), one text delta per token, finish, usage. */
function completionStreamFormat(meta: CompletionMeta, choices: readonly ChoicePlan[], includeUsage: boolean): StreamFormat {
  const withUsage = includeUsage && meta.reportUsage;
  const write = chunkWriter(meta.id, 'text_completion', meta.created, meta.model, withUsage);
  const offsets = meta.logprobs ? choices.map((c) => textOffsets(c, meta.echoes[c.index]!)) : [];
  return {
    open(choice) {
      const echo = meta.echoes[choice.index]!;
      return echo === '' ? '' : write(choiceEntry(choice.index, JSON.stringify(echo), 'null', null));
    },
    token(choice, k, finish) {
      const logprobs = meta.logprobs ? JSON.stringify(logprobsObject(choice, offsets[choice.index]!, k, k + 1)) : 'null';
      return write(choiceEntry(choice.index, JSON.stringify(choice.steps[k]!.text), logprobs, finish ? choice.finishReason : null));
    },
    finish(choice) {
      return write(choiceEntry(choice.index, '""', 'null', choice.finishReason));
    },
    usage() {
      return withUsage ? write('[]', JSON.stringify(usage(meta, choices))) : '';
    },
  };
}
