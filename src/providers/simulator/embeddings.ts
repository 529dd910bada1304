import { countPromptTokens } from '../../protocol/tokens.ts';
import { SimRequestError } from './errors.ts';
import { optionalInt, type Body, type Job, type JobContext } from './request.ts';
import type { StreamFormat } from './stream.ts';
import { hashString, mulberry32 } from './text.ts';

function isTokenIds(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((v) => Number.isInteger(v));
}

/** input: string | string[] | number[] | number[][]; each item becomes the seed of its vector. */
function readInputs(input: unknown): string[] {
  const invalid = () => new SimRequestError(400, 'input must be a non-empty string, an array of non-empty strings, or (arrays of) token ids', 'input');
  if (typeof input === 'string') {
    if (input === '') throw invalid();
    return [input];
  }
  if (isTokenIds(input)) return [JSON.stringify(input)];
  if (!Array.isArray(input) || input.length === 0) throw invalid();
  return input.map((item) => {
    if (typeof item === 'string' && item !== '') return item;
    if (isTokenIds(item)) return JSON.stringify(item);
    throw invalid();
  });
}

/**
 * A deterministic unit vector of `size` values, truncated to `dimensions` and renormalised (what
 * matryoshka models do). Values are rounded to float32, as an engine computes them, so the
 * base64 form decodes to exactly the same numbers as the float form.
 */
export function embeddingVector(seed: number, size: number, dimensions: number): number[] {
  const rng = mulberry32(seed);
  const values: number[] = [];
  for (let i = 0; i < size; i++) values.push(rng() * 2 - 1);
  const kept = values.slice(0, dimensions);
  const norm = Math.sqrt(kept.reduce((sum, v) => sum + v * v, 0)) || 1;
  return kept.map((v) => Math.fround(v / norm));
}

export function toBase64(vector: readonly number[]): string {
  const buf = Buffer.allocUnsafe(vector.length * 4);
  vector.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString('base64');
}

function readFormat(value: unknown): 'float' | 'base64' {
  if (value === undefined || value === null || value === 'float') return 'float';
  if (value === 'base64') return 'base64';
  throw new SimRequestError(400, "encoding_format must be 'float' or 'base64'", 'encoding_format');
}

function readDimensions(body: Body, ctx: JobContext): number {
  const native = ctx.spec.dimensions;
  const dimensions = optionalInt(body, 'dimensions', 1, native);
  if (dimensions === undefined) return native;
  if (!ctx.spec.matryoshka) {
    throw new SimRequestError(400, `Model "${ctx.model}" does not support matryoshka representation, changing output dimensions will lead to poor results.`, 'dimensions');
  }
  return dimensions;
}

const NO_STREAM: StreamFormat = { open: () => '', token: () => '', finish: () => '', usage: () => '' };

/** POST /embeddings: one vector per input, in input order. */
export function embeddingsJob(body: Body, ctx: JobContext): Job {
  const inputs = readInputs(body.input);
  const format = readFormat(body.encoding_format);
  const dimensions = readDimensions(body, ctx);
  const promptTokens = countPromptTokens(body.input);
  const render = (): string => {
    const data = inputs.map((input, index) => {
      const vector = embeddingVector(hashString(`${ctx.model}\u0000${input}`), ctx.spec.dimensions, dimensions);
      return { object: 'embedding', index, embedding: format === 'base64' ? toBase64(vector) : vector };
    });
    const response: Record<string, unknown> = { object: 'list', data, model: ctx.model };
    if (ctx.reportUsage) response.usage = { prompt_tokens: promptTokens, total_tokens: promptTokens };
    return JSON.stringify(response);
  };
  return { stream: false, promptTokens, choices: [], render, format: () => NO_STREAM };
}
