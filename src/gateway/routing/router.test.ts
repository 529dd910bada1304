import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSimulatorAdapter } from '../../providers/simulator/adapter.ts';
import { parseSimulatorOptions } from '../../providers/simulator/options.ts';
import type { Deployment, DeploymentSpec, ModelEntry } from './catalog.ts';
import { DEFAULT_HEALTH_POLICY } from './health.ts';
import { testDeployment } from './testing.ts';
import { Router, type Route } from './router.ts';

const adapter = createSimulatorAdapter('sim', parseSimulatorOptions({}, 'sim'));
const other = createSimulatorAdapter('other', parseSimulatorOptions({}, 'other'));

function deployment(id: string, fields: Partial<DeploymentSpec> = {}): Deployment {
  return testDeployment(fields.provider ?? adapter, { id, ...fields });
}

function routerOf(deployments: Deployment[]): Router {
  const entry: ModelEntry = { id: 'm', kind: 'chat', ownedBy: 'sim', created: 0, maxOutputTokens: undefined, deployments, json: '{}' };
  return new Router(new Map([['m', entry]]), ['sim', 'other']);
}

const request = { model: 'm', endpoint: 'chat' as const, provider: undefined, chip: undefined, deploymentId: undefined, accountId: 'acct_1' };
const none = new Set<Deployment>();

test('the best priority with an available member wins; a cooling primary hands over to the backup', () => {
  const primary = deployment('p', { priority: 0 });
  const backup = deployment('b', { priority: 1 });
  const router = routerOf([backup, primary]);
  const route = router.resolve(request);
  const first = router.pick(route, none)!;
  assert.equal(first.id, 'p');
  router.release(first);
  for (let i = 0; i < 3; i++) primary.health.failed('transient', 'x', Date.now());
  const second = router.pick(route, none)!;
  assert.equal(second.id, 'b');
  router.release(second);
});

test('least outstanding relative to weight; never a deployment already tried', () => {
  const a = deployment('a', { weight: 2 });
  const b = deployment('b', { weight: 1 });
  const router = routerOf([a, b]);
  const route = router.resolve(request);
  const picked = [0, 1, 2].map(() => router.pick(route, none)!.id);
  assert.deepEqual(picked.sort(), ['a', 'a', 'b'], 'in flight 2:1 at weights 2:1');
  assert.equal(router.pick(route, new Set([a, b])), undefined);
  assert.equal(router.pick(route, new Set([a]))!.id, 'b');
});

test('with every candidate cooling down, the one that recovers first is still tried (panic routing)', () => {
  const a = deployment('a');
  const b = deployment('b');
  const router = routerOf([a, b]);
  const now = Date.now();
  for (let i = 0; i < 3; i++) a.health.failed('transient', 'x', now);
  for (let i = 0; i < 3; i++) b.health.failed('transient', 'x', now - 1_000);
  assert.equal(router.pick(router.resolve(request), none, now)!.id, 'b');
});

test('all down → 503; all at their concurrency limit → 503 with Retry-After; no match for the provider → 404', () => {
  const a = deployment('a', { maxConcurrency: 1 });
  const router = routerOf([a]);
  const route = router.resolve(request);
  router.pick(route, none);
  assert.throws(() => router.pick(route, none), (err: { code: string; retryAfter?: number }) => err.code === 'service_unavailable' && err.retryAfter === 1);
  router.release(a);
  a.health.failed('auth', 'HTTP 401', Date.now());
  assert.throws(() => router.pick(route, none), { code: 'service_unavailable' });
  assert.throws(() => router.pick(router.resolve({ ...request, provider: 'other' }), none), { code: 'model_not_found' });
});

test('chips resolve to their own deployments; an unknown chip names the known ones', () => {
  const router = routerOf([deployment('n', { chip: 'nvidia' }), deployment('x', { chip: 'ascend', provider: other })]);
  const route: Route = router.resolve({ ...request, chip: 'ascend' });
  assert.deepEqual(route.candidates.map((d) => d.id), ['x']);
  assert.throws(() => router.resolve({ ...request, chip: 'tpu' }), (err: Error & { code: string }) => err.code === 'model_not_found' && /nvidia, ascend/.test(err.message));
});

test('private deployments answer only their owner; others see model_not_found', () => {
  const router = routerOf([deployment('n')]);
  const mine = testDeployment(adapter, { id: 'mif-0123456789abcdef', model: 'my-finetune', upstreamModel: 'my-finetune', chip: 'default', owner: 'acct_1' });
  router.addPrivate(mine);
  assert.equal(router.resolve({ ...request, model: 'mif-0123456789abcdef' }).candidates[0], mine);
  assert.equal(router.resolve({ ...request, deploymentId: 'mif-0123456789abcdef' }).candidates[0], mine);
  assert.throws(() => router.resolve({ ...request, deploymentId: 'mif-0123456789abcdef', accountId: 'acct_2' }), { code: 'model_not_found' });
  assert.equal(router.removePrivate('n'), undefined, 'config deployments cannot be removed');
  assert.equal(router.removePrivate('mif-0123456789abcdef'), mine);
});

test('a half-open trial that ends saying nothing (client gone, no balance, a 4xx) frees the trial for the next request', async () => {
  const only = deployment('only', { policy: { ...DEFAULT_HEALTH_POLICY, cooldownMs: 1, maxCooldownMs: 1 } });
  const router = routerOf([only]);
  const route = router.resolve(request);
  const older = router.pick(route, none)!; // dispatched while healthy, still running when the breaker opens
  for (let i = 0; i < DEFAULT_HEALTH_POLICY.failureThreshold; i++) only.health.failed('transient', 'x', Date.now());
  assert.equal(only.health.state, 'cooling_down');
  await new Promise((r) => setTimeout(r, 5));
  const trial = router.pick(route, none)!;
  assert.equal(only.health.state, 'half_open');
  assert.throws(() => router.pick(route, none), 'one trial at a time');
  router.release(older); // not the trial: the trial is still running
  assert.throws(() => router.pick(route, none), 'still one trial at a time');
  router.release(trial, true); // e.g. its hold was refused: neither success nor failure was recorded
  const next = router.pick(route, none);
  assert.equal(next?.id, 'only', 'the next request is the trial; the deployment is not stuck out of service');
  router.release(next!, true);
});
