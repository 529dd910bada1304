import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APIError } from 'openai';
import { startGateway } from '../helpers/gateway.ts';
import { until } from '../helpers/poll.ts';
import { startSimProcess } from '../helpers/sim.ts';

/**
 * Active health probes against a real engine process: the simulator started like
 * `vllm serve --api-key …`, so its GET /v1/models answers 401 to a gateway holding another key.
 */
const GATEWAY_KEY = 'sk-upstream-held-by-the-gateway';
const messages = [{ role: 'user' as const, content: 'hi' }];

test('a deployment whose upstream answers 401 to probes goes down before any traffic; a later successful probe restores it', async (t) => {
  // The upstream was re-keyed: it no longer accepts the key in the gateway's config.
  const rekeyed = await startSimProcess(['--api-key', 'sk-upstream-rotated']);
  t.after(() => rekeyed.stop());
  const gw = await startGateway({
    config: {
      routing: { probe_interval_ms: 200 },
      providers: { engine: { type: 'vllm', base_url: rekeyed.baseURL, api_key: GATEWAY_KEY } },
      models: { 'chat-model': { deployments: [{ provider: 'engine', upstream_model: 'm' }] } },
    },
  });
  t.after(() => gw.stop());
  const client = gw.client();

  // Rounds never overlap: once the second probe has arrived, the first one's 401 has been applied.
  await until('two refused probes', async () => (await rekeyed.stats()).unauthorized.models >= 2);
  const refused = await client.chat.completions.create({ model: 'chat-model', messages }).then(
    () => assert.fail('a down deployment must not be called'),
    (err: unknown) => err,
  );
  assert.ok(refused instanceof APIError);
  assert.equal(refused.status, 503);
  const stats = await rekeyed.stats();
  assert.deepEqual([stats.unauthorized.chat, stats.requests_total], [0, 0], 'the request never reached the upstream');
  assert.match(gw.output(), /taken out of service: the upstream refused the credentials/);
  assert.match(gw.output(), /health probe: GET \/v1\/models answered 401/);
  assert.doesNotMatch(gw.output(), new RegExp(GATEWAY_KEY), 'the key is never logged');

  // The operator fixes the upstream: same address, now accepting the gateway's key.
  const port = rekeyed.port;
  await rekeyed.stop();
  const fixed = await startSimProcess(['--port', String(port), '--api-key', GATEWAY_KEY]);
  t.after(() => fixed.stop());
  await until('two accepted probes', async () => (await fixed.stats()).by_endpoint.models >= 2);
  const answer = await client.chat.completions.create({ model: 'chat-model', messages });
  assert.equal(answer.object, 'chat.completion');
  assert.equal((await fixed.stats()).by_endpoint.chat, 1);
});
