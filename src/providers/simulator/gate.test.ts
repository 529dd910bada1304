import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyGate } from './gate.ts';

const never = new AbortController().signal;

test('limit 0 never queues', async () => {
  const gate = new ConcurrencyGate(0);
  await Promise.all([gate.acquire(never), gate.acquire(never), gate.acquire(never)]);
  assert.equal(gate.active, 3);
  assert.equal(gate.waiting, 0);
});

test('beyond the limit requests wait and are admitted first come, first served', async () => {
  const gate = new ConcurrencyGate(1);
  await gate.acquire(never);
  const order: string[] = [];
  const b = gate.acquire(never).then(() => order.push('b'));
  const c = gate.acquire(never).then(() => order.push('c'));
  assert.equal(gate.waiting, 2);
  gate.release();
  await b;
  assert.deepEqual([gate.active, gate.waiting], [1, 1]);
  gate.release();
  await c;
  assert.deepEqual(order, ['b', 'c']);
  gate.release();
  assert.deepEqual([gate.active, gate.waiting], [0, 0]);
});

test('an aborted waiter leaves the queue and never takes a slot', async () => {
  const gate = new ConcurrencyGate(1);
  await gate.acquire(never);
  const controller = new AbortController();
  const aborted = gate.acquire(controller.signal);
  const next = gate.acquire(never);
  controller.abort(new Error('client left'));
  await assert.rejects(aborted, /client left/);
  assert.equal(gate.waiting, 1);
  gate.release();
  await next;
  assert.deepEqual([gate.active, gate.waiting], [1, 0]);
});

test('an already aborted signal is refused at once', async () => {
  const gate = new ConcurrencyGate(1);
  await assert.rejects(gate.acquire(AbortSignal.abort(new Error('gone'))), /gone/);
  assert.equal(gate.active, 0);
});
