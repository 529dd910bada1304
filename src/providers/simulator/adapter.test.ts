import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSimulatorAdapter } from './adapter.ts';
import { parseSimulatorOptions } from './options.ts';
import { readAll, sseChunks } from './testing.ts';

const adapter = createSimulatorAdapter('sim', parseSimulatorOptions({ output_tokens: 4 }, 'providers.sim'));

test('the adapter declares itself and serves every endpoint', async () => {
  assert.equal(adapter.name, 'sim');
  assert.equal(adapter.type, 'simulator');
  assert.deepEqual([...adapter.capabilities].sort(), ['chat', 'completions', 'embeddings']);
  const signal = new AbortController().signal;
  const bodies = {
    chat: { model: 'm', messages: [{ role: 'user', content: 'x' }] },
    completions: { model: 'm', prompt: 'x' },
    embeddings: { model: 'e', input: 'x' },
  } as const;
  for (const [endpoint, body] of Object.entries(bodies)) {
    const res = await adapter.send({ endpoint: endpoint as keyof typeof bodies, body, stream: false, signal, requestId: `r-${endpoint}` });
    assert.equal(res.status, 200, endpoint);
    assert.equal(res.headers['x-request-id'], `r-${endpoint}`);
    assert.ok(Buffer.isBuffer((await res.body.toArray())[0]), 'bodies are byte streams, like an HTTP upstream');
  }
  const seen = adapter.engine.requests().map((r) => [r.path, r.headers['x-request-id']]);
  assert.deepEqual(seen, [['/chat/completions', 'r-chat'], ['/completions', 'r-completions'], ['/embeddings', 'r-embeddings']]);
});

test('client headers reach the engine, and a stream is real SSE', async () => {
  const res = await adapter.send({
    endpoint: 'chat',
    body: { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true },
    stream: true,
    signal: new AbortController().signal,
    requestId: 'r-1',
    headers: { 'x-failover-enabled': 'true' },
  });
  assert.equal(sseChunks(await readAll(res.body)).length, 6);
  assert.equal(adapter.engine.requests().at(-1)!.headers['x-failover-enabled'], 'true');
});

test('the request signal aborts the work', async () => {
  const slow = createSimulatorAdapter('slow', parseSimulatorOptions({ ttft_ms: 5000 }, 'providers.slow'));
  const controller = new AbortController();
  const pending = slow.send({ endpoint: 'chat', body: { model: 'm', messages: [{ role: 'user', content: 'x' }] }, stream: false, signal: controller.signal, requestId: 'r' });
  setTimeout(() => controller.abort(), 10);
  await assert.rejects(pending, { name: 'AbortError' });
  assert.equal(slow.engine.stats().cancelled, 1);
  await slow.close();
});
