import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallTimers, DEFAULT_TIMEOUTS, UpstreamTimeout } from './timeouts.ts';

const quick = { ...DEFAULT_TIMEOUTS, headersMs: 20, firstTokenMs: 20, idleMs: 20, totalMs: 10_000 };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a suspended call has no phase timer until it is armed again; a stopped one is never armed again', async () => {
  const suspended = new AbortController();
  const timers = new CallTimers(suspended, quick);
  timers.suspend(); // waiting for the client, not the upstream
  await pause(60);
  assert.equal(suspended.signal.aborted, false);
  timers.arm('idle');
  await pause(60);
  assert.ok(suspended.signal.reason instanceof UpstreamTimeout && suspended.signal.reason.phase === 'idle');
  timers.stop();

  const ended = new AbortController();
  const late = new CallTimers(ended, quick);
  late.stop();
  late.arm('idle'); // a resume that comes after the call ended
  await pause(60);
  assert.equal(ended.signal.aborted, false, 'no timer was left running');
});
