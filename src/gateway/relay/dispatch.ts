import { GatewayError, UpstreamError } from '../../errors/gateway-error.ts';
import type { UpstreamRequest, UpstreamResponse } from '../../providers/adapter.ts';
import type { Deployment } from '../routing/catalog.ts';
import { describeTimeout, UpstreamTimeout } from '../routing/timeouts.ts';

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

// Connect timeouts are the pool's; every later phase is timed by the call's own timers (gatewayTimeout).
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/**
 * The client went away and its call was aborted: nothing the upstream did wrong, so routing must
 * not count it against the deployment. Nobody reads the answer; 499 (nginx's "client closed
 * request") is what the usage record and the log show.
 */
export class ClientGone extends GatewayError {
  constructor(cause: unknown) {
    super('invalid_request', 'The client closed the connection before the answer.', { status: 499, cause });
    this.name = 'ClientGone';
  }
}

export function transportError(err: unknown, signal: AbortSignal, provider: string): GatewayError {
  if (err instanceof GatewayError) return err;
  const timeout = gatewayTimeout(signal, provider);
  if (timeout !== undefined) return timeout;
  if (signal.aborted) return new ClientGone(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) {
    return new UpstreamError('upstream_timeout', `The upstream provider '${provider}' timed out.`, { cause: err });
  }
  return new UpstreamError('upstream_error', `The upstream provider '${provider}' could not be reached.`, { cause: err });
}

/** The 504 for a call the gateway's own timers aborted; undefined when they did not. */
export function gatewayTimeout(signal: AbortSignal, provider: string): UpstreamError | undefined {
  if (!signal.aborted || !(signal.reason instanceof UpstreamTimeout)) return undefined;
  return new UpstreamError('upstream_timeout', describeTimeout(signal.reason, provider));
}
