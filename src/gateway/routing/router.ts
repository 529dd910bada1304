import { GatewayError, modelNotFound } from '../../errors/gateway-error.ts';
import type { Endpoint } from '../../providers/adapter.ts';
import type { Deployment, ModelEntry } from './catalog.ts';

export interface RouteRequest {
  /** The public model id, or a private deployment's `mif-…` id. */
  readonly model: string;
  readonly endpoint: Endpoint;
  /** `X-AI-Provider`: only this provider's deployments. */
  readonly provider: string | undefined;
  /** `/maas/{model}/{chip}/…`: only deployments on this chip. */
  readonly chip: string | undefined;
  /** `/maas/deployment/{id}/…`: exactly this deployment. */
  readonly deploymentId: string | undefined;
  /** Private deployments answer only their owner's keys. */
  readonly accountId: string;
}

/** What a request may be sent to, resolved once before admission; `pick` chooses among it per attempt. */
export interface Route {
  /** The model's catalog entry; undefined for a private deployment (any endpoint, no default cap). */
  readonly entry: ModelEntry | undefined;
  readonly candidates: readonly Deployment[];
  readonly endpoint: Endpoint;
  readonly provider: string | undefined;
}

/** Engine metrics older than this are not trusted for balancing. */
const ENGINE_SAMPLE_TTL_MS = 10_000;
/** Load added for an engine whose KV cache is nearly full: it will queue or preempt anything new. */
const KV_SATURATED = 0.95;
const KV_SATURATION_LOAD = 1_000;

/**
 * Chooses deployments. Resolution (model, chip, deployment id, ownership) happens once per
 * request; `pick` then runs per attempt over the candidates: healthy and not yet tried, within
 * the best priority that has such members, the lowest load relative to weight, ties broken by
 * weighted round robin. In-flight counts are kept here, so every pick must be paired with
 * `release`.
 */
export class Router {
  readonly #catalog: ReadonlyMap<string, ModelEntry>;
  readonly #providers: ReadonlySet<string>;
  /** Per model, per chip: the candidates of an M×N route, built once. */
  readonly #byChip = new Map<string, Map<string, readonly Deployment[]>>();
  /** Deployments addressable by id: config ones and accounts' private (`mif-…`) ones. */
  readonly #byId = new Map<string, Deployment>();

  constructor(catalog: ReadonlyMap<string, ModelEntry>, providerNames: Iterable<string>) {
    this.#catalog = catalog;
    this.#providers = new Set(providerNames);
    for (const entry of catalog.values()) {
      const chips = new Map<string, Deployment[]>();
      for (const d of entry.deployments) {
        let list = chips.get(d.chip);
        if (list === undefined) chips.set(d.chip, (list = []));
        list.push(d);
        this.#byId.set(d.id, d);
      }
      this.#byChip.set(entry.id, chips);
    }
  }

  get models(): ReadonlyMap<string, ModelEntry> {
    return this.#catalog;
  }

  /** Every deployment, config and private, for the admin view, probes and metrics. */
  deployments(): IterableIterator<Deployment> {
    return this.#byId.values();
  }

  deployment(id: string): Deployment | undefined {
    return this.#byId.get(id);
  }

  /** Adds or replaces an account's private deployment. */
  addPrivate(deployment: Deployment): void {
    this.#byId.set(deployment.id, deployment);
  }

  removePrivate(id: string): Deployment | undefined {
    const deployment = this.#byId.get(id);
    if (deployment?.owner == null) return undefined;
    this.#byId.delete(id);
    return deployment;
  }

  /** 400 for an `X-AI-Provider` no deployment uses; checked before admission spends a limit on it. */
  checkProvider(provider: string | undefined): void {
    if (provider !== undefined && !this.#providers.has(provider)) {
      throw new GatewayError('invalid_request', `Unknown provider '${provider}' in X-AI-Provider.`, { param: 'X-AI-Provider' });
    }
  }

