import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeploymentHealth } from './health.ts';

const policy = { failureThreshold: 3, windowMs: 1_000, cooldownMs: 100, maxCooldownMs: 350 };

test('N transient failures within the window open the breaker; spread-out ones do not', () => {
  const spread = new DeploymentHealth(policy);
  for (const t of [0, 600, 1_200, 1_800]) spread.failed('transient', 'HTTP 500', t);
  assert.equal(spread.state, 'healthy');

  const burst = new DeploymentHealth(policy);
  burst.failed('transient', 'HTTP 500', 0);
  burst.failed('transient', 'HTTP 500', 10);
  assert.equal(burst.available(20), true);
  burst.failed('transient', 'HTTP 502: bad gateway', 20);
  assert.equal(burst.state, 'cooling_down');
  assert.equal(burst.available(50), false);
  assert.equal(burst.retryAfterMs(50), 70);
  assert.equal(burst.view().reason, 'HTTP 502: bad gateway');
});

test('a success clears the failure count', () => {
  const health = new DeploymentHealth(policy);
  health.failed('transient', 'x', 0);
  health.failed('transient', 'x', 1);
  health.succeeded(12);
  health.failed('transient', 'x', 2);
  assert.equal(health.state, 'healthy');
  assert.equal(health.view().latencyMs, 12);
});

test('after the cooldown exactly one trial goes through; its failure doubles the cooldown, up to the cap', () => {
  const health = new DeploymentHealth(policy);
  for (let i = 0; i < 3; i++) health.failed('transient', 'x', 0);
  assert.equal(health.view().cooldownUntil, 100);
  assert.equal(health.available(100), true);
  health.dispatched();
  assert.equal(health.state, 'half_open');
  assert.equal(health.available(101), false, 'only one trial at a time');
  health.failed('transient', 'x', 110);
  assert.equal(health.view().cooldownUntil, 310, 'second trip: 200 ms');
  assert.equal(health.available(310), true);
  health.dispatched();
  health.failed('transient', 'x', 310);
  assert.equal(health.view().cooldownUntil, 660, 'third trip: 400 ms capped at 350');
  assert.equal(health.available(660), true);
  health.dispatched();
  health.succeeded(5);
  assert.equal(health.state, 'healthy');
  for (let i = 0; i < 3; i++) health.failed('transient', 'x', 1_000);
  assert.equal(health.view().cooldownUntil, 1_100, 'a recovery resets the backoff');
});

test('an auth failure takes the deployment out until restored; transient failures do not bring it back', () => {
  const health = new DeploymentHealth(policy);
  health.failed('auth', 'HTTP 401: bad key', 0);
  assert.equal(health.state, 'down');
  assert.equal(health.available(1_000_000), false);
  health.failed('transient', 'x', 1);
  assert.equal(health.state, 'down');
  assert.equal(health.view().reason, 'HTTP 401: bad key');
  health.restore();
  assert.equal(health.available(2), true);
  assert.equal(health.view().reason, null);
});

test('a probe restores a deployment that was down, but only half-opens a cooled-off one and keeps its backoff', () => {
  const health = new DeploymentHealth(policy);
  for (let i = 0; i < 3; i++) health.failed('transient', 'x', 0);
  health.probeSucceeded(50);
  assert.equal(health.state, 'cooling_down', 'still inside the cooldown');
  health.probeSucceeded(100);
  assert.equal(health.state, 'half_open');
  assert.equal(health.available(100), true);
  health.dispatched();
  health.failed('transient', 'x', 100);
  assert.equal(health.view().cooldownUntil, 300, 'the trial failed: the backoff doubled rather than starting over');

  const down = new DeploymentHealth(policy);
  down.failed('auth', 'HTTP 401', 0);
  down.probeSucceeded(1);
  assert.equal(down.state, 'healthy');
});
