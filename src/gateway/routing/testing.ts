import type { ProviderAdapter } from '../../providers/adapter.ts';
import { createDeployment, type Deployment, type DeploymentSpec } from './catalog.ts';
import { DEFAULT_HEALTH_POLICY } from './health.ts';
import { DEFAULT_TIMEOUTS } from './timeouts.ts';

/** A deployment for routing tests: model `m` on nvidia, weight 1, no price, default timeouts and policy; `fields` override. */
export function testDeployment(provider: ProviderAdapter, fields: Partial<DeploymentSpec> = {}): Deployment {
  return createDeployment({
    id: 'd',
    model: 'm',
    owner: null,
    provider,
    upstreamModel: 'm',
    chip: 'nvidia',
    price: undefined,
    weight: 1,
    priority: 0,
    maxConcurrency: 0,
    timeouts: DEFAULT_TIMEOUTS,
    metricsUrl: undefined,
    policy: DEFAULT_HEALTH_POLICY,
    ...fields,
  });
}
