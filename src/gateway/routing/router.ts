import { GatewayError, modelNotFound } from '../../errors/gateway-error.ts';
import type { Endpoint } from '../../providers/adapter.ts';
import type { Deployment, ModelEntry } from './catalog.ts';

export interface RouteRequest {
  readonly model: string;
  readonly endpoint: Endpoint;
  /** `X-AI-Provider`: only this provider's deployments. */
  readonly provider: string | undefined;
}

/**
 * Picks the deployment for a request: among those that match, the lowest priority value wins,
 * then the fewest requests in flight relative to weight. In-flight counts are kept here, so
 * every dispatch must be paired with `release`.
 */
export class Router {
  readonly #catalog: ReadonlyMap<string, ModelEntry>;
  readonly #providers: ReadonlySet<string>;

  constructor(catalog: ReadonlyMap<string, ModelEntry>, providerNames: Iterable<string>) {
    this.#catalog = catalog;
    this.#providers = new Set(providerNames);
  }

  get models(): ReadonlyMap<string, ModelEntry> {
    return this.#catalog;
  }

  /** 400 for an `X-AI-Provider` no deployment uses; checked before admission spends a limit on it. */
  checkProvider(provider: string | undefined): void {
    if (provider !== undefined && !this.#providers.has(provider)) {
      throw new GatewayError('invalid_request', `Unknown provider '${provider}' in X-AI-Provider.`, { param: 'X-AI-Provider' });
    }
  }

  pick(request: RouteRequest): Deployment {
    this.checkProvider(request.provider);
    const entry = this.#catalog.get(request.model);
    if (entry === undefined) throw modelNotFound(request.model);
    let best: Deployment | undefined;
    for (const d of entry.deployments) {
      if (request.provider !== undefined && d.provider.name !== request.provider) continue;
      if (!d.provider.capabilities.has(request.endpoint) || d.weight === 0) continue;
      if (best === undefined || isBetter(d, best)) best = d;
    }
    if (best === undefined) throw modelNotFound(request.model);
    best.inFlight++;
    return best;
  }

  release(deployment: Deployment): void {
    deployment.inFlight--;
  }
}

function isBetter(a: Deployment, b: Deployment): boolean {
  if (a.priority !== b.priority) return a.priority < b.priority;
  // Compare inFlight/weight without division: a.inFlight * b.weight < b.inFlight * a.weight.
  return a.inFlight * b.weight < b.inFlight * a.weight;
}