  /** The candidates for a request, or 404 when the model, chip or deployment is not there for this caller. */
  resolve(request: RouteRequest): Route {
    this.checkProvider(request.provider);
    const { endpoint, provider } = request;
    const privateId = request.deploymentId ?? (request.model.startsWith('mif-') ? request.model : undefined);
    if (privateId !== undefined) {
      const deployment = this.#byId.get(privateId);
      // Someone else's deployment answers exactly like one that does not exist.
      if (deployment === undefined || (deployment.owner !== null && deployment.owner !== request.accountId)) throw modelNotFound(privateId);
      const entry = deployment.owner === null ? this.#catalog.get(deployment.model) : undefined;
      return { entry, candidates: [deployment], endpoint, provider };
    }
    const entry = this.#catalog.get(request.model);
    if (entry === undefined) throw modelNotFound(request.model);
    if (request.chip === undefined) return { entry, candidates: entry.deployments, endpoint, provider };
    const candidates = this.#byChip.get(entry.id)?.get(request.chip);
    if (candidates === undefined) {
      const chips = [...(this.#byChip.get(entry.id)?.keys() ?? [])].join(', ');
      throw new GatewayError('model_not_found', `The model '${entry.id}' is not served on chip '${request.chip}'. Available chips: ${chips}.`, {
        param: 'chip',
      });
    }
    return { entry, candidates, endpoint, provider };
  }

  /**
   * The deployment for the next attempt, counted as in flight; undefined when every candidate
   * has been tried. When every untried candidate is cooling down, the one whose cooldown ends
   * first is used anyway (panic routing, as Envoy does): with no healthy alternative, a breaker
   * would only turn an upstream's intermittent failures into a total outage. Throws when nothing
   * can be tried at all (every candidate down, at its concurrency limit, or none matches).
   */
  pick(route: Route, tried: ReadonlySet<Deployment>, now = Date.now()): Deployment | undefined {
    let best: Deployment | undefined;
    let cooling: Deployment | undefined;
    let coolingMs = Infinity;
    let matched = 0;
    let full = 0;
    for (const d of route.candidates) {
      if (route.provider !== undefined && d.provider.name !== route.provider) continue;
      if (!d.provider.capabilities.has(route.endpoint) || d.weight === 0) continue;
      matched++;
      if (tried.has(d)) continue;
      if (d.maxConcurrency > 0 && d.inFlight >= d.maxConcurrency) {
        full++;
        continue;
      }
      if (!d.health.available(now)) {
        const wait = d.health.retryAfterMs(now);
        if (wait > 0 && wait < coolingMs) {
          coolingMs = wait;
          cooling = d;
        }
        continue;
      }
      if (best === undefined || isBetter(d, best, now)) best = d;
    }
    const chosen = best ?? cooling;
    if (chosen !== undefined) {
      chosen.inFlight++;
      chosen.picks++;
      chosen.health.dispatched();
      return chosen;
    }
    if (tried.size > 0) return undefined;
    throw unavailable(route, matched, full);
  }

  /**
   * The attempt is over, whatever its outcome (recorded on the deployment's health before this).
   * `trial`: it was picked as the deployment's half-open trial (it was half-open right after
   * the pick); if it ended without a verdict, the next request becomes the trial.
   */
  release(deployment: Deployment, trial = false): void {
    deployment.inFlight--;
    if (trial) deployment.health.trialEnded();
  }
}

function unavailable(route: Route, matched: number, full: number): GatewayError {
  const what = route.entry?.id ?? route.candidates[0]?.id ?? 'the model';
  if (matched === 0) return modelNotFound(what);
  if (full > 0) {
    return new GatewayError('service_unavailable', `Every deployment of '${what}' is at its concurrency limit; retry shortly.`, { retryAfter: 1 });
  }
  return new GatewayError('service_unavailable', `No deployment of '${what}' is available: the upstreams are out of service.`);
}

/** Lower priority value first; then lower load per weight; then fewer past picks per weight. */
function isBetter(a: Deployment, b: Deployment, now: number): boolean {
  if (a.priority !== b.priority) return a.priority < b.priority;
  // Compare load/weight without division: a.load * b.weight < b.load * a.weight.
  const left = load(a, now) * b.weight;
  const right = load(b, now) * a.weight;
  if (left !== right) return left < right;
  return a.picks * b.weight < b.picks * a.weight;
}

/** Requests in flight from here, plus what a self-hosted engine reports queued or saturated. */
function load(d: Deployment, now: number): number {
  const engine = d.engine;
  if (now - engine.sampledAt > ENGINE_SAMPLE_TTL_MS) return d.inFlight;
  return d.inFlight + engine.waiting + (engine.kvCacheUsage >= KV_SATURATED ? KV_SATURATION_LOAD : 0);
}
