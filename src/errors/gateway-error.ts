import { ERROR_CATALOG, type ErrorCode } from './catalog.ts';

export interface GatewayErrorOptions {
  /** The request field (or header) at fault, reported as `error.param`. */
  readonly param?: string | null;
  /** Overrides the catalog status, e.g. to relay an upstream's exact status. */
  readonly status?: number;
  /** Seconds for `Retry-After` (429 and 503). */
  readonly retryAfter?: number;
  /** Extra response headers (rate-limit headers, x-should-retry…). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

/**
 * The one error class the data plane throws. Callers branch on `code`, never on message text;
 * `errors/to-openai.ts` is the only place that renders it to the wire.
 */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;
  readonly retryAfter: number | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? ERROR_CATALOG[code].status;
    this.param = options.param ?? null;
    this.retryAfter = options.retryAfter;
    this.headers = options.headers;
  }

  get type(): string {
    return ERROR_CATALOG[this.code].type;
  }
}

export function invalidRequest(message: string, param: string | null = null): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

export function modelNotFound(model: string): GatewayError {
  return new GatewayError(
    'model_not_found',
    `The model '${model}' does not exist or you do not have access to it.`,
    { param: 'model' },
  );
}

/** The upstream answered with an error of its own; status and message are relayed. */
export class UpstreamError extends GatewayError {
  /** Whether the failure says something about the deployment's health (used by routing later). */
  readonly upstreamStatus: number | undefined;
  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions & { upstreamStatus?: number } = {}) {
    super(code, message, options);
    this.name = 'UpstreamError';
    this.upstreamStatus = options.upstreamStatus;
  }
}
