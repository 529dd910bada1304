import { GatewayError, UpstreamError } from '../../errors/gateway-error.ts';
import type { UpstreamRequest, UpstreamResponse } from '../../providers/adapter.ts';
import type { Deployment } from '../routing/catalog.ts';

/** Why the gateway aborted an upstream call itself (as opposed to the client leaving). */
export class DeadlineExceeded extends Error {
  constructor() {
    super('upstream deadline exceeded');
    this.name = 'DeadlineExceeded';
  }
}

/**
 * Sends one request to one deployment and maps transport failures to typed errors: timeouts to
 * 504, connection failures to 502. The caller owns the abort signal.
 */
export async function dispatch(deployment: Deployment, request: UpstreamRequest): Promise<UpstreamResponse> {
  try {
    return await deployment.provider.send(request);
  } catch (err) {
    throw transportError(err, request.signal, deployment.provider.name);
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

export function transportError(err: unknown, signal: AbortSignal, provider: string): GatewayError {
  if (err instanceof GatewayError) return err;
  if (signal.aborted && signal.reason instanceof DeadlineExceeded) {
    return new UpstreamError('upstream_timeout', `The upstream provider '${provider}' did not answer within the deadline.`);
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) {
    return new UpstreamError('upstream_timeout', `The upstream provider '${provider}' timed out.`, { cause: err });
  }
  return new UpstreamError('upstream_error', `The upstream provider '${provider}' could not be reached.`, { cause: err });
}
