import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { formatYuan } from '../../src/billing/money.ts';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { startSimProcess, type SimProcess } from '../helpers/sim.ts';

/**
 * Routing across three simulator upstreams (each its own process, each counting what it
 * served): chips, providers, deployment ids, weights, least-outstanding, failover when one
 * dies, cooldown and recovery, and the per-phase timeouts.
 */
let simA: SimProcess;
let simB: SimProcess;
let simC: SimProcess;
let gw: GatewayProcess;
let client: OpenAI;

const PRICE_NVIDIA = { input: '0.001', output: '0.002' };
const PRICE_ASCEND = { input: '0.0005', output: '0.001' };
const COOLDOWN_MS = 1500;

before(async () => {
  [simA, simB, simC] = await Promise.all([startSimProcess(), startSimProcess(), startSimProcess()]);
  const config = {
    routing: { failure_threshold: 2, failure_window_ms: 10_000, cooldown_ms: COOLDOWN_MS, attempts: 3 },
    providers: {
      a: { type: 'openai', base_url: simA.baseURL },
      b: { type: 'openai', base_url: simB.baseURL },
      c: { type: 'openai', base_url: simC.baseURL },
      // The same engine as `a`, with tight timeouts of its own.
      tight: { type: 'openai', base_url: simA.baseURL, timeouts: { first_token_ms: 300, idle_ms: 300 } },
    },
    models: {
      mx: {
        deployments: [
          { provider: 'a', chip: 'nvidia', price: PRICE_NVIDIA },
          { provider: 'b', chip: 'nvidia', price: PRICE_NVIDIA },
          { id: 'mx-ascend', provider: 'c', chip: 'ascend', price: PRICE_ASCEND },
        ],
      },
      weighted: { deployments: [{ provider: 'a', weight: 3 }, { provider: 'b', weight: 1 }] },
      pair: { deployments: [{ provider: 'a' }, { provider: 'b' }] },
      cutpair: { deployments: [{ provider: 'a', price: PRICE_NVIDIA }, { provider: 'b', price: PRICE_NVIDIA }] },
      limited: { deployments: [{ provider: 'a' }, { provider: 'b' }] },
      tight: { deployments: [{ provider: 'tight' }] },
      bounded: { deployments: [{ provider: 'a', timeouts: { total_ms: 400 } }] },
      千问: { deployments: [{ provider: 'a' }] },
    },
  };
  gw = await startGateway({ config });
  client = gw.client();
});

after(async () => {
  await gw?.stop();
  await Promise.all([simA?.stop(), simB?.stop(), simC?.stop()]);
});

async function served(sim: SimProcess): Promise<number> {
  return (await sim.stats()).requests_total;
}

async function counts(): Promise<[number, number, number]> {
  return Promise.all([served(simA), served(simB), served(simC)]);
}

async function post(path: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

const ask = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, ...extra });

describe('routes', () => {
  test('/maas/{model}/{chip}/…: only that chip, billed at its price', async () => {
    const before = await counts();
    const chipClient = new OpenAI({ apiKey: gw.apiKey, baseURL: `${gw.url}/maas/mx/ascend`, maxRetries: 0 });
    for (let i = 0; i < 4; i++) {
      const { data, response } = await chipClient.chat.completions.create(ask('mx') as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
      assert.equal(data.model, 'mx');
      // 0.0005/1K input, 0.001/1K output, in nano-yuan: 500 and 1000 per token.
      const expected = BigInt(data.usage!.prompt_tokens) * 500n + BigInt(data.usage!.completion_tokens) * 1000n;
      assert.equal(response.headers.get('x-maas-cost'), formatYuan(expected));
      assert.equal(response.headers.get('x-maas-deployment'), 'mx-ascend');
    }
    const after = await counts();
    assert.deepEqual([after[0] - before[0], after[1] - before[1], after[2] - before[2]], [0, 0, 4]);

    for (let i = 0; i < 6; i++) assert.equal((await post('/maas/mx/nvidia/chat/completions', ask('mx'))).status, 200);
    const later = await counts();
    assert.equal(later[2], after[2], 'nothing reached the ascend engine');
    assert.equal(later[0] - after[0] + (later[1] - after[1]), 6);
  });

  test('an unknown chip → 404 model_not_found naming the available chips', async () => {
    const res = await post('/maas/mx/cambricon/chat/completions', ask('mx'));
    assert.equal(res.status, 404);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'model_not_found');
    assert.match(error.message, /nvidia, ascend/);
  });

  test('X-AI-Provider: only that provider; /maas/deployment/{id}: exactly that deployment', async () => {
    const before = await counts();
    for (let i = 0; i < 3; i++) assert.equal((await post('/v1/chat/completions', ask('mx'), { 'x-ai-provider': 'b' })).status, 200);
    const mid = await counts();
    assert.deepEqual([mid[0] - before[0], mid[1] - before[1], mid[2] - before[2]], [0, 3, 0]);

    for (let i = 0; i < 2; i++) assert.equal((await post('/maas/deployment/mx-ascend/chat/completions', ask('mx'))).status, 200);
    const end = await counts();
    assert.deepEqual([end[0] - mid[0], end[1] - mid[1], end[2] - mid[2]], [0, 0, 2]);
    assert.equal((await post('/maas/deployment/no-such-thing/chat/completions', ask('mx'))).status, 404);
  });
});

