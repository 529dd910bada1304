/**
 * Every error code the gateway emits, with its HTTP status and OpenAI error `type`.
 * docs/errors.md lists the same table; a test keeps the two in step.
 */
export const ERROR_CATALOG = {
  invalid_request: { status: 400, type: 'invalid_request_error' },
  invalid_token: { status: 401, type: 'authentication_error' },
  insufficient_quota: { status: 403, type: 'insufficient_quota' },
  permission_denied: { status: 403, type: 'permission_error' },
  model_not_found: { status: 404, type: 'invalid_request_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  payload_too_large: { status: 413, type: 'invalid_request_error' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error' },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error' },
  internal_error: { status: 500, type: 'server_error' },
  upstream_error: { status: 502, type: 'server_error' },
  service_unavailable: { status: 503, type: 'server_error' },
  upstream_timeout: { status: 504, type: 'server_error' },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export const ERROR_CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];

/** The code a bare HTTP status maps to, for upstream errors that carry no usable code of ours. */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400: return 'invalid_request';
    case 401: return 'invalid_token';
    case 403: return 'permission_denied';
    case 404: return 'model_not_found';
    case 405: return 'method_not_allowed';
    case 413: return 'payload_too_large';
    case 415: return 'unsupported_media_type';
    case 429: return 'rate_limit_exceeded';
    case 502: return 'upstream_error';
    case 503: return 'service_unavailable';
    case 504: return 'upstream_timeout';
    default: return status >= 500 ? 'internal_error' : 'invalid_request';
  }
}
