import { formatYuan } from '../billing/money.ts';
import type { PriceSnapshot } from '../billing/types.ts';
import type { Deployment, EngineLoad } from '../gateway/routing/catalog.ts';
import type { HealthView } from '../gateway/routing/health.ts';
import type { DeploymentRecord } from '../store/repositories/deployments.ts';

/**
 * One deployment as the control plane shows it, from whatever knows about it: the running
 * router (config and loaded private deployments, with live health), or only the store and the
 * config file (the CLI on the local store, a private deployment this process has not loaded).
 */
export interface DeploymentView {
  readonly id: string;
  readonly model: string;
  /** Account id of a private deployment; null for the platform's (config) ones. */
  readonly owner: string | null;
  readonly provider: string;
  readonly providerType: string;
  readonly upstreamModel: string;
  readonly chip: string;
  /** Known for private deployments (the store has it). */
  readonly baseUrl: string | null;
  readonly hasApiKey: boolean | null;
  readonly price: PriceSnapshot | null;
  readonly weight: number;
  readonly priority: number;
  readonly maxConcurrency: number;
  /** From the router; null when no router is at hand. */
  readonly inFlight: number | null;
  readonly health: HealthView | null;
  /** When health is null: why (shown as `reason`). */
  readonly healthUnknownBecause: HealthUnknown | null;
  readonly engine: EngineLoad | null;
  /** Epoch ms (private deployments). */
  readonly createdAt: number | null;
}

/**
 * `unknown`: the CLI read the store, and health lives in gateway processes' memory.
 * `not_loaded`: in the store, but not in this process's router (the reason says why).
 */
export interface HealthUnknown {
  readonly state: 'unknown' | 'not_loaded';
  readonly reason: string;
}

/** A deployment in the running router, with the store's record when it is a private one. */
export function viewOfDeployment(d: Deployment, record: DeploymentRecord | undefined): DeploymentView {
  return {
    id: d.id,
    model: d.model,
    owner: d.owner,
    provider: d.provider.name,
    providerType: d.provider.type,
    upstreamModel: d.upstreamModel,
    chip: d.chip,
    baseUrl: record?.baseUrl ?? null,
    hasApiKey: record?.hasApiKey ?? null,
    price: d.priceSnapshot,
    weight: d.weight,
    priority: d.priority,
    maxConcurrency: d.maxConcurrency,
    inFlight: d.inFlight,
    health: d.health.view(),
    healthUnknownBecause: null,
    engine: d.engine.sampledAt > 0 ? d.engine : null,
    createdAt: record?.createdAt ?? null,
  };
}

/** A private deployment known only from the store (what the router would build from it). */
export function viewOfRecord(record: DeploymentRecord, unknown: HealthUnknown): DeploymentView {
  return {
    id: record.id,
    model: record.model,
    owner: record.accountId,
    provider: record.id,
    providerType: 'openai',
    upstreamModel: record.upstreamModel,
    chip: record.chip,
    baseUrl: record.baseUrl,
    hasApiKey: record.hasApiKey,
    price: null,
    weight: 1,
    priority: 0,
    maxConcurrency: 0,
    inFlight: null,
    health: null,
    healthUnknownBecause: unknown,
    engine: null,
    createdAt: record.createdAt,
  };
}

/** The operator's view (/admin/v1/deployments): everything routing knows, never a secret. */
export function presentAdminDeployment(v: DeploymentView): Record<string, unknown> {
  return {
    id: v.id,
    object: 'deployment',
    model: v.model,
    owner: v.owner,
    provider: v.provider,
    provider_type: v.providerType,
    upstream_model: v.upstreamModel,
    chip: v.chip,
    base_url: v.baseUrl,
    price: v.price === null ? null : presentPrice(v.price),
    // Issue #4: a deployment without a price is served free, and says so.
    free: v.price === null,
    weight: v.weight,
    priority: v.priority,
    max_concurrency: v.maxConcurrency,
    in_flight: v.inFlight,
    ...presentHealth(v),
    engine: v.engine === null ? null : { waiting: v.engine.waiting, kv_cache_usage: v.engine.kvCacheUsage, sampled_at: iso(v.engine.sampledAt) },
    created_at: v.createdAt === null ? null : seconds(v.createdAt),
  };
}

/** An account's own deployment (/maas/v1/deployments): its settings and health, never the api key. */
export function presentOwnDeployment(v: DeploymentView): Record<string, unknown> {
  return {
    id: v.id,
    object: 'deployment',
    model: v.model,
    base_url: v.baseUrl,
    upstream_model: v.upstreamModel,
    chip: v.chip,
    owner: v.owner,
    api_key_set: v.hasApiKey === true,
    created_at: v.createdAt === null ? null : seconds(v.createdAt),
    ...presentHealth(v),
  };
}

function presentHealth(v: DeploymentView): Record<string, unknown> {
  if (v.health === null) {
    return { state: v.healthUnknownBecause?.state ?? 'unknown', cooldown_until: null, reason: v.healthUnknownBecause?.reason ?? null, error_rate: null, latency_ms: null };
  }
  return {
    state: v.health.state,
    cooldown_until: v.health.cooldownUntil === null ? null : iso(v.health.cooldownUntil),
    reason: v.health.reason,
    error_rate: v.health.errorRate,
    latency_ms: v.health.latencyMs,
  };
}

/** Decimal yuan per 1K tokens, like the config file. */
function presentPrice(p: PriceSnapshot): Record<string, string | null> {
  return { input: formatYuan(p.input), output: formatYuan(p.output), cached_input: p.cachedInput === null ? null : formatYuan(p.cachedInput) };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}
