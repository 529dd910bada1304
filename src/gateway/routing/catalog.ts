import type { GatewayConfig } from '../../config/load.ts';
import type { ModelKind, Price } from '../../config/schema.ts';
import type { ProviderAdapter } from '../../providers/adapter.ts';
import { JsonShortcut } from '../../protocol/shortcut/json-shortcut.ts';
import { priceSnapshot } from '../../billing/pricing.ts';
import type { PriceSnapshot } from '../../billing/types.ts';
import { DeploymentHealth, type HealthPolicy } from './health.ts';
import { resolveTimeouts, type DeploymentTimeouts } from './timeouts.ts';

/** A self-hosted engine's own view of its load, from its Prometheus metrics (vLLM, SGLang). */
export interface EngineLoad {
  /** Requests queued inside the engine. */
  waiting: number;
  /** KV-cache usage, 0–1. */
  kvCacheUsage: number;
  /** Epoch ms of the scrape; stale samples are ignored. */
  sampledAt: number;
}

/** One place a model is served: an engine endpoint, a chip, a price. */
export interface Deployment {
  /** `Model#index` for the platform's deployments, `mif-…` for an account's private one. */
  readonly id: string;
  /** The id as the `x-maas-deployment` header carries it: percent-encoded when it is not printable ASCII. */
  readonly headerId: string;
  readonly model: string;
  /** The account a private deployment belongs to; null for the platform's. */
  readonly owner: string | null;
  readonly provider: ProviderAdapter;
  readonly upstreamModel: string;
  readonly chip: string;
  readonly price: Price | undefined;
  /** The price in integer nano-yuan per 1K tokens, parsed once; null = free. */
  readonly priceSnapshot: PriceSnapshot | null;
  readonly weight: number;
  readonly priority: number;
  /** Requests in flight at most; 0 = no limit. */
  readonly maxConcurrency: number;
  readonly timeouts: DeploymentTimeouts;
  /** Prometheus endpoint of the engine, when it has one worth reading. */
  readonly metricsUrl: string | undefined;
  readonly health: DeploymentHealth;
  /** Written by the metrics scraper, read by the router. */
  readonly engine: EngineLoad;
  /** Requests in flight; mutated by the router on dispatch and release. */
  inFlight: number;
  /** Requests ever sent here: the weighted round robin among equally loaded deployments. */
  picks: number;
  /** Learned from the last stream: the upstream ends its streams with usage. */
  reportsStreamUsage: boolean;
  /** Byte-level reader of this deployment's JSON answers (needles built once). */
  readonly jsonShortcut: JsonShortcut;
}

export interface ModelEntry {
  readonly id: string;
  readonly kind: ModelKind;
  readonly ownedBy: string;
  readonly created: number;
  readonly maxOutputTokens: number | undefined;
  readonly deployments: readonly Deployment[];
  /** The `/v1/models` object, serialised once. */
  readonly json: string;
}

const EMBEDDING_NAME = /embed|bge|m3e|gte-/i;

/** Builds the in-memory model table the hot path reads; nothing here is computed per request. */
export function buildCatalog(
  config: GatewayConfig,
  adapters: ReadonlyMap<string, ProviderAdapter>,
  policy: HealthPolicy,
  now = Date.now(),
): Map<string, ModelEntry> {
  const created = Math.floor(now / 1000);
  const catalog = new Map<string, ModelEntry>();
  for (const [id, model] of Object.entries(config.models)) {
    const deployments = model.deployments.map((d, i): Deployment => {
      const provider = config.providers[d.provider]!;
      return createDeployment({
        id: d.id ?? `${id}#${i}`,
        model: id,
        owner: null,
        provider: adapters.get(d.provider)!,
        upstreamModel: d.upstream_model ?? id,
        chip: d.chip ?? 'default',
        price: d.price ?? model.price,
        weight: d.weight ?? 1,
        priority: d.priority ?? 0,
        maxConcurrency: d.max_concurrency ?? 0,
        timeouts: resolveTimeouts(provider.timeouts, d.timeouts),
        metricsUrl: d.metrics_url ?? engineMetricsUrl(provider.type, provider.base_url),
        policy,
      });
    });
    const ownedBy = model.owned_by ?? deployments[0]!.provider.type;
    const modelCreated = model.created ?? created;
    catalog.set(id, {
      id,
      kind: model.kind ?? (EMBEDDING_NAME.test(id) ? 'embedding' : 'chat'),
      ownedBy,
      created: modelCreated,
      maxOutputTokens: model.max_output_tokens,
      deployments,
      json: JSON.stringify({ id, object: 'model', created: modelCreated, owned_by: ownedBy }),
    });
  }
  return catalog;
}

/** What a deployment is made of; the rest of `Deployment` is runtime state `createDeployment` starts fresh. */
export type DeploymentSpec = Pick<
  Deployment,
  'id' | 'model' | 'owner' | 'provider' | 'upstreamModel' | 'chip' | 'price' | 'weight' | 'priority' | 'maxConcurrency' | 'timeouts' | 'metricsUrl'
> & { readonly policy: HealthPolicy };

/** A deployment with fresh runtime state; the one constructor for config and private deployments alike. */
export function createDeployment(spec: DeploymentSpec): Deployment {
  return {
    id: spec.id,
    headerId: headerSafe(spec.id),
    model: spec.model,
    owner: spec.owner,
    provider: spec.provider,
    upstreamModel: spec.upstreamModel,
    chip: spec.chip,
    price: spec.price,
    priceSnapshot: priceSnapshot(spec.price),
    weight: spec.weight,
    priority: spec.priority,
    maxConcurrency: spec.maxConcurrency,
    timeouts: spec.timeouts,
    metricsUrl: spec.metricsUrl,
    health: new DeploymentHealth(spec.policy),
    engine: { waiting: 0, kvCacheUsage: 0, sampledAt: 0 },
    inFlight: 0,
    picks: 0,
    reportsStreamUsage: false,
    jsonShortcut: new JsonShortcut(spec.model, spec.upstreamModel),
  };
}

/** Header values are bytes: a model named `千问` would make Node refuse the whole response. */
function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/** Engines known to publish vLLM/SGLang metrics at `/metrics` beside their `/v1` API. */
const METRICS_ENGINES = new Set(['vllm', 'sglang']);

function engineMetricsUrl(type: string, baseUrl: string | undefined): string | undefined {
  if (!METRICS_ENGINES.has(type) || baseUrl === undefined) return undefined;
  return new URL('/metrics', baseUrl).href;
}
