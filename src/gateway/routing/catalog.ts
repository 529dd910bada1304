import type { GatewayConfig } from '../../config/load.ts';
import type { ModelKind, Price } from '../../config/schema.ts';
import type { ProviderAdapter } from '../../providers/adapter.ts';
import { JsonShortcut } from '../../protocol/shortcut/json-shortcut.ts';
import { priceSnapshot } from '../../billing/pricing.ts';
import type { PriceSnapshot } from '../../billing/types.ts';

/** One place a model is served: an engine endpoint, a chip, a price. */
export interface Deployment {
  readonly id: string;
  readonly model: string;
  readonly provider: ProviderAdapter;
  readonly upstreamModel: string;
  readonly chip: string;
  readonly price: Price | undefined;
  /** The price in integer nano-yuan per 1K tokens, parsed once; null = free. */
  readonly priceSnapshot: PriceSnapshot | null;
  readonly weight: number;
  readonly priority: number;
  /** Overall deadline for one upstream call, from the provider's `timeouts.total_ms`. */
  readonly deadlineMs: number;
  /** Requests in flight; mutated by the router on dispatch and release. */
  inFlight: number;
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

const DEFAULT_DEADLINE_MS = 600_000;
const EMBEDDING_NAME = /embed|bge|m3e|gte-/i;

/** Builds the in-memory model table the hot path reads; nothing here is computed per request. */
export function buildCatalog(config: GatewayConfig, adapters: ReadonlyMap<string, ProviderAdapter>, now = Date.now()): Map<string, ModelEntry> {
  const created = Math.floor(now / 1000);
  const catalog = new Map<string, ModelEntry>();
  for (const [id, model] of Object.entries(config.models)) {
    const deployments = model.deployments.map((d, i): Deployment => ({
      id: `${id}#${i}`,
      model: id,
      provider: adapters.get(d.provider)!,
      upstreamModel: d.upstream_model ?? id,
      chip: d.chip ?? 'default',
      price: d.price ?? model.price,
      priceSnapshot: priceSnapshot(d.price ?? model.price),
      weight: d.weight ?? 1,
      priority: d.priority ?? 0,
      deadlineMs: config.providers[d.provider]?.timeouts?.total_ms ?? DEFAULT_DEADLINE_MS,
      inFlight: 0,
      reportsStreamUsage: false,
      jsonShortcut: new JsonShortcut(id, d.upstream_model ?? id),
    }));
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
