import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import type { ValueError } from '@sinclair/typebox/errors';
import { invalidRequest } from '../../errors/gateway-error.ts';
import type { Endpoint } from '../../providers/adapter.ts';
import { ChatRequestSchema, CompletionRequestSchema, EmbeddingRequestSchema } from './schemas.ts';

export type JsonObject = Record<string, unknown>;

const compiled: Readonly<Record<Endpoint, TypeCheck<TSchema>>> = {
  chat: TypeCompiler.Compile(ChatRequestSchema),
  completions: TypeCompiler.Compile(CompletionRequestSchema),
  embeddings: TypeCompiler.Compile(EmbeddingRequestSchema),
};

/**
 * Checks a request body for `endpoint` and throws 400 `invalid_request` naming the first bad
 * field. `pathModel` is the model a route already fixed (M×N and deployment routes), which makes
 * the body's `model` optional.
 */
export function validateRequest(endpoint: Endpoint, body: unknown, pathModel?: string): JsonObject {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidRequest('The request body must be a JSON object.');
  }
  const request = body as JsonObject;
  if (pathModel !== undefined) request.model = pathModel;
  const check = compiled[endpoint];
  if (!check.Check(request)) throw describeFirstError(check, request);
  CROSS_FIELD_RULES[endpoint](request);
  return request;
}

/** Checks any JSON body against a compiled schema: 400 naming the first bad field. */
export function validateBody<T>(check: TypeCheck<TSchema>, body: unknown): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidRequest('The request body must be a JSON object.');
  }
  if (!check.Check(body)) throw describeFirstError(check, body);
  return body as T;
}

/**
 * The error to report: TypeBox reports a failed union (`T | null`) at the union itself; the
 * member error with the deepest path names the field a person has to fix.
 */
function deepest(error: ValueError): ValueError {
  let best = error;
  for (const variant of error.errors) {
    const first = variant.First();
    if (first === undefined) continue;
    const candidate = deepest(first);
    if (candidate.path.length > best.path.length) best = candidate;
  }
  return best;
}

function describeFirstError(check: TypeCheck<TSchema>, value: unknown) {
  const first = check.Errors(value).First();
  const error = first === undefined ? undefined : deepest(first);
  const param = error === undefined ? null : paramName(error.path);
  if (error === undefined || param === null) return invalidRequest('Invalid request body.');
  if (error.value === undefined) return invalidRequest(`Missing required parameter: '${param}'.`, param);
  return invalidRequest(`Invalid value for '${param}': ${lowerFirst(error.message)}.`, param);
}

/** '/messages/0/role' → 'messages[0].role' (OpenAI's `param` style). */
export function paramName(pointer: string): string | null {
  let out = '';
  for (const segment of pointer.split('/').slice(1)) {
    out += /^\d+$/.test(segment) ? `[${segment}]` : out === '' ? segment : `.${segment}`;
  }
  return out === '' ? null : out;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

const CROSS_FIELD_RULES: Readonly<Record<Endpoint, (r: JsonObject) => void>> = {
  chat(r) {
    requireStreamForOptions(r);
    if (r.top_logprobs != null && r.logprobs !== true) {
      throw invalidRequest("'top_logprobs' requires 'logprobs' to be true.", 'top_logprobs');
    }
    const tools = Array.isArray(r.tools) ? (r.tools as Array<{ function?: { name?: string } }>) : [];
    if (r.tool_choice != null && r.tool_choice !== 'none' && tools.length === 0) {
      throw invalidRequest("'tool_choice' is only allowed when 'tools' are specified.", 'tool_choice');
    }
    const named = r.tool_choice as { function?: { name?: string } } | string | null | undefined;
    if (named !== null && typeof named === 'object' && named.function?.name !== undefined) {
      const name = named.function.name;
      if (!tools.some((t) => t.function?.name === name)) {
        throw invalidRequest(`'tool_choice' names function '${name}', which is not in 'tools'.`, 'tool_choice');
      }
    }
    (r.messages as Array<JsonObject>).forEach((m, i) => {
      if (m.role === 'tool' && typeof m.tool_call_id !== 'string') {
        throw invalidRequest(`Missing required parameter: 'messages[${i}].tool_call_id'.`, `messages[${i}].tool_call_id`);
      }
    });
  },
  completions(r) {
    requireStreamForOptions(r);
    if (r.stream === true && typeof r.best_of === 'number' && r.best_of > 1) {
      throw invalidRequest("'best_of' cannot be used with 'stream'.", 'best_of');
    }
  },
  embeddings() {},
};

function requireStreamForOptions(r: JsonObject): void {
  if (r.stream_options != null && r.stream !== true) {
    throw invalidRequest("'stream_options' is only allowed when 'stream' is true.", 'stream_options');
  }
}
