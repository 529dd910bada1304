/**
 * Conformance checklist (/work/shared/api-contract.md §12), the items about limits and money:
 * A9 (429 rate_limit_exceeded with retry-after 1..60), A10 (403 insufficient_quota, not 429) and
 * A12 (well-formed x-ratelimit-* headers). Real gateway process, real simulator process; each
 * test gets its own account and key on a plan made for it, so no test sees another's limits.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { simConfig, startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { startSimProcess, type SimProcess } from '../helpers/sim.ts';

let sim: SimProcess;
let gw: GatewayProcess;

/** rpm / tpm / concurrency; 0 = no limit on that dimension. */
const PLANS = {
  'two-per-minute': { rpm: 2, tpm: 0, concurrency: 0 },
  'thousand-tokens': { rpm: 0, tpm: 1000, concurrency: 0 },
  'one-at-a-time': { rpm: 0, tpm: 0, concurrency: 1 },
  metered: { rpm: 50, tpm: 100_000, concurrency: 4 },
  open: { rpm: 0, tpm: 0, concurrency: 0 },
} as const;

before(async () => {
  sim = await startSimProcess();
  gw = await startGateway({ config: { ...(simConfig(sim.baseURL) as object), plans: PLANS } });
});
after(async () => {
  await gw?.stop();
  await sim?.stop();
});

type Obj = Record<string, unknown>;
interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

async function request(method: string, path: string, key: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A fresh account on `plan` with `credit` yuan (none when '0'), and a key for it. */
async function keyOn(plan: keyof typeof PLANS, credit = '10'): Promise<string> {
  const account = JSON.parse((await request('POST', '/admin/v1/accounts', gw.adminKey, { name: plan, plan })).text) as { id: string };
  if (credit !== '0') {
    assert.equal((await request('POST', `/admin/v1/accounts/${account.id}/credits`, gw.adminKey, { amount: credit, reason: 'conformance' })).status, 200);
  }
  return (JSON.parse((await request('POST', '/admin/v1/keys', gw.adminKey, { account_id: account.id })).text) as { key: string }).key;
}

const chat = (extra: Obj = {}): Obj => ({ model: 'chat-model', messages: [{ role: 'user', content: 'hello' }], max_tokens: 8, ...extra });

/**
 * A stream the upstream paces slowly, returned once its 200 headers arrived: from then on the
 * request is admitted and holds its slot and token reservation until `finish()` reads it out.
 */
async function inFlight(key: string, extra: Obj = {}): Promise<{ finish(): Promise<void> }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(chat({ stream: true, sim: { output_tokens: 10, tokens_per_second: 20 }, ...extra })),
  });
  assert.equal(res.status, 200);
  return { finish: async () => void (await res.text()) };
}

/** A9: status, code, the error object, and a retry-after the SDKs accept (integer 1..60). */
function assertRateLimited(answer: Answer, limit: RegExp): void {
  assert.equal(answer.status, 429, answer.text);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
  const error = (JSON.parse(answer.text) as { error: Obj }).error;
  assert.equal(error.code, 'rate_limit_exceeded');
  assert.equal(error.type, 'rate_limit_error');
  assert.ok('param' in error);
  assert.match(error.message as string, limit);
  assert.match(answer.headers.get('retry-after') ?? '', /^([1-9]|[1-5][0-9]|60)$/, `retry-after ${answer.headers.get('retry-after')}`);
  assert.ok(answer.headers.get('x-request-id'), 'A4: the limiter refusal carries x-request-id');
}

const RESET = /^(\d+(\.\d+)?(h|m|s|ms))+$/;

/** A12 on one response: returns the x-ratelimit-* headers it had, after checking each of them. */
function assertRateLimitHeaders(answer: Answer, what: string): Record<string, string> {
  const found: Record<string, string> = {};
  answer.headers.forEach((value, name) => {
    if (name.startsWith('x-ratelimit-')) found[name] = value;
  });
  for (const [name, value] of Object.entries(found)) {
    const match = /^x-ratelimit-(limit|remaining|reset)-(.+)$/.exec(name);
    assert.ok(match, `${what}: unexpected header ${name}`);
    const [, part, dimension] = match;
    if (part === 'reset') {
      assert.match(value, RESET, `${what}: ${name}: ${value}`);
      continue;
    }
    assert.match(value, /^\d+$/, `${what}: ${name}: ${value} is not a non-negative integer`);
    const limit = found[`x-ratelimit-limit-${dimension}`];
    const remaining = found[`x-ratelimit-remaining-${dimension}`];
    if (limit !== undefined && remaining !== undefined) assert.ok(Number(remaining) <= Number(limit), `${what}: remaining ${remaining} > limit ${limit} (${dimension})`);
  }
  return found;
}

