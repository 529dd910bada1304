import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../observability/logger.ts';
import type { ProviderAdapter } from '../../providers/adapter.ts';
import { createAdapter } from '../../providers/registry.ts';
import { parseSimulatorOptions } from '../../providers/simulator/options.ts';
import { startSimulatorServer } from '../../providers/simulator/server.ts';
import type { Deployment } from './catalog.ts';
import { testDeployment } from './testing.ts';
import { DEFAULT_HEALTH_POLICY, type HealthPolicy } from './health.ts';
import { HealthProber } from './prober.ts';

const logger = createLogger('silent');

function deploymentOn(provider: ProviderAdapter, id: string, policy: HealthPolicy = DEFAULT_HEALTH_POLICY): Deployment {
  return testDeployment(provider, { id, policy });
}

test('401 to the probe takes every deployment of the provider down with one probe; a later success restores them', async (t) => {
  const upstream = await startSimulatorServer({ options: parseSimulatorOptions({ api_key: 'sk-right' }, 'sim') });
  t.after(() => upstream.close());
  const wrong = createAdapter('engine', { type: 'vllm', base_url: `${upstream.url}/v1`, api_key: 'sk-wrong' });
  const right = createAdapter('engine', { type: 'vllm', base_url: `${upstream.url}/v1`, api_key: 'sk-right' });
  t.after(() => Promise.all([wrong.close(), right.close()]));
  const deployments = [deploymentOn(wrong, 'a'), deploymentOn(wrong, 'b')];
  const prober = new HealthProber(() => deployments, { intervalMs: 60_000, logger });

  await prober.probeOnce();
  assert.deepEqual(deployments.map((d) => d.health.state), ['down', 'down']);
  assert.equal(deployments[0]!.health.view().reason, 'health probe: GET /v1/models answered 401');
  assert.doesNotMatch(JSON.stringify(deployments[0]!.health.view()), /sk-/);
  assert.equal(upstream.engine.stats().unauthorized.models, 1, 'one probe per adapter, not per deployment');

  // The same deployments, now reached with the key the upstream accepts.
  const fixed = deployments.map((d) => ({ ...d, provider: right }));
  await new HealthProber(() => fixed, { intervalMs: 60_000, logger }).probeOnce();
  assert.deepEqual(deployments.map((d) => d.health.state), ['healthy', 'healthy']);
  assert.equal(upstream.engine.stats().by_endpoint.models, 1);
});

test('an unreachable upstream counts as transient failures: the breaker opens at its threshold, and a success after the cooldown half-opens it', async (t) => {
  const upstream = await startSimulatorServer();
  const port = upstream.port;
  await upstream.close();
  const adapter = createAdapter('gone', { type: 'vllm', base_url: `http://127.0.0.1:${port}/v1` });
  t.after(() => adapter.close());
  // A cooldown long enough that the probe right after the trip surely lands inside it.
  const d = deploymentOn(adapter, 'x', { ...DEFAULT_HEALTH_POLICY, cooldownMs: 1_500 });
  const prober = new HealthProber(() => [d], { intervalMs: 60_000, logger });
  for (let i = 1; i < DEFAULT_HEALTH_POLICY.failureThreshold; i++) {
    await prober.probeOnce();
    assert.equal(d.health.state, 'healthy', `one failed probe (${i}) is not yet a trip`);
  }
  await prober.probeOnce();
  assert.equal(d.health.state, 'cooling_down');
  assert.match(d.health.view().reason!, /^health probe failed: .*ECONNREFUSED/);

  const back = await startSimulatorServer({ port });
  t.after(() => back.close());
  await prober.probeOnce();
  assert.equal(d.health.state, 'cooling_down', 'inside its cooldown a deployment stays out, even when the probe succeeds');
  // Once the cooldown is over, a successful probe half-opens the breaker: the next request is the
  // trial (an answered GET /models does not prove inference works), and the backoff is kept.
  for (let i = 0; i < 100 && d.health.retryAfterMs(Date.now()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
  await prober.probeOnce();
  assert.equal(d.health.state, 'half_open');
  assert.equal(d.health.available(Date.now()), true);
});

test('a status that says nothing about health (404: no /models route) records nothing', async (t) => {
  const upstream = await startSimulatorServer();
  t.after(() => upstream.close());
  // The base path is wrong, so GET …/models is the simulator's 404.
  const adapter = createAdapter('odd', { type: 'openai', base_url: `${upstream.url}/api/v9` });
  t.after(() => adapter.close());
  const d = deploymentOn(adapter, 'x');
  d.health.failed('auth', 'refused by traffic', Date.now());
  const prober = new HealthProber(() => [d], { intervalMs: 60_000, logger });
  for (let i = 0; i < 4; i++) await prober.probeOnce();
  assert.equal(d.health.state, 'down', 'no evidence that the key works');
  assert.equal(d.health.view().reason, 'refused by traffic');
});

test('the in-process simulator is probed through its engine; providers without probe are skipped', async () => {
  const sim = createAdapter('sim', { type: 'simulator' });
  const silent: ProviderAdapter = { name: 'plain', type: 'x', capabilities: new Set(), send: sim.send, close: sim.close };
  const deployments = [deploymentOn(sim, 's'), deploymentOn(silent, 'p')];
  deployments[0]!.health.failed('auth', 'x', Date.now());
  deployments[1]!.health.failed('auth', 'x', Date.now());
  await new HealthProber(() => deployments, { intervalMs: 60_000, logger }).probeOnce();
  assert.deepEqual(deployments.map((d) => d.health.state), ['healthy', 'down']);
});

test('stop() ends the rounds and waits for a running one; the timer never holds the process', async (t) => {
  const upstream = await startSimulatorServer({ options: parseSimulatorOptions({ api_key: 'k' }, 'sim') });
  t.after(() => upstream.close());
  const adapter = createAdapter('engine', { type: 'vllm', base_url: `${upstream.url}/v1` });
  t.after(() => adapter.close());
  const prober = new HealthProber(() => [deploymentOn(adapter, 'x')], { intervalMs: 100, logger });
  prober.start();
  for (let i = 0; i < 200 && upstream.engine.stats().unauthorized.models < 2; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(upstream.engine.stats().unauthorized.models >= 2, 'rounds repeat at the interval');
  await prober.stop();
  const after = upstream.engine.stats().unauthorized.models;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(upstream.engine.stats().unauthorized.models, after, 'no probe after stop()');
});
