import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { simConfig, startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { startSimProcess, type SimProcess } from '../helpers/sim.ts';

let sim: SimProcess;
let gw: GatewayProcess;

const PLANS = {
  tiny: { rpm: 3, tpm: 0, concurrency: 0 },
  thrifty: { rpm: 0, tpm: 600, concurrency: 0 },
  single: { rpm: 0, tpm: 0, concurrency: 1 },
  open: { rpm: 0, tpm: 0, concurrency: 0 },
  flood: { rpm: 5, tpm: 0, concurrency: 0 },
};

before(async () => {
  sim = await startSimProcess();
  gw = await startGateway({ config: { ...(simConfig(sim.baseURL) as object), plans: PLANS } });
});
after(async () => {
  await gw?.stop();
  await sim?.stop();
});

type Json = Record<string, unknown>;

async function call(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; headers: Headers; json: Json }> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Json };
}

const admin = (method: string, path: string, body?: unknown) => call(method, path, gw.adminKey, body);

async function newAccount(plan: string, name = `acct-${plan}`): Promise<string> {
  const res = await admin('POST', '/admin/v1/accounts', { name, plan });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  const id = res.json.id as string;
  // Enough credit that billing never gets in the way of what these tests look at.
  assert.equal((await admin('POST', `/admin/v1/accounts/${id}/credits`, { amount: '100', reason: 'test' })).status, 200);
  return id;
}

async function newKey(accountId: string, extra: Json = {}): Promise<{ id: string; key: string }> {
  const res = await admin('POST', '/admin/v1/keys', { account_id: accountId, ...extra });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  return { id: res.json.id as string, key: res.json.key as string };
}

