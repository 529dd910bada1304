import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import OpenAI from 'openai';
import { simConfig, startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { startSimProcess, type SimProcess } from '../helpers/sim.ts';

let sim: SimProcess;

before(async () => {
  sim = await startSimProcess();
});
after(async () => {
  await sim?.stop();
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`condition not met within ${timeoutMs} ms`);
}

test('a client that disconnects mid-stream cancels the upstream request', async () => {
  const gw = await startGateway({ config: simConfig(sim.baseURL) });
  try {
    const before = (await sim.stats()).cancelled;
    const controller = new AbortController();
    const stream = await gw.client().chat.completions.create(
      { model: 'chat-model', messages: [{ role: 'user', content: 'long' }], stream: true, sim: { tokens_per_second: 20, output_tokens: 400 } } as unknown as OpenAI.ChatCompletionCreateParamsStreaming,
      { signal: controller.signal },
    );
    let received = 0;
    for await (const _chunk of stream) {
      if (++received === 3) {
        controller.abort();
        break;
      }
    }
    assert.equal(received, 3);
    await waitFor(async () => (await sim.stats()).cancelled > before, 5_000);
    const stats = await sim.stats();
    assert.equal(stats.in_flight, 0);
  } finally {
    await gw.stop();
  }
});

test('SIGTERM drains an in-flight stream to [DONE], refuses new work, and exits 0', async () => {
  const gw = await startGateway({ config: simConfig(sim.baseURL) });
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat-model', messages: [{ role: 'user', content: 'x' }], stream: true, sim: { tokens_per_second: 40, output_tokens: 40 } }),
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.ok(first.value && first.value.length > 0);
  const exit = gw.stop('SIGTERM');
  await new Promise((r) => setTimeout(r, 100));
  await assert.rejects(fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.apiKey}` } }), 'new connections are refused while draining');
  let text = Buffer.from(first.value!).toString();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  assert.ok(text.endsWith('data: [DONE]\n\n'), 'the stream finished completely');
  assert.equal(await exit, 0);
});

test('a request that arrives on a kept-alive connection while draining gets 503 in the OpenAI shape', async () => {
  const gw = await startGateway({ config: simConfig(sim.baseURL) });
  const { hostname, port } = new URL(gw.url);
  const socket = connect(Number(port), hostname);
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString()));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  const body = JSON.stringify({ model: 'chat-model', messages: [{ role: 'user', content: 'x' }], stream: true, sim: { tokens_per_second: 40, output_tokens: 20 } });
  const post = `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${gw.apiKey}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  socket.write(post);
  await waitFor(async () => received.includes('data: '), 5_000);
  const exit = gw.stop('SIGTERM');
  await new Promise((r) => setTimeout(r, 100));
  // Pipelined behind the stream: read once the stream is done, while the gateway drains.
  socket.write(`GET /v1/models HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${gw.apiKey}\r\n\r\n`);
  await closed;
  assert.equal(await exit, 0);
  const second = received.slice(received.indexOf('HTTP/1.1', 10));
  assert.match(second, /^HTTP\/1\.1 503 /);
  assert.match(second, /\r\nx-request-id: req_/);
  assert.match(second, /\r\nretry-after: 1\r\n/);
  const error = JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };
  assert.equal(error.error.code, 'service_unavailable');
});

