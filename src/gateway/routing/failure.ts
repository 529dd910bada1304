import { UpstreamError } from '../../errors/gateway-error.ts';
import type { FailureKind } from './health.ts';

export interface FailureClass {
  /** What the failure says about the deployment; undefined = nothing (the request's own fault). */
  readonly kind: FailureKind | undefined;
  /** Whether another deployment may succeed where this one failed. */
  readonly retryable: boolean;
}

const CLIENT_FAULT: FailureClass = Object.freeze({ kind: undefined, retryable: false });
const TRANSIENT: FailureClass = Object.freeze({ kind: 'transient', retryable: true });
const AUTH: FailureClass = Object.freeze({ kind: 'auth', retryable: true });

/**
 * Sorts a failed attempt by error class. Connection failures, timeouts, 408, 429 and 5xx are
 * transient: the breaker counts them and the next deployment is tried. 401/403 mean the
 * gateway's credentials or balance at that upstream are wrong: the deployment is taken out,
 * and the request (which did nothing wrong) goes elsewhere. Other 4xx are the request's fault,
 * the same everywhere, so neither counted nor retried. Errors that are not the upstream's
 * (no balance, a bad body) never reach here as UpstreamError.
 */
export function classifyFailure(err: unknown): FailureClass {
  if (!(err instanceof UpstreamError)) return CLIENT_FAULT;
  const status = err.upstreamStatus;
  if (status === undefined) return TRANSIENT;
  if (status === 401 || status === 403) return AUTH;
  if (status === 408 || status === 429 || status >= 500) return TRANSIENT;
  return CLIENT_FAULT;
}

/** The reason shown in the admin view and the log, without anything secret. */
export function failureReason(err: unknown): string {
  if (!(err instanceof UpstreamError)) return 'unknown failure';
  const status = err.upstreamStatus === undefined ? err.code : `HTTP ${err.upstreamStatus}`;
  return `${status}: ${err.message}`.slice(0, 300);
}
