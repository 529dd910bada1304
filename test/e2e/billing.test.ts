import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import OpenAI from 'openai';
import { simConfig, startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { startSimProcess, type SimProcess } from '../helpers/sim.ts';

type Json = Record<string, unknown>;

let sim: SimProcess;
let dataDir: string;
let gw: GatewayProcess;

/** Two chips at different prices (yuan per 1K tokens), as seed 002 bills them. */
function billingConfig(simURL: string): unknown {
  const base = simConfig(simURL, {
    providers: { simB: { type: 'vllm', base_url: simURL } },
    models: {
      megrez: {
        deployments: [
          { provider: 'sim', chip: 'nvidia', price: { input: '0.004', output: '0.016' } },
          { provider: 'simB', chip: 'ascend', price: { input: '0.0025', output: '0.01' } },
        ],
      },
      'free-model': { deployments: [{ provider: 'sim' }] },
    },
  }) as { plans?: unknown };
  return { ...base, plans: { open: { rpm: 0, tpm: 0, concurrency: 0 } } };
}

before(async () => {
  sim = await startSimProcess();
  dataDir = mkdtempSync(join(tmpdir(), 'maas-billing-'));
  gw = await startGateway({ config: billingConfig(sim.baseURL), env: { MAAS_DATA_DIR: dataDir } });
});
after(async () => {
  await gw?.stop();
  await sim?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function call(method: string, path: string, key: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: Json }> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text.startsWith('{') ? (JSON.parse(text) as Json) : { text } };
}
const admin = (method: string, path: string, body?: unknown) => call(method, path, gw.adminKey, body);

async function account(credit: string): Promise<{ id: string; key: string }> {
  const id = (await admin('POST', '/admin/v1/accounts', { name: 'billed', plan: 'open' })).json.id as string;
  if (credit !== '0') assert.equal((await admin('POST', `/admin/v1/accounts/${id}/credits`, { amount: credit, reason: 'test top-up' })).status, 200);
  const key = (await admin('POST', '/admin/v1/keys', { account_id: id })).json.key as string;
  return { id, key };
}

const balanceOf = async (id: string) => (await admin('GET', `/admin/v1/accounts/${id}`)).json.balance as string;

/** Exact decimal arithmetic for expectations: yuan strings → nano-yuan bigint. */
function nanos(yuan: string): bigint {
  const [whole, frac = ''] = yuan.split('.');
  return BigInt(whole!) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'));
}
function expectedCost(promptTokens: number, completionTokens: number, input: string, output: string): bigint {
  const total = BigInt(promptTokens) * nanos(input) + BigInt(completionTokens) * nanos(output);
  return (total + 999n) / 1000n;
}

describe('per-request billing', () => {
  test('exact cost on two chips with different prices, headers and usage records agree', async () => {
    const { id, key } = await account('10');
    const chat = (provider: string) =>
      call('POST', '/v1/chat/completions', key, { model: 'megrez', messages: [{ role: 'user', content: 'price me' }], max_tokens: 40, sim: { output_tokens: 30 } }, { 'x-ai-provider': provider });
    const a = await chat('sim');
    const b = await chat('simB');
    const usageA = a.json.usage as { prompt_tokens: number; completion_tokens: number };
    const usageB = b.json.usage as { prompt_tokens: number; completion_tokens: number };
    const costA = expectedCost(usageA.prompt_tokens, usageA.completion_tokens, '0.004', '0.016');
    const costB = expectedCost(usageB.prompt_tokens, usageB.completion_tokens, '0.0025', '0.01');
    assert.equal(nanos(a.headers.get('x-maas-cost')!), costA);
    assert.equal(nanos(b.headers.get('x-maas-cost')!), costB);
    assert.equal(nanos(b.headers.get('x-maas-balance')!), nanos('10') - costA - costB);
    assert.equal(nanos(await balanceOf(id)), nanos('10') - costA - costB);
    const own = await call('GET', '/maas/v1/account', key);
    assert.deepEqual([own.json.id, nanos(own.json.balance as string), own.json.held], [id, nanos('10') - costA - costB, '0'], 'the owner reads the same balance');

    const byChip = await admin('GET', `/admin/v1/usage?account_id=${id}&group_by=chip`);
    const rows = Object.fromEntries((byChip.json.data as Json[]).map((r) => [r.chip, r]));
    assert.equal(nanos(rows.nvidia!.cost as string), costA);
    assert.equal(nanos(rows.ascend!.cost as string), costB);
    assert.equal(nanos((byChip.json.totals as Json).cost as string), costA + costB);

    const ledger = await admin('GET', `/admin/v1/accounts/${id}/ledger`);
    const kinds = (ledger.json.data as Json[]).map((e) => e.kind);
    assert.deepEqual(kinds, ['usage', 'usage', 'topup']);

    const csv = await fetch(`${gw.url}/admin/v1/usage?account_id=${id}&group_by=model&format=csv`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    assert.match(csv.headers.get('content-type')!, /^text\/csv/);
    assert.match(await csv.text(), /^model,requests,prompt_tokens,completion_tokens,cached_tokens,total_tokens,cost\nmegrez,2,/);
  });

  test('a client that repeats its x-request-id is billed for every request, each with its own record', async () => {
    const { id, key } = await account('10');
    const body = { model: 'megrez', messages: [{ role: 'user', content: 'again' }], max_tokens: 40, sim: { output_tokens: 5 } };
    const headers = { 'x-request-id': 'client-chosen-id' };
    const answers = [await call('POST', '/v1/chat/completions', key, body, headers)];
    answers.push(...(await Promise.all([1, 2].map(() => call('POST', '/v1/chat/completions', key, body, headers)))));
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.equal(a.headers.get('x-request-id'), 'client-chosen-id', 'the client gets its own id back');
    }
    const cost = answers.reduce((sum, a) => sum + nanos(a.headers.get('x-maas-cost')!), 0n);
    assert.equal(nanos(await balanceOf(id)), nanos('10') - cost);
    const usage = await admin('GET', `/admin/v1/usage?account_id=${id}`);
    assert.equal((usage.json.totals as Json).requests, 3);
    assert.equal((await admin('GET', '/admin/v1/ledger/verify')).json.ok, true);
  });

  test('concurrent answers leave before their settlement commits; each x-maas-balance counts every charge before it', async () => {
    const { id, key } = await account('10');
    // Different lengths give different costs; a shared time to first token keeps them in flight together.
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call('POST', '/v1/chat/completions', key, { model: 'megrez', messages: [{ role: 'user', content: 'x' }], max_tokens: 40, sim: { output_tokens: 3 + i, ttft_ms: 200 } }, { 'x-ai-provider': 'sim' }),
      ),
    );
    assert.deepEqual(answers.map((a) => a.status), Array(10).fill(200));
    // Each answer's balance is 10 minus every cost charged up to and including its own, so in
    // descending order the steps between balances are exactly the answers' costs.
    const balances = answers.map((a) => nanos(a.headers.get('x-maas-balance')!)).sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
    const steps = balances.map((b, i) => (i === 0 ? nanos('10') : balances[i - 1]!) - b);
    const costs = answers.map((a) => nanos(a.headers.get('x-maas-cost')!));
    const order = (x: bigint[]) => [...x].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.deepEqual(order(steps), order(costs));
    assert.equal(nanos(await balanceOf(id)), balances.at(-1), 'the last answer\'s balance is the committed one');
  });

  test('a stream reports its cost in the usage chunk', async () => {
    const { key } = await account('5');
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'megrez', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } });
    let last: Json | undefined;
    for await (const chunk of stream) last = chunk as unknown as Json;
    const usage = last!.usage as { prompt_tokens: number; completion_tokens: number; cost: string };
    assert.equal(typeof usage.cost, 'string');
    assert.ok(nanos(usage.cost) > 0n);
  });

  test('403 insufficient_quota before any upstream call once the balance cannot cover the hold', async () => {
    const { key } = await account('0.0001');
    const before = (await sim.stats()).requests_total;
    const refused = await call('POST', '/v1/chat/completions', key, { model: 'megrez', messages: [{ role: 'user', content: 'x' }], max_tokens: 1000 });
    assert.equal(refused.status, 403);
    assert.equal((refused.json.error as Json).code, 'insufficient_quota');
    assert.equal(refused.headers.get('x-should-retry'), 'false');
    assert.equal((await sim.stats()).requests_total, before, 'no upstream call');
    const free = await call('POST', '/v1/chat/completions', key, { model: 'free-model', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(free.status, 200, 'a free model needs no balance');
    assert.equal(free.headers.get('x-maas-cost'), '0');
  });

  test('the hold covers what a request can cost: a chunked body, a completions batch, no max_tokens (capped upstream)', async () => {
    const { id, key } = await account('0.01');
    const before = (await sim.stats()).requests_total;
    // 30 KB of prompt sent chunked (no Content-Length): ~10,000 tokens at 0.004/1K is more than the balance.
    const big = JSON.stringify({ model: 'megrez', messages: [{ role: 'user', content: 'word '.repeat(6_000) }], max_tokens: 1 });
    const chunked = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(big)), c.close()) }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(chunked.status, 403, await chunked.text());
    // 50 prompts × 10 tokens each at 0.016/1K output: 0.008 yuan of output alone, on top of the prompts.
    const batch = await call('POST', '/v1/completions', key, { model: 'megrez', prompt: Array.from({ length: 50 }, (_, i) => `prompt ${i} ${'x'.repeat(80)}`), max_tokens: 10 }, { 'x-ai-provider': 'sim' });
    assert.equal(batch.status, 403, JSON.stringify(batch.json));
    assert.equal((await sim.stats()).requests_total, before, 'neither reached the upstream');
    assert.equal(await balanceOf(id), '0.01');
    // No max_tokens: held at the default cap of 2048 tokens, and the upstream is told that cap.
    const { key: rich } = await account('10');
    const uncapped = await call('POST', '/v1/chat/completions', rich, { model: 'megrez', messages: [{ role: 'user', content: 'no cap' }] }, { 'x-ai-provider': 'sim' });
    assert.equal(uncapped.status, 200);
    const seen = (await sim.requests()).at(-1)!.body as Json;
    assert.equal(seen.max_tokens, 2048);
    // A free deployment holds nothing, so nothing needs bounding: the engine keeps its own limit.
    assert.equal((await call('POST', '/v1/chat/completions', rich, { model: 'free-model', messages: [{ role: 'user', content: 'no cap' }] })).status, 200);
    assert.equal(((await sim.requests()).at(-1)!.body as Json).max_tokens, undefined);
  });

  test('concurrent requests are held together: no overdraft by racing', async () => {
    // Each request may cost up to 10 + 100 tokens-worth; the balance covers exactly 4 holds.
    const hold = expectedCost(0, 100, '0.004', '0.016');
    const { id, key } = await account(formatNanos(hold * 4n + hold / 2n));
    const body = { model: 'megrez', messages: [{ role: 'user', content: 'x' }], max_tokens: 100, sim: { output_tokens: 5, ttft_ms: 1500 } };
    // A long time to first token keeps all 12 in flight together, so early ones cannot finish and free their holds.
    const results = await Promise.all(Array.from({ length: 12 }, () => call('POST', '/v1/chat/completions', key, body, { 'x-ai-provider': 'sim' })));
    const ok = results.filter((r) => r.status === 200).length;
    assert.ok(ok >= 1 && ok <= 4, `at most 4 holds fit, ${ok} succeeded`);
    assert.equal(results.filter((r) => r.status === 403).length, 12 - ok);
    assert.ok(nanos(await balanceOf(id)) >= 0n);
  });

  test('a stream the client cuts is billed for what was sent; an upstream failure is not billed', async () => {
    const { id, key } = await account('5');
    const controller = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      signal: controller.signal,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat-model', messages: [{ role: 'user', content: 'x' }], stream: true, sim: { output_tokens: 200, tokens_per_second: 40 } }),
    });
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/"content":"[^"]+"/g) ?? []).length < 5) text += Buffer.from((await reader.read()).value!).toString();
    controller.abort();
    const failed = await call('POST', '/v1/chat/completions', key, { model: 'chat-model', messages: [{ role: 'user', content: 'x' }], sim: { status: 500 } });
    assert.equal(failed.status, 500);

    // The aborted stream settles when the gateway notices the disconnect: wait for both records.
    let totals: Json = {};
    for (let i = 0; i < 50 && totals.requests !== 2; i++) {
      totals = (await admin('GET', `/admin/v1/usage?account_id=${id}`)).json.totals as Json;
      if (totals.requests !== 2) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(totals.requests, 2);
    const completion = totals.completion_tokens as number;
    assert.ok(completion >= 5 && completion < 200, `billed for the ${completion} tokens sent, not 200`);
    const ledger = (await admin('GET', `/admin/v1/accounts/${id}/ledger`)).json.data as Json[];
    assert.equal(ledger.filter((e) => e.kind === 'usage').length, 1, 'the failed call wrote no debit');
  });
});

