import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { APIError } from 'openai';
import { simConfig, startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { startSimProcess, type SimProcess } from '../helpers/sim.ts';

let sim: SimProcess;
let gw: GatewayProcess;
let client: OpenAI;

before(async () => {
  sim = await startSimProcess();
  const config = simConfig(sim.baseURL, {
    providers: {
      dead: { type: 'vllm', base_url: 'http://127.0.0.1:9/v1' },
      slow: { type: 'vllm', base_url: sim.baseURL, timeouts: { headers_ms: 300 } },
      // Its own provider: a 401 takes the deployment out of service, which must not affect chat-model.
      guarded: { type: 'vllm', base_url: sim.baseURL },
    },
    models: {
      'guarded-model': { deployments: [{ provider: 'guarded' }] },
      'dead-model': { deployments: [{ provider: 'dead' }] },
      'slow-model': { deployments: [{ provider: 'slow' }] },
      // Same provider, but this deployment was given longer: its own timeout is the one that holds.
      'patient-model': { deployments: [{ provider: 'slow', timeouts: { headers_ms: 5000 } }] },
    },
  });
  gw = await startGateway({ config, env: { MAAS_BODY_LIMIT: '65536' } });
  client = gw.client();
});
after(async () => {
  await gw?.stop();
  await sim?.stop();
});

interface ErrorResponse {
  status: number;
  headers: Headers;
  error: { message: string; type: string; param: string | null; code: string | null };
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<ErrorResponse> {
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.ok(res.headers.get('x-request-id'), 'every response carries x-request-id');
  const json = (await res.json()) as { error: ErrorResponse['error'] };
  assert.deepEqual(Object.keys(json), ['error']);
  assert.deepEqual(Object.keys(json.error).sort(), ['code', 'message', 'param', 'type']);
  assert.ok(json.error.message.length > 0);
  return { status: res.status, headers: res.headers, error: json.error };
}

const chat = (extra: Record<string, unknown> = {}) => ({ model: 'chat-model', messages: [{ role: 'user', content: 'hi' }], ...extra });

function expectError(r: ErrorResponse, status: number, code: string, param: string | null = null): void {
  assert.equal(r.status, status, JSON.stringify(r.error));
  assert.equal(r.error.code, code);
  assert.equal(r.error.param, param);
  assert.notEqual(r.headers.get('x-should-retry'), 'true');
}

describe('admission', () => {
  test('no key, a wrong key, or a non-Bearer scheme → 401 invalid_token', async () => {
    expectError(await post('/v1/chat/completions', chat(), { authorization: '' }), 401, 'invalid_token');
    expectError(await post('/v1/chat/completions', chat(), { authorization: 'Bearer sk-wrong' }), 401, 'invalid_token');
    expectError(await post('/v1/chat/completions', chat(), { authorization: `Basic ${gw.apiKey}` }), 401, 'invalid_token');
    const res = await fetch(`${gw.url}/v1/models`);
    assert.equal(res.status, 401);
    assert.ok(res.headers.get('x-request-id'));
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_token', 'no Authorization header at all');
  });

  test('the SDK surfaces 401 as AuthenticationError', async () => {
    const bad = new OpenAI({ baseURL: gw.baseURL, apiKey: 'sk-nope', maxRetries: 0 });
    await assert.rejects(bad.models.list(), (err: unknown) => err instanceof OpenAI.AuthenticationError && err.code === 'invalid_token');
  });

  test('X-API-Key and a lower-case bearer scheme are accepted', async () => {
    const viaHeader = await fetch(`${gw.url}/v1/models`, { headers: { 'x-api-key': gw.apiKey } });
    assert.equal(viaHeader.status, 200);
    const lower = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `bearer ${gw.apiKey}` } });
    assert.equal(lower.status, 200);
  });
});

