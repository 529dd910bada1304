import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { startSimProcess, type SimProcess } from '../helpers/sim.ts';

let sim: SimProcess;

before(async () => {
  sim = await startSimProcess(['--output-tokens', '8']);
});

after(async () => {
  assert.equal(await sim.stop(), 0, 'SIGTERM exits 0');
});

const messages = [{ role: 'user', content: 'Hello there' }];

function postChat(body: Record<string, unknown>, init: RequestInit = {}): Promise<Response> {
  return fetch(`${sim.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
    body: JSON.stringify({ model: 'sim-chat', messages, ...body }),
    signal: init.signal ?? null,
  });
}

/** Reads a streamed body as text until it ends or fails; returns what arrived and the failure. */
async function readUntilEnd(res: Response): Promise<{ text: string; error: unknown }> {
  let text = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body!) text += decoder.decode(chunk, { stream: true });
    return { text, error: undefined };
  } catch (error) {
    return { text, error };
  }
}

test('health, models and vLLM-style metrics', async () => {
  assert.equal((await fetch(`${sim.url}/health`)).status, 200);
  const models = (await (await fetch(`${sim.baseURL}/models`)).json()) as { data: { id: string; owned_by: string }[] };
  assert.ok(models.data.length > 0 && models.data.every((m) => m.owned_by === 'simulator'));
  const metrics = await sim.metrics();
  for (const name of ['num_requests_running', 'num_requests_waiting', 'kv_cache_usage_perc', 'prompt_tokens_total', 'generation_tokens_total', 'request_success_total']) {
    assert.match(metrics, new RegExp(`^# TYPE vllm:${name} (gauge|counter)$`, 'm'));
    assert.match(metrics, new RegExp(`^vllm:${name} \\d+(\\.\\d+)?$`, 'm'));
  }
});

test('chat over HTTP: deterministic for a seed, x-request-id echoed, request recorded', async () => {
  const a = await postChat({ seed: 42, top_k: 20 }, { headers: { 'x-request-id': 't-123' } });
  assert.equal(a.status, 200);
  assert.equal(a.headers.get('x-request-id'), 't-123');
  assert.match(a.headers.get('content-type')!, /^application\/json/);
  const b = await postChat({ seed: 42 });
  const [ja, jb] = (await Promise.all([a.json(), b.json()])) as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } }[];
  assert.equal(ja!.choices[0]!.message.content, jb!.choices[0]!.message.content);
  assert.equal(ja!.usage.completion_tokens, 8);
  const recorded = (await sim.requests()).at(-2)!;
  assert.equal(recorded.path, '/v1/chat/completions');
  assert.deepEqual(recorded.body, { model: 'sim-chat', messages, seed: 42, top_k: 20 });
  assert.equal(recorded.headers['x-request-id'], 't-123');
});