test('streams cut at the shutdown deadline settle what was sent, before the store closes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'maas-cut-'));
  const config = {
    providers: { inproc: { type: 'simulator', tokens_per_second: 20 } },
    models: { slow: { deployments: [{ provider: 'inproc', price: { input: '0.001', output: '0.002' } }] } },
  };
  try {
    const gw = await startGateway({ config, env: { MAAS_DATA_DIR: dir, MAAS_SHUTDOWN_TIMEOUT_MS: '800' } });
    const body = JSON.stringify({ model: 'slow', messages: [{ role: 'user', content: 'x' }], stream: true, max_tokens: 1000, sim: { output_tokens: 1000 } });
    const streams = await Promise.all(Array.from({ length: 4 }, () =>
      fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, body }),
    ));
    const readers = streams.map((res) => res.body!.getReader());
    await Promise.all(readers.map((r) => r.read()));
    assert.equal(await gw.stop('SIGTERM'), 0);
    await Promise.all(readers.map(async (r) => { while (!(await r.read().catch(() => ({ done: true }))).done); }));
    const db = new DatabaseSync(join(dir, 'maas.db'), { readOnly: true });
    try {
      assert.equal((db.prepare('SELECT COUNT(*) AS n FROM holds').get() as { n: number }).n, 0, 'no hold left for the next start to charge in full');
      const records = db.prepare("SELECT status, completion_tokens FROM usage_records WHERE model = 'slow'").all() as Array<{ status: string; completion_tokens: number }>;
      assert.equal(records.length, 4);
      for (const r of records) {
        assert.notEqual(r.status, 'unsettled');
        assert.ok(r.completion_tokens > 0 && r.completion_tokens < 1000, `billed for what was sent: ${r.completion_tokens}`);
      }
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a client that reads slowly is not an upstream gone idle: the stream completes and the deployment stays healthy', async () => {
  const config = {
    providers: { inproc: { type: 'simulator' } },
    models: { big: { deployments: [{ id: 'big-1', provider: 'inproc', timeouts: { idle_ms: 400 } }] } },
  };
  const gw = await startGateway({ config });
  try {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'big', messages: [{ role: 'user', content: 'x' }], stream: true, max_tokens: 60_000, sim: { output_tokens: 60_000 } }),
    });
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 1500)); // several idle timeouts long, while socket buffers are full
    const text = await res.text();
    assert.ok(text.endsWith('data: [DONE]\n\n'), text.slice(-300));
    const view = await (await fetch(`${gw.url}/admin/v1/deployments`, { headers: { authorization: `Bearer ${gw.adminKey}` } })).json() as { data: Array<{ id: string; error_rate: number }> };
    assert.equal(view.data.find((d) => d.id === 'big-1')?.error_rate, 0, 'no failure counted against the deployment');
  } finally {
    await gw.stop();
  }
});

test('with no configuration at all: the built-in simulator models, a first account and key, a generated admin key', async () => {
  const gw: GatewayProcess = await startGateway({ env: { MAAS_ADMIN_KEY: '' } });
  try {
    const key = /api key: (sk-[0-9A-Za-z]{48})\n/.exec(gw.output())?.[1];
    assert.ok(key, `an account key is printed on first start:\n${gw.output()}`);
    assert.match(gw.output(), /admin key: sk-[0-9A-Za-z]{48}\n/, 'so is a generated admin key');
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
    const models = await client.models.list();
    const deepseek = models.data.find((m) => m.id === 'DeepSeek-R1');
    assert.equal(deepseek?.owned_by, 'simulator');
    const done = await client.chat.completions.create({ model: 'Qwen3-4B-Instruct', messages: [{ role: 'user', content: '你好' }], max_tokens: 8 });
    assert.ok((done.choices[0]!.message.content ?? '').length > 0);
    const stream = await client.chat.completions.create({ model: 'DeepSeek-R1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, stream: true });
    let chunks = 0;
    for await (const _chunk of stream) chunks++;
    assert.ok(chunks > 2);
    const emb = await client.embeddings.create({ model: 'bge-m3', input: 'inkqyf 是下一代 AI 基础设施平台' });
    assert.ok(emb.data[0]!.embedding.length > 0);
    // The default models serve every tenant: a caller's `sim` field injects no fault there (it
    // would take the model out of service for all), so this answers and the next call too.
    const injected = { model: 'Qwen3-4B-Instruct', messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 4, sim: { status: 401 } };
    for (let i = 0; i < 2; i++) assert.ok((await client.chat.completions.create(injected)).choices.length > 0);
    assert.equal(gw.output().includes(`"${key}"`), false, 'the key never appears in structured logs');
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('npm start\'s launcher: the gateway runs with its V8 flag and fills the compile cache, serves, and exits 0 on SIGTERM', async () => {
  const cache = mkdtempSync(join(tmpdir(), 'maas-compile-cache-'));
  try {
    const gw = await startGateway({ entry: 'launcher', env: { NODE_COMPILE_CACHE: cache } });
    const commandLine = readFileSync(`/proc/${gw.child.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(commandLine.includes('--max-semi-space-size=16'), commandLine.join(' '));
    const answer = await gw.client().chat.completions.create({ model: 'Qwen3-4B-Instruct', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    assert.equal(answer.object, 'chat.completion');
    assert.equal(await gw.stop(), 0);
    const cached = readdirSync(cache, { recursive: true }).filter((name) => String(name).includes('/'));
    assert.ok(cached.length > 10, `the compile cache holds the gateway's modules (${cached.length} entries)`);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