describe('control-plane input', () => {
  test('a repeated query parameter, a credit beyond the maximum balance → 400; tenant text is no formula in the CSV export', async () => {
    const { id, key } = await account('1');
    for (const path of ['/admin/v1/usage?group_by=day&group_by=model', '/admin/v1/usage?model=a&model=b', '/admin/v1/keys?account_id=a&account_id=b', `/admin/v1/accounts/${id}/ledger?limit=1&limit=2`]) {
      const res = await admin('GET', path);
      assert.equal(res.status, 400, path);
      assert.equal((res.json.error as Json).code, 'invalid_request');
    }
    assert.equal((await call('GET', '/maas/v1/usage?chip=a&chip=b', key)).status, 400);
    const huge = await admin('POST', `/admin/v1/accounts/${id}/credits`, { amount: '99999999999999999999999999999', reason: 'r' });
    assert.equal(huge.status, 400);
    assert.equal((huge.json.error as Json).param, 'amount');
    const zero = await admin('POST', `/admin/v1/accounts/${id}/credits`, { amount: '0', reason: 'r', kind: 'adjustment' });
    assert.deepEqual([zero.status, (zero.json.error as Json).param], [400, 'amount'], 'an adjustment of 0 changes nothing');
    const top = await admin('POST', `/admin/v1/accounts/${id}/credits`, { amount: '999999999', reason: 'r' });
    assert.equal(top.status, 200, 'up to the maximum');
    const over = await admin('POST', `/admin/v1/accounts/${id}/credits`, { amount: '2', reason: 'r' });
    assert.equal(over.status, 400, 'the balance would pass 1,000,000,000 yuan');
    assert.equal(await balanceOf(id), '1000000000');

    // An account's own engine named like a formula, called once, then exported by the operator.
    const created = await call('POST', '/maas/v1/deployments', key, { model: '=HYPERLINK("http://evil/","x")', base_url: sim.baseURL, upstream_model: 'chat-model' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const called = await call('POST', `/maas/deployment/${created.json.id as string}/chat/completions`, key, { messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
    assert.equal(called.status, 200, JSON.stringify(called.json));
    const csv = await fetch(`${gw.url}/admin/v1/usage?group_by=model&format=csv&account_id=${id}`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    const text = await csv.text();
    assert.ok(text.includes(`"'=HYPERLINK(""http://evil/"",""x"")"`), text);
    assert.ok(!/(^|,)"?=/m.test(text), 'no cell starts with =');
  });
});

describe('durability', () => {
  test('SIGKILL during a load of streams: after restart every request the upstream served has a usage record, and the ledger verifies', async () => {
    await acrossRestart(
      'maas-kill-',
      async (first) => {
        await sim.reset();
        const body = JSON.stringify({ model: 'chat-model', messages: [{ role: 'user', content: 'x' }], stream: true, sim: { output_tokens: 400, tokens_per_second: 20 } });
        const streams = Array.from({ length: 12 }, () =>
          fetch(`${first.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${first.apiKey}`, 'content-type': 'application/json' }, body })
            .then((r) => r.text())
            .catch(() => 'cut'),
        );
        // Kill once every stream reached the upstream (400 tokens at 20/s keep them all running): a
        // kill between a hold's commit and its dispatch would be billed `unsettled` without the
        // upstream ever seeing it, which the guarantee allows but this count would not.
        for (let i = 0; i < 100 && (await sim.stats()).by_endpoint.chat < 12; i++) await new Promise((r) => setTimeout(r, 100));
        first.child.kill('SIGKILL');
        await first.stop();
        await Promise.all(streams);
        const served = (await sim.stats()).by_endpoint.chat;
        assert.equal(served, 12);
        return served;
      },
      async (second, served) => {
        const usage = await call2(second, '/admin/v1/usage');
        assert.equal((usage.totals as Json).requests, served, 'one usage record per request the upstream served');
        const verify = await call2(second, '/admin/v1/ledger/verify');
        assert.equal(verify.ok, true, JSON.stringify(verify));
      },
    );
  });

  test('SIGTERM with answers in flight: each is settled at its real cost before the gateway exits', async () => {
    await acrossRestart(
      'maas-term-',
      async (first) => {
        const before = nanos((await call2(first, '/maas/v1/account', first.apiKey)).balance as string);
        await sim.reset();
        const body = { model: 'megrez', messages: [{ role: 'user', content: 'x' }], max_tokens: 40, sim: { output_tokens: 7, ttft_ms: 400 } };
        const answers = Array.from({ length: 6 }, () => call2raw(first, body));
        for (let i = 0; i < 100 && (await sim.stats()).by_endpoint.chat < 6; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(await first.stop('SIGTERM'), 0);
        const costs = await Promise.all(answers.map(async (a) => {
          const res = await a;
          assert.equal(res.status, 200);
          return nanos(res.headers.get('x-maas-cost')!);
        }));
        return { key: first.apiKey, expected: before - costs.reduce((a, b) => a + b, 0n) };
      },
      async (second, { key, expected }) => {
        // An unsettled hold would have been charged its maximum at restart, not the real cost.
        assert.equal(nanos((await call2(second, '/maas/v1/account', key)).balance as string), expected);
        assert.equal(((await call2(second, '/admin/v1/usage')).totals as Json).requests, 6);
        assert.equal((await call2(second, '/admin/v1/ledger/verify')).ok, true);
      },
    );
  });

  test('a settlement the store refuses: the answer stands, the error is logged, and the next start charges the open hold', async () => {
    await acrossRestart(
      'maas-refuse-',
      async (first, dir) => {
        const db = new DatabaseSync(join(dir, 'maas.db'), { timeout: 5000 });
        db.exec(`CREATE TRIGGER refuse_usage BEFORE INSERT ON usage_records BEGIN SELECT RAISE(ABORT, 'usage refused by the test'); END`);
        const body = { model: 'megrez', messages: [{ role: 'user', content: 'x' }], max_tokens: 20, sim: { output_tokens: 5 } };
        const answer = await call2raw(first, body);
        assert.equal(answer.status, 200, 'the client keeps its answer');
        assert.ok(answer.headers.get('x-maas-cost'));
        for (let i = 0; i < 50 && !first.output().includes('settlement failed'); i++) await new Promise((r) => setTimeout(r, 50));
        assert.match(first.output(), /settlement failed: the hold stays open/);
        assert.equal((await call2raw(first, body)).status, 200, 'the gateway keeps serving');
        db.exec('DROP TRIGGER refuse_usage');
        db.close();
        assert.equal(await first.stop(), 0);
      },
      async (second) => {
        assert.equal(((await call2(second, '/admin/v1/usage')).totals as Json).requests, 2, 'both open holds were recovered into usage records');
        assert.equal((await call2(second, '/admin/v1/ledger/verify')).ok, true);
      },
    );
  });

  test('maas ledger verify is clean after all of it', async () => {
    const verify = await admin('GET', '/admin/v1/ledger/verify');
    assert.equal(verify.json.ok, true, JSON.stringify(verify.json));
  });
});

/**
 * A gateway on a fresh data dir (`during` ends it, by signal or crash), then a second one started
 * on the same dir for `after`; both stopped and the dir removed whatever happens.
 */
async function acrossRestart<T>(prefix: string, during: (first: GatewayProcess, dir: string) => Promise<T>, after: (second: GatewayProcess, result: T) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const config = billingConfig(sim.baseURL);
  try {
    const first = await startGateway({ config, env: { MAAS_DATA_DIR: dir } });
    let result: T;
    try {
      result = await during(first, dir);
    } finally {
      await first.stop();
    }
    const second = await startGateway({ config, env: { MAAS_DATA_DIR: dir } });
    try {
      await after(second, result);
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function call2raw(g: GatewayProcess, body: unknown): Promise<Response> {
  return fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${g.apiKey}`, 'content-type': 'application/json', 'x-ai-provider': 'sim' }, body: JSON.stringify(body) });
}

async function call2(g: GatewayProcess, path: string, key = g.adminKey): Promise<Json> {
  return (await (await fetch(`${g.url}${path}`, { headers: { authorization: `Bearer ${key}` } })).json()) as Json;
}

function formatNanos(n: bigint): string {
  const whole = n / 1_000_000_000n;
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}
