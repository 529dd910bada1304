import { SimRequestError } from './errors.ts';
import type { ResolvedModel, ReasoningField } from './options.ts';
import type { ChoicePlan } from './plan.ts';
import type { StreamFormat } from './stream.ts';

/** What an endpoint needs beyond the body: the model's behaviour and the effective faults. */
export interface JobContext {
  /** Echoed as the response's `model`. */
  readonly model: string;
  readonly spec: ResolvedModel;
  /** Fixed answer length (option or fault); undefined = drawn from the seed. */
  readonly outputTokens: number | undefined;
  readonly reportUsage: boolean;
  readonly reasoningField: ReasoningField;
}

/** A validated, fully planned request, ready to be rendered whole or streamed. */
export interface Job {
  readonly stream: boolean;
  readonly promptTokens: number;
  readonly choices: readonly ChoicePlan[];
  render(): string;
  format(): StreamFormat;
}

export type Body = Readonly<Record<string, unknown>>;

/** An optional integer field in [min, max]; null counts as absent, as in the OpenAI spec. */
export function optionalInt(body: Body, key: string, min: number, max: number): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw new SimRequestError(400, `${key} must be an integer from ${min} to ${max}`, key);
  }
  return value as number;
}

/** Stop sequences, trimmed: the simulator stops when a generated word equals one. */
export function readStop(value: unknown): ReadonlySet<string> {
  if (typeof value === 'string') return new Set([value.trim()]);
  if (Array.isArray(value)) return new Set(value.filter((s) => typeof s === 'string').map((s: string) => s.trim()));
  return EMPTY_SET;
}

const EMPTY_SET: ReadonlySet<string> = new Set();

/** stream_options is only allowed with stream: true (vLLM and OpenAI both refuse it otherwise). */
export function readStreaming(body: Body): { stream: boolean; includeUsage: boolean } {
  const stream = body.stream === true;
  const options = body.stream_options;
  if (options !== undefined && options !== null && !stream) {
    throw new SimRequestError(400, 'stream_options can only be set when stream is true', 'stream_options');
  }
  const includeUsage = options !== null && typeof options === 'object' && (options as Record<string, unknown>).include_usage === true;
  return { stream, includeUsage };
}

/**
 * Builds `data:` events that share id/object/created/model: the constant prefix is serialised
 * once per response, each chunk only adds its choices. `usageNull` adds `"usage":null`, which
 * OpenAI sends on every chunk when the stream will end with a usage chunk.
 */
export function chunkWriter(id: string, object: string, created: number, model: string, usageNull: boolean): (choices: string, usage?: string) => string {
  const prefix = `data: {"id":${JSON.stringify(id)},"object":"${object}","created":${created},"model":${JSON.stringify(model)},"choices":`;
  const nullUsage = usageNull ? ',"usage":null' : '';
  return (choices, usage) => `${prefix}${choices}${usage === undefined ? nullUsage : `,"usage":${usage}`}}\n\n`;
}
