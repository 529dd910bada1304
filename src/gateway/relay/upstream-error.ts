import type { UpstreamResponse } from '../../providers/adapter.ts';
import { codeForStatus } from '../../errors/catalog.ts';
import { UpstreamError } from '../../errors/gateway-error.ts';
import { readBody } from './read-body.ts';

const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * Turns an upstream's non-2xx answer into our error: OpenAI's nested shape, vLLM's integer codes,
 * the Chinese platforms' `{code,msg}` and plain HTML pages all end up as one OpenAI error object.
 * Statuses that describe the gateway's own relation to the upstream (its key, its quota) are
 * not the caller's fault and become 502, so a client never sees 401 for a key that is valid.
 */
export async function readUpstreamError(status: number, headers: Readonly<Record<string, unknown>>, body: UpstreamResponse['body'], provider: string): Promise<UpstreamError> {
  let text = '';
  try {
    text = (await readBody(body, ERROR_BODY_LIMIT)).toString('utf8');
  } catch {
    // An oversized or broken error body still yields an error with the upstream's status.
  }
  const parsed = parseErrorBody(text);
  const message = parsed.message ?? `The upstream returned HTTP ${status}.`;
  if (status === 401 || status === 403) {
    return new UpstreamError('upstream_error', `The upstream provider '${provider}' rejected the gateway's credentials (HTTP ${status}).`, {
      upstreamStatus: status,
    });
  }
  if (status === 429) {
    return new UpstreamError('rate_limit_exceeded', message, { upstreamStatus: status, retryAfter: retryAfterSeconds(headers['retry-after']) });
  }
  if (status === 408) return new UpstreamError('upstream_timeout', message, { upstreamStatus: status });
  const code = codeForStatus(status);
  const clientStatus = status === 422 ? 400 : status >= 400 && status < 600 ? status : 502;
  return new UpstreamError(code, message, { status: clientStatus, param: parsed.param, upstreamStatus: status });
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
  const root = json as Record<string, unknown>;
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
