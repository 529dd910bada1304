import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSimulatorAdapter } from './adapter.ts';
import { SimulatorEngine } from './engine.ts';
import { parseSimulatorOptions } from './options.ts';
import { post, readAll } from './testing.ts';

const chat = { model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }] };
const listModels = (engine: SimulatorEngine, headers: Record<string, string> = {}) =>
  engine.handle({ method: 'GET', path: '/v1/models', body: undefined, signal: AbortSignal.timeout(1000), headers });

test('api_key: requests without the bearer key get vLLM\'s 401, are counted, and never reach the model', async () => {
  const engine = new SimulatorEngine(parseSimulatorOptions({ api_key: 'sk-upstream' }, 'sim'));
  const missing = await post(engine, '/v1/chat/completions', chat);
  assert.deepEqual([missing.status, missing.text], [401, '{"error":"Unauthorized"}']);
  assert.equal((await post(engine, '/v1/chat/completions', chat, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  assert.equal((await listModels(engine, { authorization: 'Bearer wrong' })).status, 401);
  assert.equal((await post(engine, '/v1/chat/completions', chat, { headers: { authorization: 'Bearer sk-upstream' } })).status, 200);
  const models = await listModels(engine, { authorization: 'Bearer sk-upstream' });
  assert.equal(models.status, 200);
  assert.match(await readAll(models.body), /"sim-chat"/);
  const stats = engine.stats();
  assert.deepEqual(stats.unauthorized, { chat: 2, completions: 0, embeddings: 0, models: 1 });
  assert.deepEqual([stats.requests_total, stats.by_endpoint.chat, stats.by_endpoint.models], [1, 1, 1]);
});

test('api_key must be a non-empty string', () => {
  assert.throws(() => parseSimulatorOptions({ api_key: '' }, 'providers.sim'), /providers\.sim\.api_key must be a non-empty string/);
  assert.throws(() => parseSimulatorOptions({ api_key: 42 }, 'providers.sim'), /providers\.sim\.api_key/);
});

test('the in-process adapter sends its own key, probes GET /models, and reads metrics without a socket', async () => {
  const adapter = createSimulatorAdapter('sim', parseSimulatorOptions({ api_key: 'sk-upstream', max_concurrency: 2 }, 'providers.sim'));
  const res = await adapter.send({ endpoint: 'chat', body: chat, stream: false, signal: AbortSignal.timeout(1000), requestId: 'r-1' });
  assert.equal(res.status, 200);
  await adapter.probe!(AbortSignal.timeout(1000));
  const text = await adapter.metricsText!(AbortSignal.timeout(1000));
  assert.match(text, /^vllm:num_requests_waiting 0$/m);
  assert.match(text, /^vllm:kv_cache_usage_perc 0$/m);
  const stats = adapter.engine.stats();
  assert.deepEqual([stats.unauthorized.chat, stats.unauthorized.models, stats.by_endpoint.models, stats.metrics_scrapes], [0, 0, 1, 1]);
});
