import { ENDPOINT_PATHS, ENDPOINTS, type ProviderAdapter, type UpstreamRequest } from '../adapter.ts';
import type { SimResponse } from './response.ts';
import { ProbeError } from '../probe-error.ts';
import { SimulatorEngine } from './engine.ts';
import type { SimulatorOptions } from './options.ts';

/**
 * The simulator as an in-process provider: no socket, no serialisation of the request body.
 * The engine answers with Node streams exactly as an HTTP upstream would, so the relay cannot
 * tell the difference (a dropped connection is a body that errors).
 */
export function createSimulatorAdapter(name: string, options: SimulatorOptions): Omit<ProviderAdapter, 'send'> & { readonly engine: SimulatorEngine; send(request: UpstreamRequest): Promise<SimResponse> } {
  const engine = new SimulatorEngine(options);
  // In process the provider block is both sides of the wire: the key the engine demands is the
  // key the gateway sends, as an HTTP provider's `api_key` would be.
  const auth: Record<string, string> = options.api_key === undefined ? {} : { authorization: `Bearer ${options.api_key}` };
  return {
    name,
    type: 'simulator',
    capabilities: new Set(ENDPOINTS),
    engine,
    send(request: UpstreamRequest): Promise<SimResponse> {
      return engine.handle({
        method: 'POST',
        path: ENDPOINT_PATHS[request.endpoint],
        body: request.body,
        signal: request.signal,
        headers: { ...request.headers, ...auth, 'x-request-id': request.requestId },
      });
    },
    // The same request an HTTP probe sends, through the same engine code: it fails exactly when
    // the engine would refuse a client's GET /models.
    async probe(signal: AbortSignal): Promise<void> {
      const res = await engine.handle({ method: 'GET', path: '/models', body: undefined, signal, headers: auth });
      if (res.status < 200 || res.status >= 300) throw new ProbeError(res.status, `GET /models answered ${res.status}`);
    },
    async metricsText(): Promise<string> {
      return engine.metricsText();
    },
    async close(): Promise<void> {
      // Nothing to release: in-flight streams end with their requests' signals.
    },
  };
}
