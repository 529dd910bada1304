import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLimiter } from './memory.ts';
import { goDuration, rateLimitHeaders } from './headers.ts';
import type { Admitted, Decision } from './limiter.ts';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const policy = { rpm: 3, tpm: 1000, concurrency: 2 };

function admitted(d: Decision): Admitted {
  assert.equal(d.ok, true, JSON.stringify(d));
  return d as Admitted;
}

test('RPM is a sliding window: never more than rpm in any 60 s span, also across a minute boundary', () => {
  const c = clock();
  const limiter = new MemoryLimiter(c.now);
  // Three requests at the end of one "minute"…
  c.advance(59_000);
  for (let i = 0; i < 3; i++) admitted(limiter.acquire('k', { ...policy, concurrency: 0 }, 1)).release(1);
  // …and none at the start of the next: a fixed window would allow three more here.
  c.advance(2_000);
  const blocked = limiter.acquire('k', { ...policy, concurrency: 0 }, 1);
  assert.equal(blocked.ok, false);
  assert.equal(!blocked.ok && blocked.limit, 'requests');
  assert.equal(!blocked.ok && blocked.retryAfterMs, 58_000);
  c.advance(58_000);
  admitted(limiter.acquire('k', { ...policy, concurrency: 0 }, 1));
});

test('TPM reserves the estimate and corrects it to real usage on release', () => {
  const c = clock();
  const limiter = new MemoryLimiter(c.now);
  const p = { rpm: 0, tpm: 1000, concurrency: 0 };
  const a = admitted(limiter.acquire('k', p, 800));
  const refused = limiter.acquire('k', p, 300);
  assert.equal(!refused.ok && refused.limit, 'tokens');
  a.release(100);
  const b = admitted(limiter.acquire('k', p, 300));
  assert.equal(b.state.remainingTokens, 600);
  const huge = limiter.acquire('k', p, 5000);
  assert.equal(!huge.ok && huge.tooLarge, true);
});

test('concurrency counts requests in flight and frees on release, once', () => {
  const limiter = new MemoryLimiter(clock().now);
  const p = { rpm: 0, tpm: 0, concurrency: 2 };
  const a = admitted(limiter.acquire('k', p, 0));
  admitted(limiter.acquire('k', p, 0));
  const third = limiter.acquire('k', p, 0);
  assert.equal(!third.ok && third.limit, 'concurrency');
  a.release(0);
  a.release(0);
  admitted(limiter.acquire('k', p, 0));
  assert.equal(limiter.acquire('k', p, 0).ok, false, 'a double release frees one slot only');
});

test('keys are isolated, and a rejected request reserves nothing', () => {
  const limiter = new MemoryLimiter(clock().now);
  const p = { rpm: 1, tpm: 0, concurrency: 0 };
  admitted(limiter.acquire('a', p, 0));
  assert.equal(limiter.acquire('a', p, 0).ok, false);
  assert.equal(limiter.acquire('a', p, 0).ok, false);
  admitted(limiter.acquire('b', p, 0));
});

test('a plan change resizes the window without forgetting recent requests', () => {
  const limiter = new MemoryLimiter(clock().now);
  for (let i = 0; i < 3; i++) admitted(limiter.acquire('k', { rpm: 3, tpm: 0, concurrency: 0 }, 0));
  assert.equal(limiter.acquire('k', { rpm: 2, tpm: 0, concurrency: 0 }, 0).ok, false);
  admitted(limiter.acquire('k', { rpm: 5, tpm: 0, concurrency: 0 }, 0));
});

test('headers follow OpenAI names and formats', () => {
  const c = clock();
  const limiter = new MemoryLimiter(c.now);
  const a = admitted(limiter.acquire('k', { rpm: 60, tpm: 10_000, concurrency: 4 }, 250));
  const h = rateLimitHeaders(a.state);
  assert.equal(h['x-ratelimit-limit-requests'], '60');
  assert.equal(h['x-ratelimit-remaining-requests'], '59');
  assert.equal(h['x-ratelimit-reset-requests'], '1m0s');
  assert.equal(h['x-ratelimit-remaining-tokens'], '9750');
  for (const v of [goDuration(120), goDuration(8640), goDuration(360_000), h['x-ratelimit-reset-tokens']!]) {
    assert.match(v, /^(\d+(\.\d+)?(h|m|s|ms))+$/);
  }
});

test('TPM bookings leave the window after 60 s, and a late correction of an expired booking is ignored', () => {
  const c = clock(0);
  const limiter = new MemoryLimiter(c.now);
  const p = { rpm: 0, tpm: 1000, concurrency: 0 };
  const a = admitted(limiter.acquire('k', p, 900));
  const refused = limiter.acquire('k', p, 200);
  assert.equal(!refused.ok && refused.limit, 'tokens');
  assert.ok(!refused.ok && refused.retryAfterMs > 59_000 && refused.retryAfterMs <= 61_000);
  c.advance(61_000);
  a.release(5000);
  const b = admitted(limiter.acquire('k', p, 1000));
  assert.equal(b.state.remainingTokens, 0);
});

test('memory per key stays small under a huge RPM plan', () => {
  const limiter = new MemoryLimiter(clock().now);
  for (let i = 0; i < 100; i++) admitted(limiter.acquire('k', { rpm: 10_000_000, tpm: 0, concurrency: 0 }, 1)).release(1);
  assert.equal(limiter.size, 1);
});
