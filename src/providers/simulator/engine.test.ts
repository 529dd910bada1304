import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimulatorEngine } from './engine.ts';
import { parseSimulatorOptions } from './options.ts';
import { post, readAll, sseData } from './testing.ts';

const messages = [{ role: 'user', content: 'hi' }];
const chatBody = (extra: Record<string, unknown> = {}) => ({ model: 'sim-chat', messages, ...extra });
const make = (raw: Record<string, unknown> = {}) => new SimulatorEngine(parseSimulatorOptions(raw, 'sim'));

/** Resolves once the engine reports the wanted stats (polling: the engine has no events). */
async function until(engine: SimulatorEngine, check: (s: ReturnType<SimulatorEngine['stats']>) => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(engine.stats()); i++) await sleep(5);
  assert.ok(check(engine.stats()), JSON.stringify(engine.stats()));
}

test('routes: /v1 prefix optional, GET /v1/models, 404 and 405', async () => {
  const engine = make();
  assert.equal((await post(engine, '/chat/completions', chatBody())).status, 200);
  assert.equal((await post(engine, '/v1/chat/completions?x=1', chatBody())).status, 200);
  assert.equal((await post(engine, '/v1/rerank', {})).status, 404);
  const wrongMethod = await engine.handle({ method: 'GET', path: '/v1/chat/completions', body: undefined, signal: AbortSignal.timeout(1000) });
  assert.equal(wrongMethod.status, 405);
  const models = await engine.handle({ method: 'GET', path: '/v1/models', body: undefined, signal: AbortSignal.timeout(1000) });
  const list = JSON.parse(await readAll(models.body)) as { object: string; data: { id: string; object: string; owned_by: string; created: number }[] };
  assert.equal(list.object, 'list');
  assert.deepEqual(list.data.map((m) => m.id), ['sim-chat', 'sim-r1', 'sim-embed']);
  assert.ok(list.data.every((m) => m.object === 'model' && m.owned_by === 'simulator' && Number.isInteger(m.created)));
});

test('vLLM-style validation errors with an integer code', async () => {
  const engine = make({ models: { known: {} } });
  const cases: [unknown, number, string | null][] = [
    ['{not json', 400, null],
    [Buffer.from('[1,2]'), 400, null],
    [{ model: 'known', messages: [] }, 400, 'messages'],
    [{ model: 'known' }, 400, 'messages'],
    [{ model: 'known', messages, n: 0 }, 400, 'n'],
    [{ model: 'known', messages, stream_options: { include_usage: true } }, 400, 'stream_options'],
    [{ model: 'known', messages, top_logprobs: 2 }, 400, 'top_logprobs'],
    [{ model: 'unknown', messages }, 404, 'model'],
    [{ model: 'known', messages, sim: { status: 99 } }, 400, 'sim'],
  ];
  for (const [body, status, param] of cases) {
    const res = await post(engine, '/v1/chat/completions', body);
    assert.equal(res.status, status, JSON.stringify(body));
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const { error } = JSON.parse(res.text) as { error: { message: string; type: string; param: string | null; code: number } };
    assert.equal(error.code, status);
    assert.equal(error.param, param);
    assert.equal(error.type, status === 404 ? 'NotFoundError' : 'BadRequestError');
  }
  assert.equal(engine.stats().rejected, cases.length);
});

test('x-request-id is echoed; the ring buffer keeps the last 50 requests, newest last', async () => {
  const engine = make();
  const res = await post(engine, '/v1/chat/completions', chatBody(), { headers: { 'x-request-id': 't-123' } });
  assert.equal(res.headers['x-request-id'], 't-123');
  for (let i = 0; i < 55; i++) await post(engine, '/v1/chat/completions', chatBody({ seed: i, top_k: 20 }));
  const seen = engine.requests();
  assert.equal(seen.length, 50);
  assert.deepEqual(seen.at(-1), { path: '/v1/chat/completions', body: chatBody({ seed: 54, top_k: 20 }), headers: {} });
  assert.equal((seen[0]!.body as { seed: number }).seed, 5);
});

test('stats count requests by endpoint and tokens; reset zeroes them', async () => {
  const engine = make({ output_tokens: 5 });
  await post(engine, '/v1/chat/completions', chatBody());
  await post(engine, '/v1/completions', { model: 'm', prompt: 'x' });
  await post(engine, '/v1/embeddings', { model: 'e', input: 'x' });
  const stats = engine.stats();
  assert.deepEqual([stats.requests_total, stats.completed, stats.in_flight, stats.waiting], [3, 3, 0, 0]);
  assert.deepEqual(stats.by_endpoint, { chat: 1, completions: 1, embeddings: 1, models: 0 });
  assert.equal(stats.generation_tokens_total, 10);
  assert.match(engine.metricsText(), /^vllm:generation_tokens_total 10$/m);
  assert.match(engine.metricsText(), /^vllm:request_success_total 3$/m);
  engine.setFaults({ status: 500 });
  engine.reset();
  assert.equal(engine.stats().requests_total, 0);
  assert.deepEqual(engine.requests(), []);
  assert.equal((await post(engine, '/v1/chat/completions', chatBody())).status, 200, 'faults cleared');
});

