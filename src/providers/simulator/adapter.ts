import { ENDPOINT_PATHS, ENDPOINTS, type ProviderAdapter, type UpstreamRequest, type UpstreamResponse } from '../adapter.ts';
import { SimulatorEngine } from './engine.ts';
import type { SimulatorOptions } from './options.ts';

/**
 * The simulator as an in-process provider: no socket, no serialisation of the request body.
 * The engine answers with Node streams exactly as an HTTP upstream would, so the relay cannot
 * tell the difference (a dropped connection is a body that errors).
 */
export function createSimulatorAdapter(name: string, options: SimulatorOptions): ProviderAdapter & { readonly engine: SimulatorEngine } {
  const engine = new SimulatorEngine(options);
  return {
    name,
    type: 'simulator',
    capabilities: new Set(ENDPOINTS),
    engine,
    send(request: UpstreamRequest): Promise<UpstreamResponse> {
      return engine.handle({
        method: 'POST',
        path: ENDPOINT_PATHS[request.endpoint],
        body: request.body,
        signal: request.signal,
        headers: { ...request.headers, 'x-request-id': request.requestId },
      });
    },
    async close(): Promise<void> {
      // Nothing to release: in-flight streams end with their requests' signals.
    },
  };
}
