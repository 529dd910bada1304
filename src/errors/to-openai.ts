import { GatewayError } from './gateway-error.ts';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Fastify's own errors carry a `code` like FST_ERR_CTP_BODY_TOO_LARGE and a statusCode. */
interface FrameworkError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

/**
 * The one place any thrown value becomes an OpenAI-shaped error. Unknown errors never leak
 * their message or stack: they are internal_error with a generic text (the log keeps the rest).
 */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = (err ?? {}) as FrameworkError;
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('payload_too_large', 'Request body is larger than the gateway accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('unsupported_media_type', 'Unsupported Content-Type; send application/json.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('invalid_request', 'Request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('invalid_request', 'Content-Length does not match the body.');
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 && typeof e.message === 'string') {
    return new GatewayError('invalid_request', e.message, { status: e.statusCode });
  }
  return new GatewayError('internal_error', 'The gateway failed to process the request.', { cause: err });
}

export function toOpenAIErrorBody(err: GatewayError): OpenAIErrorBody {
  return { error: { message: err.message, type: err.type, param: err.param, code: err.code } };
}

export function serializeError(err: GatewayError): string {
  return JSON.stringify(toOpenAIErrorBody(err));
}