describe('validation', () => {
  test('malformed JSON → 400 invalid_request', async () => {
    expectError(await post('/v1/chat/completions', '{"model": '), 400, 'invalid_request');
  });

  test('missing, wrongly typed and out-of-range fields name the field', async () => {
    expectError(await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }] }), 400, 'invalid_request', 'model');
    expectError(await post('/v1/chat/completions', { model: 'chat-model' }), 400, 'invalid_request', 'messages');
    expectError(await post('/v1/chat/completions', chat({ messages: [] })), 400, 'invalid_request', 'messages');
    expectError(await post('/v1/chat/completions', chat({ temperature: 3 })), 400, 'invalid_request', 'temperature');
    expectError(await post('/v1/chat/completions', chat({ temperature: 'warm' })), 400, 'invalid_request', 'temperature');
    expectError(await post('/v1/chat/completions', chat({ max_tokens: 1e300, n: 2 })), 400, 'invalid_request', 'max_tokens');
    expectError(await post('/v1/chat/completions', chat({ max_tokens: 0 })), 400, 'invalid_request', 'max_tokens');
    expectError(await post('/v1/chat/completions', chat({ n: 0 })), 400, 'invalid_request', 'n');
    expectError(await post('/v1/chat/completions', chat({ stream_options: { include_usage: true } })), 400, 'invalid_request', 'stream_options');
    expectError(await post('/v1/embeddings', { model: 'embed-model', input: '' }), 400, 'invalid_request', 'input');
  });

  test('the SDK surfaces 400 as BadRequestError with param', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'chat-model', messages: [{ role: 'user', content: 'x' }], temperature: 5 }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === 'temperature' && err.code === 'invalid_request',
    );
  });

  test('an unknown model → 404 model_not_found; a chat call to an embedding model → 400', async () => {
    expectError(await post('/v1/chat/completions', chat({ model: 'no-such-model' })), 404, 'model_not_found', 'model');
    expectError(await post('/v1/embeddings', { model: 'no-such-model', input: 'x' }), 404, 'model_not_found', 'model');
    expectError(await post('/v1/chat/completions', chat({ model: 'embed-model' })), 400, 'invalid_request', 'model');
    const res = await fetch(`${gw.url}/v1/models/no-such-model`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as ErrorResponse).error.code, 'model_not_found');
  });

  test('an unknown X-AI-Provider → 400 naming the header; a known one routes', async () => {
    expectError(await post('/v1/chat/completions', chat(), { 'x-ai-provider': 'nope' }), 400, 'invalid_request', 'X-AI-Provider');
    const ok = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', 'x-ai-provider': 'sim' },
      body: JSON.stringify(chat()),
    });
    assert.equal(ok.status, 200);
    expectError(await post('/v1/chat/completions', chat(), { 'x-ai-provider': 'dead' }), 404, 'model_not_found', 'model');
  });

  test('X-AI-Provider on the models endpoints: only that provider\'s models; an unknown one → 400', async () => {
    const get = (path: string, provider: string) => fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${gw.apiKey}`, 'x-ai-provider': provider } });
    const unknown = await get('/v1/models', 'nope');
    assert.equal(unknown.status, 400);
    assert.equal(((await unknown.json()) as { error: { param: string } }).error.param, 'X-AI-Provider');
    const dead = (await (await get('/v1/models', 'dead')).json()) as { data: Array<{ id: string }> };
    assert.deepEqual(dead.data.map((m) => m.id), ['dead-model']);
    assert.equal((await get('/v1/models/dead-model', 'dead')).status, 200);
    assert.equal((await get('/v1/models/chat-model', 'dead')).status, 404, 'a model that provider does not serve');
    assert.equal((await get('/maas/v1/models/dead-model', 'nope')).status, 400);
  });

  test('a body over the limit → 413', async () => {
    expectError(await post('/v1/chat/completions', chat({ messages: [{ role: 'user', content: 'x'.repeat(70_000) }] })), 413, 'payload_too_large');
  });

  test('an unknown URL → 404 in the same shape', async () => {
    expectError(await post('/v1/nothing-here', {}), 404, 'not_found');
  });
});

describe('upstream failures', () => {
  test('an upstream 500 → 500 internal_error', async () => {
    expectError(await post('/v1/chat/completions', chat({ sim: { status: 500, message: 'engine exploded' } })), 500, 'internal_error');
  });

  test('an upstream HTML 503 page → 503 in the OpenAI shape', async () => {
    const r = await post('/v1/chat/completions', chat({ sim: { status: 503, error_format: 'html' } }));
    expectError(r, 503, 'service_unavailable');
    assert.ok(!r.error.message.includes('<'));
  });

  test("an upstream 400 in vLLM's or the platforms' shapes keeps its message", async () => {
    for (const format of ['vllm', 'flat', 'platform']) {
      const r = await post('/v1/chat/completions', chat({ sim: { status: 400, message: 'bad thing', error_format: format } }));
      expectError(r, 400, 'invalid_request');
      assert.equal(r.error.message, 'bad thing', format);
    }
    // An engine names the model it serves; the client only ever sees the public name.
    const named = await post('/v1/embeddings', { model: 'embed-model', input: 'x', sim: { status: 400, message: 'The model `bge-m3` does not exist.' } });
    expectError(named, 400, 'invalid_request');
    assert.equal(named.error.message, 'The model `embed-model` does not exist.');
  });

  test('an upstream 200 that carries an error instead of an answer → that error, never a 200', async () => {
    const wrapped = (status: number, format: string, extra: Record<string, unknown> = {}) =>
      chat({ sim: { status, http_status: 200, error_format: format, message: 'platform says no' }, ...extra });
    // The Chinese platforms' envelope: its code stands for the status.
    const r500 = await post('/v1/chat/completions', wrapped(500, 'platform'));
    expectError(r500, 500, 'internal_error');
    assert.equal(r500.error.message, 'platform says no');
    expectError(await post('/v1/chat/completions', wrapped(400, 'platform')), 400, 'invalid_request');
    // OpenAI's nested object sent with 200 (its code is not a status): the upstream's fault.
    expectError(await post('/v1/chat/completions', wrapped(400, 'openai')), 502, 'upstream_error');
    expectError(await post('/v1/embeddings', { model: 'embed-model', input: 'x', sim: { status: 503, http_status: 200, error_format: 'platform' } }), 503, 'service_unavailable');
    // Asked to stream, answered with the envelope: a JSON error, no event stream.
    expectError(await post('/v1/chat/completions', wrapped(500, 'platform', { stream: true })), 500, 'internal_error');
  });

  test('an upstream 429 → 429 with Retry-After; an upstream 401 → 502 (not the caller’s fault)', async () => {
    const limited = await post('/v1/chat/completions', chat({ sim: { status: 429 } }));
    assert.equal(limited.status, 429);
    assert.equal(limited.error.code, 'rate_limit_exceeded');
    assert.match(limited.headers.get('retry-after') ?? '', /^([1-9]|[1-5][0-9]|60)$/);
    expectError(await post('/v1/chat/completions', chat({ model: 'guarded-model', sim: { status: 401 } })), 502, 'upstream_error');
    // The upstream refused the gateway's credentials: that deployment is out until a probe or an operator restores it.
    expectError(await post('/v1/chat/completions', chat({ model: 'guarded-model' })), 503, 'service_unavailable');
  });

  test('an unreachable upstream → 502; one slower than its timeout → 504', async () => {
    expectError(await post('/v1/chat/completions', chat({ model: 'dead-model' })), 502, 'upstream_error');
    expectError(await post('/v1/chat/completions', chat({ model: 'slow-model', sim: { delay_ms: 1500 } })), 504, 'upstream_timeout');
  });

  test("a deployment's own timeout holds over its provider's, also when it is longer", async () => {
    const answer = await client.chat.completions.create(chat({ model: 'patient-model', sim: { delay_ms: 2500 } }) as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(answer.object, 'chat.completion');
    assert.ok((answer.choices[0]?.message.content ?? '').length > 0);
  });

  test('a stream whose upstream fails before the first token gets a JSON error, not SSE', async () => {
    expectError(await post('/v1/chat/completions', chat({ stream: true, sim: { status: 500 } })), 500, 'internal_error');
  });

  test('a stream cut mid-way ends with an error event and no [DONE]; the SDK throws', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(chat({ stream: true, sim: { drop_after_tokens: 3, output_tokens: 20 } })),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    const events = text.split('\n\n').filter((e) => e.length > 0);
    assert.ok(!text.includes('[DONE]'));
    const last = JSON.parse(events.at(-1)!.slice('data: '.length)) as { error: { code: string; message: string } };
    assert.equal(last.error.code, 'upstream_error');
    assert.ok(typeof last.error.message === 'string' && last.error.message.length > 0, 'the error event says what happened');
    assert.ok(events.length >= 4, 'the tokens sent before the cut reached the client');

    const stream = await client.chat.completions.create({ ...chat({ sim: { drop_after_tokens: 3, output_tokens: 20 } }), stream: true } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
    await assert.rejects(async () => {
      for await (const _chunk of stream) {
        // drain until the error event
      }
    }, APIError);
  });
});