const chatBody = (extra: Json = {}) => ({ model: 'chat-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, ...extra });
const chat = (key: string, extra: Json = {}) => call('POST', '/v1/chat/completions', key, chatBody(extra));
const errorOf = (r: { json: Json }) => r.json.error as { code: string; param: string | null; message: string };

describe('accounts and keys', () => {
  test('account create/get/list/update through the admin API', async () => {
    const created = await admin('POST', '/admin/v1/accounts', { name: 'Acme', plan: 'basic' });
    assert.equal(created.status, 201);
    assert.deepEqual(
      { name: created.json.name, plan: created.json.plan, balance: created.json.balance, status: created.json.status },
      { name: 'Acme', plan: 'basic', balance: '0', status: 'active' },
    );
    assert.match(created.json.id as string, /^acct_/);
    const id = created.json.id as string;
    assert.equal((await admin('GET', `/admin/v1/accounts/${id}`)).json.name, 'Acme');
    const listed = await admin('GET', '/admin/v1/accounts');
    assert.ok((listed.json.data as Json[]).some((a) => a.id === id));
    const patched = await admin('PATCH', `/admin/v1/accounts/${id}`, { plan: 'enterprise' });
    assert.equal(patched.json.plan, 'enterprise');
    assert.equal((await admin('GET', '/admin/v1/accounts/acct_nope')).status, 404);
  });

  test('a key is shown once, works with the SDK, and stops working the moment it is revoked', async () => {
    const account = await newAccount('open');
    const created = await admin('POST', '/admin/v1/keys', { account_id: account, name: 'ci' });
    const key = created.json.key as string;
    assert.match(key, /^sk-[0-9A-Za-z]{40,}$/);
    assert.equal(created.json.prefix, key.slice(0, (created.json.prefix as string).length));
    const listed = await admin('GET', `/admin/v1/keys?account_id=${account}`);
    assert.equal(JSON.stringify(listed.json).includes(key), false, 'no secret in listings');

    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
    assert.equal((await client.chat.completions.create(chatBody() as OpenAI.ChatCompletionCreateParamsNonStreaming)).object, 'chat.completion');

    assert.equal((await admin('DELETE', `/admin/v1/keys/${created.json.id as string}`)).status, 200);
    await assert.rejects(client.models.list(), (err: unknown) => err instanceof OpenAI.AuthenticationError && err.code === 'invalid_token');
  });

  test('an expired key → 401; a key limited to some models sees only those (others → 404)', async () => {
    const account = await newAccount('open');
    const soon = await newKey(account, { expires_at: new Date(Date.now() + 1500).toISOString() });
    assert.equal((await chat(soon.key)).status, 200);
    await new Promise((r) => setTimeout(r, 1600));
    const expired = await chat(soon.key);
    assert.equal(expired.status, 401);
    assert.match(errorOf(expired).message, /expired/);

    const narrow = await newKey(account, { models: ['chat-model'] });
    const models = await call('GET', '/v1/models', narrow.key);
    assert.deepEqual((models.json.data as Json[]).map((m) => m.id), ['chat-model']);
    const other = await chat(narrow.key, { model: 'DeepSeek-R1' });
    assert.equal(other.status, 404);
    assert.equal(errorOf(other).code, 'model_not_found');
  });

  test('a suspended account → 403; reactivated → works again', async () => {
    const account = await newAccount('open');
    const { key } = await newKey(account);
    await admin('PATCH', `/admin/v1/accounts/${account}`, { status: 'suspended' });
    const refused = await chat(key);
    assert.equal(refused.status, 403);
    await admin('PATCH', `/admin/v1/accounts/${account}`, { status: 'active' });
    assert.equal((await chat(key)).status, 200);
  });

  test('owners manage only their own keys; admin endpoints refuse account keys', async () => {
    const a = await newKey(await newAccount('open', 'A'));
    const b = await newKey(await newAccount('open', 'B'));
    const mine = await call('POST', '/maas/v1/keys', a.key, { name: 'second' });
    assert.equal(mine.status, 201);
    const listed = await call('GET', '/maas/v1/keys', a.key);
    const ids = (listed.json.data as Json[]).map((k) => k.id);
    assert.ok(ids.includes(a.id) && ids.includes(mine.json.id));
    assert.ok(!ids.includes(b.id), "A never sees B's keys");
    const stolen = await call('DELETE', `/maas/v1/keys/${b.id}`, a.key);
    assert.equal(stolen.status, 404);
    assert.equal((await chat(b.key)).status, 200, "B's key still works");
    assert.equal((await call('GET', '/admin/v1/accounts', a.key)).status, 403);
    assert.equal((await call('POST', '/admin/v1/keys', a.key, { account_id: 'x' })).status, 403);
    assert.equal((await call('DELETE', `/maas/v1/keys/${mine.json.id as string}`, a.key)).status, 200);
    const own = await call('GET', '/maas/v1/account', a.key);
    assert.equal(own.status, 200);
    assert.deepEqual([own.json.object, own.json.name, own.json.plan], ['account', 'A', 'open']);
    assert.notEqual(own.json.id, (await call('GET', '/maas/v1/account', b.key)).json.id);
    assert.equal((await call('GET', '/maas/v1/account', gw.adminKey)).status, 403, 'the admin key has no account of its own');
  });

  test('a restricted key may not manage keys: it cannot mint an unrestricted one or revoke its siblings', async () => {
    const account = await newAccount('open', 'R');
    const open = await newKey(account);
    const limited = await admin('POST', '/admin/v1/keys', { account_id: account, models: ['chat-model'] });
    assert.equal(limited.status, 201);
    const key = limited.json.key as string;
    const minted = await call('POST', '/maas/v1/keys', key, { name: 'escape' });
    assert.equal(minted.status, 403);
    assert.equal(errorOf(minted).code, 'permission_denied');
    assert.equal((await call('DELETE', `/maas/v1/keys/${open.id}`, key)).status, 403);
    assert.equal((await chat(open.key)).status, 200, 'the unrestricted key still works');
    assert.equal((await call('POST', '/maas/v1/keys', open.key, { name: 'fine' })).status, 201, 'an unrestricted key manages keys');
    assert.equal((await call('GET', '/maas/v1/keys', key)).status, 200, 'listing stays allowed');
  });

  test('the account list pages: limit, offset and has_more', async () => {
    const all = await admin('GET', '/admin/v1/accounts');
    const total = (all.json.data as Json[]).length;
    assert.ok(total >= 3);
    assert.equal(all.json.has_more, false);
    const first = await admin('GET', '/admin/v1/accounts?limit=2');
    assert.deepEqual([(first.json.data as Json[]).length, first.json.has_more], [2, true]);
    const rest = await admin('GET', '/admin/v1/accounts?limit=1000&offset=2');
    assert.equal((rest.json.data as Json[]).length, total - 2);
    assert.deepEqual([...(first.json.data as Json[]), ...(rest.json.data as Json[])].map((a) => a.id), (all.json.data as Json[]).map((a) => a.id));
    for (const bad of ['limit=0', 'limit=1001', 'offset=-1', 'limit=abc']) assert.equal((await admin('GET', `/admin/v1/accounts?${bad}`)).status, 400, bad);
  });

  test('bad admin input → 400 naming the field', async () => {
    const account = await newAccount('open');
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/admin/v1/accounts', { plan: 'basic' }, 'name'],
      ['POST', '/admin/v1/accounts', { name: 'x', plan: 'gold' }, 'plan'],
      ['POST', '/admin/v1/accounts', { name: 'x', plan: 'constructor' }, 'plan'],
      ['PATCH', `/admin/v1/accounts/${account}`, { plan: '__proto__' }, 'plan'],
      ['POST', '/admin/v1/accounts', { name: 'x', plan: 'basic', extra: 1 }, 'extra'],
      ['PATCH', `/admin/v1/accounts/${account}`, { status: 'paused' }, 'status'],
      ['POST', '/admin/v1/keys', { name: 'k' }, 'account_id'],
      ['POST', '/admin/v1/keys', { account_id: 'acct_missing' }, 'account_id'],
      ['POST', '/admin/v1/keys', { account_id: account, expires_at: 'next tuesday' }, 'expires_at'],
      ['POST', '/admin/v1/keys', { account_id: account, expires_at: '2001-01-01T00:00:00Z' }, 'expires_at'],
      ['POST', '/admin/v1/keys', { account_id: account, expires_at: '2030-02-30T00:00:00Z' }, 'expires_at'],
      ['POST', '/admin/v1/keys', { account_id: account, expires_at: '2030-01-01T00:00' }, 'expires_at'],
      ['POST', '/admin/v1/keys', { account_id: account, expires_at: 1e20 }, 'expires_at'],
      ['POST', '/admin/v1/keys', { account_id: account, models: ['no-such-model'] }, 'models[0]'],
      ['POST', '/admin/v1/keys', { account_id: account, limits: { rpm: -1 } }, 'limits.rpm'],
    ];
    for (const [method, path, body, param] of cases) {
      const res = await admin(method, path, body);
      assert.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
      assert.equal(errorOf(res).code, 'invalid_request');
      assert.equal(errorOf(res).param, param, JSON.stringify(body));
    }
    const nothing = await admin('PATCH', `/admin/v1/accounts/${account}`, {});
    assert.equal(nothing.status, 400, 'a PATCH that changes nothing');
    // Unix seconds as text (what a CLI flag gives), and a plain date, are accepted.
    const seconds = await admin('POST', '/admin/v1/keys', { account_id: account, expires_at: '1893456000' });
    assert.equal(seconds.status, 201, JSON.stringify(seconds.json));
    assert.equal(seconds.json.expires_at, 1893456000);
    assert.equal((await admin('POST', '/admin/v1/keys', { account_id: account, expires_at: '2031-01-01' })).status, 201);
  });
});

describe('limits', () => {
  test('requests per minute: 429 with Retry-After and rate-limit headers', async () => {
    const { key } = await newKey(await newAccount('tiny'));
    for (let i = 0; i < 3; i++) {
      const ok = await chat(key);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('x-ratelimit-limit-requests'), '3');
      assert.equal(ok.headers.get('x-ratelimit-remaining-requests'), String(2 - i));
      assert.match(ok.headers.get('x-ratelimit-reset-requests')!, /^(\d+(\.\d+)?(h|m|s|ms))+$/);
    }
    const limited = await chat(key);
    assert.equal(limited.status, 429);
    assert.equal(errorOf(limited).code, 'rate_limit_exceeded');
    assert.match(errorOf(limited).message, /requests per minute/);
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60);
    assert.equal(limited.headers.get('x-ratelimit-remaining-requests'), '0');
    // Responses that admit nothing still report the key's state.
    const models = await call('GET', '/v1/models', key);
    assert.equal(models.headers.get('x-ratelimit-remaining-requests'), '0');
    const invalid = await call('POST', '/v1/chat/completions', key, { model: 'chat-model' });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.headers.get('x-ratelimit-limit-requests'), '3');
  });

  test('tokens per minute: the estimate is reserved, usage corrects it, too-large requests are told so', async () => {
    const { key } = await newKey(await newAccount('thrifty'));
    const first = await chat(key, { max_tokens: 400 });
    assert.equal(first.status, 200);
    const remaining = Number(first.headers.get('x-ratelimit-remaining-tokens'));
    assert.ok(remaining < 200, 'the reservation counted the whole max_tokens');
    // After release the window holds only the real usage, so a second request of the same size fits.
    const second = await chat(key, { max_tokens: 400 });
    assert.equal(second.status, 200, JSON.stringify(second.json));
    const huge = await chat(key, { max_tokens: 5000 });
    assert.equal(huge.status, 429);
    assert.match(errorOf(huge).message, /tokens per minute/);
    assert.equal(huge.headers.get('x-should-retry'), 'false');
  });

  test('concurrency: a second request in flight → 429 at once; the SDK retries after Retry-After and succeeds', async () => {
    const { key } = await newKey(await newAccount('single'));
    const slow = call('POST', '/v1/chat/completions', key, chatBody({ sim: { tokens_per_second: 20, output_tokens: 10 } }));
    await new Promise((r) => setTimeout(r, 100));
    const refused = await chat(key);
    assert.equal(refused.status, 429);
    assert.match(errorOf(refused).message, /concurrent requests/);
    assert.equal((await slow).status, 200);
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 3 });
    const slow2 = call('POST', '/v1/chat/completions', key, chatBody({ sim: { tokens_per_second: 20, output_tokens: 10 } }));
    await new Promise((r) => setTimeout(r, 100));
    // The first attempt meets slow2 in flight (429, Retry-After: 1); the SDK's retry finds the slot free.
    const { data, response } = await client.chat.completions.create(chatBody() as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(response.status, 200);
    assert.equal((await slow2).status, 200);
  });

  test('a key flooding at ten times its limit never reaches the upstream past it, and another key is unaffected', async () => {
    const flooder = await newKey(await newAccount('flood'));
    const neighbour = await newKey(await newAccount('open'));
    const before = (await sim.stats()).by_endpoint.chat;
    const marker = `flood-${Date.now()}`;
    const flood = await Promise.all(Array.from({ length: 50 }, () => chat(flooder.key, { user: marker })));
    const neighbourResults = await Promise.all(Array.from({ length: 10 }, () => chat(neighbour.key)));
    assert.equal(flood.filter((r) => r.status === 200).length, 5);
    assert.equal(flood.filter((r) => r.status === 429).length, 45);
    assert.ok(neighbourResults.every((r) => r.status === 200));
    const after = (await sim.stats()).by_endpoint.chat;
    assert.equal(after - before, 5 + 10, 'only admitted requests reached the upstream');
  });
});
