import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../observability/logger.ts';
import type { ProviderAdapter } from '../../providers/adapter.ts';
import { createAdapter } from '../../providers/registry.ts';
import { createSimulatorAdapter } from '../../providers/simulator/adapter.ts';
import type { SimulatorEngine } from '../../providers/simulator/engine.ts';
import { parseSimulatorOptions } from '../../providers/simulator/options.ts';
import { startSimulatorServer } from '../../providers/simulator/server.ts';
import type { Deployment } from './catalog.ts';
import { testDeployment } from './testing.ts';
import { EngineMetricsScraper } from './engine-metrics.ts';

const logger = createLogger('silent');

function deployment(provider: ProviderAdapter, metricsUrl: string | undefined, upstreamModel = 'm'): Deployment {
  return testDeployment(provider, { id: `${provider.name}-${upstreamModel}`, upstreamModel, metricsUrl });
}

/** Streams that hold the engine's only slot and queue behind it, until `abort()`. */
function backlog(engine: SimulatorEngine, count: number): AbortController {
  const controller = new AbortController();
  for (let i = 0; i < count; i++) {
    const body = { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true, sim: { tokens_per_second: 1, output_tokens: 1000 } };
    void engine.handle({ method: 'POST', path: '/v1/chat/completions', body, signal: controller.signal }).then((res) => {
      res.body.on('error', () => {});
      res.body.resume();
    });
  }
  return controller;
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check());
}

test('a saturated engine\'s queue and KV usage reach its deployments, one scrape per URL', async (t) => {
  const upstream = await startSimulatorServer({ options: parseSimulatorOptions({ max_concurrency: 1 }, 'sim') });
  t.after(() => upstream.close());
  const adapter = createAdapter('engine', { type: 'vllm', base_url: `${upstream.url}/v1` });
  t.after(() => adapter.close());
  const busy = backlog(upstream.engine, 4);
  t.after(() => busy.abort());
  await until(() => upstream.engine.stats().waiting === 3);

  const shared = [deployment(adapter, `${upstream.url}/metrics`, 'a'), deployment(adapter, `${upstream.url}/metrics`, 'b')];
  const scraper = new EngineMetricsScraper(() => shared, { intervalMs: 60_000, logger });
  t.after(() => scraper.stop());
  const before = Date.now();
  await scraper.scrapeOnce();
  for (const d of shared) {
    assert.deepEqual([d.engine.waiting, d.engine.kvCacheUsage], [3, 1]);
    assert.ok(d.engine.sampledAt >= before && d.engine.sampledAt <= Date.now());
  }
  assert.equal(upstream.engine.stats().metrics_scrapes, 1);
});

test('a failed scrape keeps the old sample (it ages out in the router); a recovered one replaces it', async (t) => {
  const upstream = await startSimulatorServer();
  const url = `${upstream.url}/metrics`;
  const adapter = createAdapter('engine', { type: 'vllm', base_url: `${upstream.url}/v1` });
  t.after(() => adapter.close());
  const d = deployment(adapter, url);
  const scraper = new EngineMetricsScraper(() => [d], { intervalMs: 60_000, logger });
  t.after(() => scraper.stop());
  await scraper.scrapeOnce();
  const first = { ...d.engine };
  assert.deepEqual([first.waiting, first.kvCacheUsage], [0, 0]);
  await upstream.close();
  await scraper.scrapeOnce();
  assert.deepEqual(d.engine, first);

  const back = await startSimulatorServer({ port: upstream.port });
  t.after(() => back.close());
  await until(() => Date.now() > first.sampledAt);
  await scraper.scrapeOnce();
  assert.ok(d.engine.sampledAt > first.sampledAt);
});

test('a URL that is not an engine\'s metrics gives no sample', async (t) => {
  const upstream = await startSimulatorServer();
  t.after(() => upstream.close());
  const adapter = createAdapter('engine', { type: 'vllm', base_url: `${upstream.url}/v1` });
  t.after(() => adapter.close());
  const notMetrics = deployment(adapter, `${upstream.url}/health`);
  const missing = deployment(adapter, `${upstream.url}/nope`, 'other');
  const scraper = new EngineMetricsScraper(() => [notMetrics, missing], { intervalMs: 60_000, logger });
  t.after(() => scraper.stop());
  await scraper.scrapeOnce();
  assert.equal(notMetrics.engine.sampledAt, 0);
  assert.equal(missing.engine.sampledAt, 0);
});

test('the in-process simulator is read without a socket; providers with neither URL nor metricsText are skipped', async (t) => {
  const sim = createSimulatorAdapter('sim', parseSimulatorOptions({ max_concurrency: 1 }, 'sim'));
  const busy = backlog(sim.engine, 3);
  t.after(() => busy.abort());
  await until(() => sim.engine.stats().waiting === 2);
  const plain: ProviderAdapter = { name: 'plain', type: 'x', capabilities: new Set(), send: sim.send, close: sim.close };
  const inProcess = deployment(sim, undefined);
  const none = deployment(plain, undefined);
  const scraper = new EngineMetricsScraper(() => [inProcess, none], { intervalMs: 60_000, logger });
  t.after(() => scraper.stop());
  await scraper.scrapeOnce();
  assert.deepEqual([inProcess.engine.waiting, inProcess.engine.kvCacheUsage], [2, 1]);
  assert.equal(none.engine.sampledAt, 0);
});