test('a model named outside ASCII answers, plain and streamed; its deployment header is percent-encoded', async () => {
  const { data, response } = await client.chat.completions.create({ model: '千问', messages: [{ role: 'user', content: '你好' }], max_tokens: 4 }).withResponse();
  assert.equal(data.model, '千问');
  assert.equal(response.headers.get('x-maas-deployment'), encodeURIComponent('千问#0'));
  const stream = await client.chat.completions.create({ model: '千问', messages: [{ role: 'user', content: '你好' }], max_tokens: 4, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  assert.ok(text.length > 0);
});

describe('balancing', () => {
  test('weights 3:1 split sequential traffic 3:1', async () => {
    const before = await counts();
    for (let i = 0; i < 40; i++) assert.equal((await post('/v1/chat/completions', ask('weighted'))).status, 200);
    const after = await counts();
    assert.equal(after[0] - before[0], 30);
    assert.equal(after[1] - before[1], 10);
  });

  test('least outstanding: a slow engine gets fewer of many concurrent requests than a fast one', async () => {
    await simA.setFaults({ ttft_ms: 400 });
    try {
      const before = await counts();
      await runConcurrently(48, 8, () => client.chat.completions.create(ask('pair') as OpenAI.ChatCompletionCreateParamsNonStreaming));
      const after = await counts();
      const slow = after[0] - before[0];
      const fast = after[1] - before[1];
      assert.equal(slow + fast, 48);
      assert.ok(fast > slow * 2, `fast engine served ${fast}, slow one ${slow}`);
    } finally {
      await simA.setFaults({});
    }
  });
});

describe('timeouts', () => {
  test('first_token_ms: a stream whose first token is late fails before any byte, as a 504 naming the timeout', async () => {
    const started = Date.now();
    const res = await post('/v1/chat/completions', ask('tight', { stream: true, sim: { ttft_ms: 3000 } }));
    assert.equal(res.status, 504);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'upstream_timeout');
    assert.match(error.message, /first token within 300 ms/);
    assert.ok(Date.now() - started >= 300);
  });

  test('idle_ms: a stream that goes silent after its first tokens ends with a timeout error event', async () => {
    const res = await post('/v1/chat/completions', ask('tight', { stream: true, max_tokens: 20, sim: { tokens_per_second: 1.5, output_tokens: 20 } }));
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes('[DONE]'));
    const last = JSON.parse(text.trim().split('\n\n').at(-1)!.slice('data: '.length)) as { error: { code: string; message: string } };
    assert.equal(last.error.code, 'upstream_timeout');
    assert.match(last.error.message, /within 300 ms \(idle_ms/);
  });

  test('total_ms: a non-streaming call longer than its total deadline → 504', async () => {
    const res = await post('/v1/chat/completions', ask('bounded', { sim: { delay_ms: 2000 } }));
    assert.equal(res.status, 504);
    const { error } = (await res.json()) as { error: { message: string } };
    assert.match(error.message, /within 400 ms \(total_ms/);
  });
});

describe('health and failover', () => {
  test('an engine answering 500 cools down (clients see no error) and serves again once it recovers', async () => {
    await simA.setFaults({ status: 500 });
    try {
      for (let i = 0; i < 2; i++) {
        // Streams fail over too: the 500 came before the first byte reached the client.
        const stream = await client.chat.completions.create({ ...(ask('pair') as OpenAI.ChatCompletionCreateParamsNonStreaming), stream: true });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        assert.ok(text.length > 0);
      }
      for (let i = 0; i < 4; i++) assert.equal((await post('/v1/chat/completions', ask('pair'))).status, 200, 'failover hides the 500s');
      const failedA = await served(simA);
      // Cooling down: A gets nothing while B serves.
      for (let i = 0; i < 6; i++) assert.equal((await post('/v1/chat/completions', ask('pair'))).status, 200);
      assert.equal(await served(simA), failedA, 'no request reached the engine while it cooled down');
    } finally {
      await simA.setFaults({});
    }
    const stats = await simA.stats();
    const deadline = Date.now() + COOLDOWN_MS * 8;
    let completed = stats.completed;
    while (completed === stats.completed && Date.now() < deadline) {
      assert.equal((await post('/v1/chat/completions', ask('pair'))).status, 200);
      await new Promise((r) => setTimeout(r, 100));
      completed = (await simA.stats()).completed;
    }
    assert.ok(completed > stats.completed, 'after the cooldown a trial request reached the recovered engine and it served again');
  });

  test('a stream cut by its upstream after the first bytes is not retried: it ends with an error event and is billed for what was sent', async () => {
    const before = await counts();
    const res = await post('/v1/chat/completions', ask('cutpair', { stream: true, max_tokens: 30, sim: { drop_after_tokens: 5, output_tokens: 30 } }));
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes('[DONE]'));
    const last = JSON.parse(text.trim().split('\n\n').at(-1)!.slice('data: '.length)) as { error: { code: string } };
    assert.equal(last.error.code, 'upstream_error');
    const after = await counts();
    assert.equal(after[0] - before[0] + (after[1] - before[1]), 1, 'one upstream call: bytes had reached the client');

    let totals: { requests?: number; completion_tokens?: number; cost?: string } = {};
    for (let i = 0; i < 50 && totals.requests !== 1; i++) {
      const usage = await fetch(`${gw.url}/admin/v1/usage?model=cutpair`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
      totals = ((await usage.json()) as { totals: typeof totals }).totals;
      if (totals.requests !== 1) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(totals.requests, 1);
    assert.ok(totals.completion_tokens! >= 1 && totals.completion_tokens! < 30, `billed ${totals.completion_tokens} tokens`);
    assert.notEqual(totals.cost, '0');
  });

  test('every deployment rate limited → 429 with Retry-After; rate limited on one and failing on the other → not 429', async () => {
    const limited = await post('/v1/chat/completions', ask('limited', { sim: { status: 429 } }));
    assert.equal(limited.status, 429);
    assert.match(limited.headers.get('retry-after') ?? '', /^[1-9][0-9]?$/);
    assert.equal(((await limited.json()) as { error: { code: string } }).error.code, 'rate_limit_exceeded');

    await Promise.all([simA.setFaults({ status: 500 }), simB.setFaults({ status: 429 })]);
    try {
      const mixed = await post('/v1/chat/completions', ask('limited'));
      assert.ok(mixed.status === 500 || mixed.status === 502, `got ${mixed.status}`);
    } finally {
      await Promise.all([simA.setFaults({}), simB.setFaults({})]);
    }
  });

  test('one engine killed during a load of non-streaming requests: zero client-visible errors', async () => {
    let done = 0;
    const load = runConcurrently(120, 8, async () => {
      await client.chat.completions.create({ ...ask('pair'), sim: { ttft_ms: 30 } } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
      done++;
      if (done === 30) simA.child.kill('SIGKILL');
    });
    const results = await load;
    assert.equal(results.filter((r) => r.status === 'rejected').length, 0, String(results.find((r) => r.status === 'rejected')?.reason));
    assert.equal(results.length, 120);
  });
});

async function runConcurrently<T>(total: number, concurrency: number, job: () => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  const results: PromiseSettledResult<T>[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      try {
        results.push({ status: 'fulfilled', value: await job() });
      } catch (reason) {
        results.push({ status: 'rejected', reason });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}