describe('A. limits and quota', () => {
  test('A9 requests per minute: 429 rate_limit_exceeded with retry-after 1..60', async () => {
    const key = await keyOn('two-per-minute');
    for (let i = 0; i < 2; i++) assert.equal((await request('POST', '/v1/chat/completions', key, chat())).status, 200);
    assertRateLimited(await request('POST', '/v1/chat/completions', key, chat()), /requests per minute/);
  });

  test('A9 tokens per minute, also a request too large to ever fit: 429 with retry-after 1..60', async () => {
    const key = await keyOn('thousand-tokens');
    const holding = await inFlight(key, { max_tokens: 600 });
    try {
      assertRateLimited(await request('POST', '/v1/chat/completions', key, chat({ max_tokens: 600 })), /tokens per minute/);
    } finally {
      await holding.finish();
    }
    const tooLarge = await request('POST', '/v1/chat/completions', key, chat({ max_tokens: 5000 }));
    assertRateLimited(tooLarge, /too large/);
    assert.equal(tooLarge.headers.get('x-should-retry'), 'false', 'waiting cannot help, so the SDKs are told not to retry');
  });

  test('A9 requests in flight: 429 with retry-after 1..60', async () => {
    const key = await keyOn('one-at-a-time');
    const holding = await inFlight(key);
    try {
      assertRateLimited(await request('POST', '/v1/chat/completions', key, chat()), /concurrent requests/);
    } finally {
      await holding.finish();
    }
    assert.equal((await request('POST', '/v1/chat/completions', key, chat())).status, 200, 'the slot is free again');
  });

  test('A10 an exhausted balance: 403 insufficient_quota (not 429), no upstream call; the SDK throws PermissionDeniedError without retrying', async () => {
    // 0.0002 yuan pays for a few 8-token answers of chat-model (0.001 / 0.002 yuan per 1K tokens).
    const key = await keyOn('open', '0.0002');
    let refused: Answer | undefined;
    let served = 0;
    for (let i = 0; i < 50 && refused === undefined; i++) {
      const answer = await request('POST', '/v1/chat/completions', key, chat());
      if (answer.status === 200) served++;
      else refused = answer;
    }
    assert.ok(served > 0, 'the credit paid for some requests first');
    assert.ok(refused, 'the balance ran out within 50 requests');
    assert.equal(refused.status, 403, refused.text);
    const error = (JSON.parse(refused.text) as { error: Obj }).error;
    assert.equal(error.code, 'insufficient_quota');
    assert.equal(error.type, 'insufficient_quota');
    assert.ok(typeof error.message === 'string' && error.message.length > 0, 'A6: a message');
    assert.ok('param' in error, 'A6: param is present (null)');
    assert.ok(refused.headers.get('x-request-id'), 'A4: the balance refusal carries x-request-id');
    assert.notEqual(refused.headers.get('x-should-retry'), 'true');

    let attempts = 0;
    const client = new OpenAI({
      baseURL: gw.baseURL,
      apiKey: key,
      maxRetries: 2,
      fetch: (url, init) => {
        attempts++;
        return fetch(url, init);
      },
    });
    const upstreamBefore = (await sim.stats()).requests_total;
    await assert.rejects(client.chat.completions.create(chat() as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming), (err: unknown) => {
      assert.ok(err instanceof OpenAI.PermissionDeniedError, String(err));
      assert.equal(err.code, 'insufficient_quota');
      return true;
    });
    assert.equal(attempts, 1, 'a 403 is not retried');
    assert.equal((await sim.stats()).requests_total, upstreamBefore, 'a refused request never reaches the upstream');
  });

  test('A12 x-ratelimit-* headers on 200, stream, 400, 404, 429 and /v1/models: integers, remaining ≤ limit, Go-style resets', async () => {
    const key = await keyOn('metered');
    const answers: Array<[string, Answer]> = [
      ['chat 200', await request('POST', '/v1/chat/completions', key, chat())],
      ['stream 200', await request('POST', '/v1/chat/completions', key, chat({ stream: true }))],
      ['embeddings 200', await request('POST', '/v1/embeddings', key, { model: 'embed-model', input: 'hi' })],
      ['400', await request('POST', '/v1/chat/completions', key, { model: 'chat-model' })],
      ['404', await request('POST', '/v1/chat/completions', key, chat({ model: 'no-such-model' }))],
      ['/v1/models', await request('GET', '/v1/models', key)],
    ];
    assert.deepEqual(answers.map(([, a]) => a.status), [200, 200, 200, 400, 404, 200]);
    for (const [what, answer] of answers) {
      const found = assertRateLimitHeaders(answer, what);
      // The metered plan limits requests and tokens: all six headers, as OpenAI sends them.
      assert.equal(Object.keys(found).length, 6, `${what}: ${JSON.stringify(found)}`);
    }
    const limitedKey = await keyOn('two-per-minute');
    for (let i = 0; i < 2; i++) await request('POST', '/v1/chat/completions', limitedKey, chat());
    const limited = await request('POST', '/v1/chat/completions', limitedKey, chat());
    assert.equal(limited.status, 429);
    assert.deepEqual(Object.keys(assertRateLimitHeaders(limited, '429')).sort(), ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests']);
    assert.equal(limited.headers.get('x-ratelimit-remaining-requests'), '0');
  });
});
