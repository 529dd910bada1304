import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway.ts';
import { until } from '../helpers/poll.ts';
import { startSimProcess, type SimProcess } from '../helpers/sim.ts';

/**
 * Engine-aware balancing: two vLLM-like engines serve one model; one is saturated by work the
 * gateway never saw (its queue is only visible in its /metrics). After a scrape, the gateway's
 * requests go to the idle one, although its own in-flight counts are equal (zero) for both.
 */
const messages = [{ role: 'user' as const, content: 'hi' }];

/** Long, slow streams sent straight to the engine: the first holds its only slot, the rest queue. */
function saturate(sim: SimProcess, count: number): AbortController {
  const controller = new AbortController();
  const body = JSON.stringify({ model: 'm', messages, stream: true, sim: { tokens_per_second: 1, output_tokens: 1000 } });
  for (let i = 0; i < count; i++) {
    fetch(`${sim.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: controller.signal })
      .then((res) => res.body?.pipeTo(new WritableStream(), { signal: controller.signal }))
      .catch(() => {});
  }
  return controller;
}

async function scrapesAfterNow(sim: SimProcess): Promise<void> {
  // Scrape rounds never overlap: once two more have reached the engine, one that started after
  // this moment has been written where the router reads it.
  const start = (await sim.stats()).metrics_scrapes;
  await until('two more scrapes', async () => (await sim.stats()).metrics_scrapes >= start + 2);
}

test('requests avoid an engine whose own metrics show a queue, and return once it drains', async (t) => {
  const [busy, idle] = await Promise.all([startSimProcess(['--max-concurrency', '1']), startSimProcess()]);
  t.after(() => Promise.all([busy.stop(), idle.stop()]));
  const backlog = saturate(busy, 4);
  t.after(() => backlog.abort());
  await until('one running and three waiting', async () => {
    const s = await busy.stats();
    return s.in_flight === 1 && s.waiting === 3;
  });

  const gw = await startGateway({
    config: {
      // `type: vllm` derives each engine's metrics URL from its base_url.
      routing: { metrics_interval_ms: 100 },
      providers: { busy: { type: 'vllm', base_url: busy.baseURL }, idle: { type: 'vllm', base_url: idle.baseURL } },
      models: { 'chat-model': { deployments: [{ provider: 'busy', upstream_model: 'm' }, { provider: 'idle', upstream_model: 'm' }] } },
    },
  });
  t.after(() => gw.stop());
  const client = gw.client();
  await scrapesAfterNow(busy);

  for (let i = 0; i < 10; i++) await client.chat.completions.create({ model: 'chat-model', messages });
  await Promise.all(Array.from({ length: 8 }, () => client.chat.completions.create({ model: 'chat-model', messages })));
  assert.equal((await idle.stats()).by_endpoint.chat, 18, 'every gateway request went to the idle engine');
  assert.equal((await busy.stats()).by_endpoint.chat, 4, 'the saturated engine served only its own backlog');

  backlog.abort();
  await until('the backlog is gone', async () => {
    const s = await busy.stats();
    return s.in_flight === 0 && s.waiting === 0;
  });
  await scrapesAfterNow(busy);
  for (let i = 0; i < 4; i++) await client.chat.completions.create({ model: 'chat-model', messages });
  assert.ok((await busy.stats()).by_endpoint.chat > 4, 'the drained engine gets traffic again');
});
