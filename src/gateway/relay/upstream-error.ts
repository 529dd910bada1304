import { MAX_ERROR_BODY_BYTES, type UpstreamResponse } from '../../providers/adapter.ts';
import { codeForStatus } from '../../errors/catalog.ts';
import { UpstreamError } from '../../errors/gateway-error.ts';
import type { Deployment } from '../routing/catalog.ts';
import { readBody } from './read-body.ts';


/**
 * Turns an upstream's non-2xx answer into our error: OpenAI's nested shape, vLLM's integer codes,
 * the Chinese platforms' `{code,msg}` and plain HTML pages all end up as one OpenAI error object.
 * Statuses that describe the gateway's own relation to the upstream (its key, its quota) are
 * not the caller's fault and become 502, so a client never sees 401 for a key that is valid.
 */
export async function readUpstreamError(status: number, headers: Readonly<Record<string, unknown>>, body: UpstreamResponse['body'], source: ErrorSource): Promise<UpstreamError> {
  let text = '';
  try {
    text = (await readBody(body, MAX_ERROR_BODY_BYTES)).toString('utf8');
  } catch {
    // An oversized or broken error body still yields an error with the upstream's status.
  }
  return upstreamErrorOf(status, inPublicTerms(parseErrorBody(text), source), headers, source.provider.name, status);
}

/**
 * A 2xx whose body is an error instead of an answer: the Chinese platforms wrap failures in
 * `{"code","msg"}` with HTTP 200, and some proxies send `{"error":{…}}` with 200. The body's own
 * `code` (or `status`), when it is an HTTP status, stands for the status; anything else is the
 * upstream's fault (502).
 */
export function errorInAnswer(doc: Readonly<Record<string, unknown>>, source: ErrorSource): UpstreamError {
  const parsed = inPublicTerms(errorFields(doc), source);
  const claimed = httpStatusIn(doc);
  const status = claimed ?? 502;
  if (parsed.message === undefined) parsed.message = `The upstream answered HTTP 200 without a result${claimed === undefined ? '' : ` (code ${claimed})`}.`;
  return upstreamErrorOf(status, parsed, {}, source.provider.name, claimed);
}

/**
 * Asked for a stream, the upstream sent one JSON document instead of events: a platform's error
 * envelope (judged as above), or an engine that ignored `stream`, which is its fault (502).
 */
export async function readJsonInsteadOfStream(body: UpstreamResponse['body'], source: ErrorSource): Promise<UpstreamError> {
  let doc: unknown;
  try {
    doc = JSON.parse((await readBody(body, MAX_ERROR_BODY_BYTES)).toString('utf8'));
  } catch {
    doc = undefined;
  }
  if (doc !== null && typeof doc === 'object' && !Array.isArray(doc) && !Array.isArray((doc as Record<string, unknown>).choices)) {
    return errorInAnswer(doc as Record<string, unknown>, source);
  }
  return new UpstreamError('upstream_error', 'The upstream answered a streamed request with one JSON document instead of an event stream.');
}

/** The deployment an error came from: its provider's name, and the model's two names. */
export type ErrorSource = Pick<Deployment, 'model' | 'upstreamModel'> & { readonly provider: { readonly name: string } };

/**
 * The upstream's own message, in the client's terms: an engine names the model it serves
 * (`Qwen/Qwen2.5-7B-Instruct` does not exist…), which is the platform's business, not the
 * caller's; the public name stands in for it.
 */
function inPublicTerms(parsed: ParsedError, source: ErrorSource): ParsedError {
  const { message } = parsed;
  if (message === undefined || source.upstreamModel === source.model || !message.includes(source.upstreamModel)) return parsed;
  return { ...parsed, message: message.replaceAll(source.upstreamModel, source.model) };
}

function httpStatusIn(doc: Readonly<Record<string, unknown>>): number | undefined {
  const nested = doc.error !== null && typeof doc.error === 'object' ? (doc.error as Record<string, unknown>) : undefined;
  for (const value of [doc.code, doc.status, nested?.code, nested?.status]) {
    const n = typeof value === 'string' && /^\d{3}$/.test(value) ? Number(value) : value;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 400 && n <= 599) return n;
  }
  return undefined;
}

function upstreamErrorOf(
  status: number,
  parsed: ParsedError,
  headers: Readonly<Record<string, unknown>>,
  provider: string,
  /** What the upstream itself said (undefined: a 200 whose body claims no status). */
  upstreamStatus: number | undefined,
): UpstreamError {
  const message = parsed.message ?? `The upstream returned HTTP ${status}.`;
  if (status === 401 || status === 403) {
    return new UpstreamError('upstream_error', `The upstream provider '${provider}' rejected the gateway's credentials (HTTP ${status}).`, {
      upstreamStatus,
    });
  }
  if (status === 429) {
    return new UpstreamError('rate_limit_exceeded', message, { upstreamStatus, retryAfter: retryAfterSeconds(headers['retry-after']) });
  }
  if (status === 408) return new UpstreamError('upstream_timeout', message, { upstreamStatus });
  const code = codeForStatus(status);
  const clientStatus = status === 422 ? 400 : status >= 400 && status < 600 ? status : 502;
  return new UpstreamError(code, message, { status: clientStatus, param: parsed.param, upstreamStatus });
}

interface ParsedError {
  message: string | undefined;
  param: string | null;
}

function parseErrorBody(text: string): ParsedError {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { message: undefined, param: null };
  }
  if (json === null || typeof json !== 'object') return { message: undefined, param: null };
  return errorFields(json as Record<string, unknown>);
}

function errorFields(root: Readonly<Record<string, unknown>>): ParsedError {
  const nested = root.error;
  const source = nested !== null && typeof nested === 'object' ? (nested as Record<string, unknown>) : root;
  const message = firstString(source.message, source.msg, source.detail, typeof nested === 'string' ? nested : undefined, root.message, root.msg);
  return { message, param: typeof source.param === 'string' ? source.param : null };
}

function firstString(...values: unknown[]): string | undefined {
  for (const v of values) if (typeof v === 'string' && v.length > 0) return v;
  return undefined;
}

/** SDKs honour Retry-After only within 0–60 s; clamp to 1–60 whole seconds. */
function retryAfterSeconds(value: unknown): number {
  const seconds = Math.ceil(Number(value));
  return Number.isFinite(seconds) ? Math.min(60, Math.max(1, seconds)) : 1;
}
