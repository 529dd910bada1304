import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import type { ValueError } from '@sinclair/typebox/errors';
import { invalidRequest } from '../../errors/gateway-error.ts';
import type { Endpoint } from '../../providers/adapter.ts';
import { ChatRequestSchema, CompletionRequestSchema, EmbeddingRequestSchema } from './schemas.ts';

export type JsonObject = Record<string, unknown>;

/**
 * What the JSON body parser hands on for a body it could not read, instead of failing there:
 * a parser error makes Fastify close the connection, so a client's pipelined or kept-alive
 * requests would go with it. The validators below turn these into the 400.
 */
export const UNPARSABLE_BODY: unique symbol = Symbol('unparsable JSON body');
export const EMPTY_BODY: unique symbol = Symbol('empty body');

function requireReadable(body: unknown): void {
  if (body === UNPARSABLE_BODY) throw invalidRequest('We could not parse the JSON body of your request. Send valid JSON.');
  if (body === EMPTY_BODY) throw invalidRequest('The request body is empty; send a JSON object.');
}

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
  requireReadable(body);
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
  requireReadable(body);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidRequest('The request body must be a JSON object.');
  }
  if (!check.Check(body)) throw describeFirstError(check, body);
  return body as T;
}

/**
 * The error to report. TypeBox reports a failed union (`T | null`, `string | string[]`) at the
 * union itself ("expected union value"); the person has to fix the member they meant: the one
 * whose type matches the value they sent (so `temperature: 3` reads "expected number to be less
 * or equal to 2", not "expected null"), else the deepest. When the members differ in a constant
 * at one field (`response_format.type`), the message lists them all.
 */
function deepest(error: ValueError): ValueError {
  if (error.errors.length === 0) return error;
  const variants = error.errors.map(firstErrors).filter((errors) => errors.length > 0);
  // A member whose constants all matched and that failed inside the value (a tagged object's
  // `type` was right, another field was not) is the one the person meant.
  const depth = depthOf(error.path);
  const tagged = variants.filter((errors) => !errors.some(isConstant) && depthOf(errors[0]!.path) > depth);
  const pool = tagged.length > 0 && tagged.length < variants.length ? tagged : variants;
  let best: ValueError | undefined;
  let bestScore = -1;
  for (const errors of pool) {
    const candidate = deepest(errors[0]!);
    const score = depthOf(candidate.path) * 2 + (sameKind(candidate) ? 1 : 0);
    if (score > bestScore) [best, bestScore] = [candidate, score];
  }
  if (best === undefined) return error;
  return isConstant(best) ? constantsAt(variants, best) : best;
}

/** What a member reports is read only this far: a bad array of 100,000 items must not cost 100,000 errors. */
const ERRORS_PER_MEMBER = 8;

function firstErrors(iterator: Iterable<ValueError>): ValueError[] {
  const errors: ValueError[] = [];
  for (const e of iterator) {
    errors.push(e);
    if (errors.length === ERRORS_PER_MEMBER) break;
  }
  return errors;
}

function depthOf(pointer: string): number {
  let depth = 0;
  for (let i = 0; i < pointer.length; i++) if (pointer.charCodeAt(i) === 47 /* / */) depth++;
  return depth;
}

function sameKind(error: ValueError): boolean {
  const schema = error.schema as { type?: unknown; const?: unknown };
  const value = error.value;
  if (schema.const !== undefined) return typeof schema.const === typeof value;
  const kind = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return schema.type === kind || (schema.type === 'integer' && kind === 'number');
}

function isConstant(error: ValueError): boolean {
  return (error.schema as { const?: unknown }).const !== undefined;
}

/** Every constant the union's members accept at `chosen`'s field, as one error. */
function constantsAt(variants: ValueError[][], chosen: ValueError): ValueError {
  const allowed: unknown[] = [];
  for (const errors of variants) {
    for (const e of errors) if (e.path === chosen.path && isConstant(e)) allowed.push((e.schema as unknown as { const: unknown }).const);
  }
  if (allowed.length < 2) return chosen;
  return { ...chosen, message: `Expected one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}` };
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