test('the openai SDK streams chat with usage and decodes base64 embeddings to the float values', async () => {
  const client = new OpenAI({ baseURL: sim.baseURL, apiKey: 'unused', maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    usage = chunk.usage ?? usage;
  }
  assert.equal(text.split(' ').length, 8);
  assert.equal(usage?.completion_tokens, 8);

  const viaSdk = await client.embeddings.create({ model: 'bge-m3', input: 'hello' });
  const raw = (await (await fetch(`${sim.baseURL}/embeddings`, { method: 'POST', body: JSON.stringify({ model: 'bge-m3', input: 'hello' }) })).json()) as { data: { embedding: number[] }[] };
  assert.deepEqual(viaSdk.data[0]!.embedding, raw.data[0]!.embedding);
  assert.equal(raw.data[0]!.embedding.length, 1024);
});

test('a client that disconnects mid-stream is counted as cancelled', async () => {
  const before = await sim.stats();
  const controller = new AbortController();
  const res = await postChat({ stream: true, sim: { tokens_per_second: 100, output_tokens: 500 } }, { signal: controller.signal });
  const reader = res.body!.getReader();
  await reader.read();
  controller.abort();
  await assert.rejects(reader.read());
  for (let i = 0; i < 100 && (await sim.stats()).cancelled === before.cancelled; i++) await sleep(10);
  const stats = await sim.stats();
  assert.equal(stats.cancelled, before.cancelled + 1);
  assert.equal(stats.in_flight, 0);
});

test('drop_after_tokens cuts the connection after exactly N tokens, without [DONE]', async () => {
  const res = await postChat({ stream: true, sim: { drop_after_tokens: 3, output_tokens: 20 } });
  assert.equal(res.status, 200);
  const { text, error } = await readUntilEnd(res);
  assert.ok(error !== undefined, 'the body read fails');
  const events = text.split('\n\n').filter((e) => e.startsWith('data: '));
  assert.equal(events.length, 4, text);
  assert.ok(!text.includes('[DONE]'));

  // Non-streaming: the socket closes without any response.
  await assert.rejects(postChat({ sim: { drop_after_tokens: 0 } }));
});

test('delay_ms holds the response back', async () => {
  const start = performance.now();
  const res = await postChat({ sim: { delay_ms: 150 } });
  assert.equal(res.status, 200);
  assert.ok(performance.now() - start >= 140);
  await res.arrayBuffer();
});

test('stream headers arrive at once, tokens after ttft (as vLLM sends them)', async () => {
  const start = performance.now();
  const res = await postChat({ stream: true, sim: { ttft_ms: 400 } });
  assert.ok(performance.now() - start < 300, 'headers before the first token');
  assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
  const { text, error } = await readUntilEnd(res);
  assert.equal(error, undefined);
  assert.ok(performance.now() - start >= 395);
  assert.ok(text.endsWith('data: [DONE]\n\n'));
});

test('server-wide faults: count, formats, validation and clearing', async () => {
  await sim.setFaults({ status: 502, error_format: 'html', count: 1 });
  const html = await postChat({});
  assert.equal(html.status, 502);
  assert.match(html.headers.get('content-type')!, /^text\/html/);
  assert.match(await html.text(), /502 Bad Gateway/);
  assert.equal((await postChat({})).status, 200, 'count: 1 applies once');

  await sim.setFaults({ status: 429, error_format: 'platform' });
  for (let i = 0; i < 2; i++) {
    const res = await postChat({});
    assert.equal(res.status, 429);
    assert.deepEqual(await res.json(), { code: 429, msg: 'simulated upstream error: Too Many Requests' });
  }
  await sim.setFaults({});
  assert.equal((await postChat({})).status, 200);
  await assert.rejects(sim.setFaults({ status: 'bad' } as never), /400/);
});

test('reset zeroes the counters and the request log', async () => {
  await sim.reset();
  const stats = await sim.stats();
  assert.deepEqual([stats.requests_total, stats.completed, stats.cancelled, stats.failed], [0, 0, 0, 0]);
  assert.deepEqual(await sim.requests(), []);
});

test('max concurrency: queued requests show in vllm:num_requests_waiting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'maas-sim-'));
  const config = join(dir, 'sim.yaml');
  writeFileSync(config, 'ttft_ms: 400\nmodels:\n  only-model: {}\n');
  const busy = await startSimProcess(['--config', config, '--max-concurrency', '1']);
  try {
    const send = () => fetch(`${busy.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'only-model', messages }) });
    const pending = [send(), send(), send()];
    let metrics = await busy.metrics();
    for (let i = 0; i < 100 && !/^vllm:num_requests_waiting 2$/m.test(metrics); i++) metrics = await busy.metrics();
    assert.match(metrics, /^vllm:num_requests_running 1$/m);
    assert.match(metrics, /^vllm:num_requests_waiting 2$/m);
    assert.ok((await Promise.all(pending)).every((r) => r.status === 200));
    const unknown = await fetch(`${busy.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'other', messages }) });
    assert.equal(unknown.status, 404);
  } finally {
    await busy.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad flags make `maas sim` fail with a message naming them', async () => {
  const child = spawn(process.execPath, [join(import.meta.dirname, '../../src/cli/main.ts'), 'sim', '--port', '0', '--tps', 'fast'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(code, 1);
  assert.match(stderr, /--tps must be a number/);
  await assert.rejects(startSimProcess(['--reasoning-field', 'thoughts']), /reasoning_field must be one of/);
});