test('fault status in every error format, from the body or server-wide with count', async () => {
  const engine = make();
  const formats: Record<string, (text: string) => void> = {
    vllm: (t) => assert.deepEqual(JSON.parse(t).error.code, 503),
    openai: (t) => assert.equal(JSON.parse(t).error.message, 'nope'),
    flat: (t) => assert.equal(JSON.parse(t).object, 'error'),
    platform: (t) => assert.deepEqual(JSON.parse(t), { code: 503, msg: 'nope' }),
    html: (t) => assert.match(t, /^<html>/),
  };
  for (const [format, check] of Object.entries(formats)) {
    const res = await post(engine, '/v1/chat/completions', chatBody({ sim: { status: 503, message: 'nope', error_format: format } }));
    assert.equal(res.status, 503);
    check(res.text);
  }
  engine.setFaults({ status: 429, count: 2 });
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await post(engine, '/v1/embeddings', { model: 'e', input: 'x' })).status);
  assert.deepEqual(statuses, [429, 429, 200]);
  assert.equal(engine.stats().failed, 7);
});

test('fault delay_ms holds the headers back; ttft and tps pace the answer', async () => {
  const engine = make();
  let start = performance.now();
  await post(engine, '/v1/chat/completions', chatBody({ sim: { delay_ms: 60, status: 500 } }));
  assert.ok(performance.now() - start >= 55);
  start = performance.now();
  await post(engine, '/v1/chat/completions', chatBody({ sim: { ttft_ms: 30, tokens_per_second: 200, output_tokens: 11 } }));
  const elapsed = performance.now() - start;
  // 30 ms to the first token, then 10 × 5 ms.
  assert.ok(elapsed >= 75 && elapsed < 400, `${elapsed} ms`);
});

test('streaming timing: the first token comes after ttft, the rest at the token rate', async () => {
  const engine = make({ ttft_ms: 40, tokens_per_second: 100 });
  const start = performance.now();
  const response = await engine.handle({ method: 'POST', path: '/v1/chat/completions', body: chatBody({ stream: true, sim: { output_tokens: 6 } }), signal: AbortSignal.timeout(5000) });
  const arrivals: number[] = [];
  for await (const _chunk of response.body) arrivals.push(performance.now() - start);
  assert.ok(arrivals[0]! >= 38, `first at ${arrivals[0]}`);
  assert.ok(arrivals.at(-1)! >= 38 + 50 - 5, `last at ${arrivals.at(-1)}`);
  assert.ok(arrivals.length >= 2, 'tokens arrive over time when paced');
});

test('drop_after_tokens: the in-process stream fails after exactly N tokens', async () => {
  const engine = make();
  const response = await engine.handle({ method: 'POST', path: '/v1/chat/completions', body: chatBody({ stream: true, sim: { drop_after_tokens: 3 } }), signal: AbortSignal.timeout(5000) });
  let text = '';
  await assert.rejects(async () => {
    for await (const chunk of response.body) text += String(chunk);
  }, /dropped after 3 tokens/);
  const data = sseData(text);
  assert.equal(data.length, 4, 'role chunk + 3 tokens');
  assert.ok(!data.includes('[DONE]'));
  await until(engine, (s) => s.failed === 1 && s.in_flight === 0);

  const whole = await engine.handle({ method: 'POST', path: '/v1/chat/completions', body: chatBody({ sim: { drop_after_tokens: 0 } }), signal: AbortSignal.timeout(5000) });
  assert.equal((whole as { drop?: boolean }).drop, true);
  await assert.rejects(readAll(whole.body), /dropped/);
});

test('an abort mid-stream stops generation and counts as cancelled', async () => {
  const engine = make({ tokens_per_second: 200 });
  const controller = new AbortController();
  const response = await engine.handle({ method: 'POST', path: '/v1/chat/completions', body: chatBody({ stream: true, sim: { output_tokens: 1000 } }), signal: controller.signal });
  await once(response.body, 'data');
  assert.equal(engine.stats().in_flight, 1);
  const failed = once(response.body, 'error');
  controller.abort();
  assert.equal(((await failed)[0] as Error).name, 'AbortError', 'the reader sees the abort');
  await until(engine, (s) => s.cancelled === 1 && s.in_flight === 0);
  assert.ok(engine.stats().generation_tokens_total < 1000);
});

test('a reader that destroys the body, and a non-streaming abort, both count as cancelled', async () => {
  const engine = make({ ttft_ms: 50 });
  const response = await engine.handle({ method: 'POST', path: '/v1/chat/completions', body: chatBody({ stream: true }), signal: new AbortController().signal });
  response.body.destroy();
  const controller = new AbortController();
  const pending = post(engine, '/v1/chat/completions', chatBody(), { signal: controller.signal });
  setTimeout(() => controller.abort(), 10);
  await assert.rejects(pending, { name: 'AbortError' });
  await until(engine, (s) => s.cancelled === 2 && s.in_flight === 0 && s.completed === 0);
});

test('max_concurrency: excess requests wait FIFO, visible in /metrics; an aborted waiter leaves', async () => {
  const engine = make({ max_concurrency: 1, ttft_ms: 150 });
  const order: number[] = [];
  const first = post(engine, '/v1/chat/completions', chatBody()).then(() => order.push(1));
  const second = post(engine, '/v1/chat/completions', chatBody()).then(() => order.push(2));
  const controller = new AbortController();
  const third = post(engine, '/v1/chat/completions', chatBody(), { signal: controller.signal });
  await until(engine, (s) => s.waiting === 2);
  assert.match(engine.metricsText(), /^vllm:num_requests_running 1$/m);
  assert.match(engine.metricsText(), /^vllm:num_requests_waiting 2$/m);
  assert.match(engine.metricsText(), /^vllm:kv_cache_usage_perc 1$/m);
  controller.abort();
  await assert.rejects(third);
  assert.equal(engine.stats().waiting, 1);
  await Promise.all([first, second]);
  assert.deepEqual(order, [1, 2]);
  assert.deepEqual([engine.stats().completed, engine.stats().cancelled, engine.stats().in_flight], [2, 1, 0]);
});
