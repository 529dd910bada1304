import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { simConfig, startGateway, TEST_ADMIN_KEY, type GatewayProcess } from '../helpers/gateway.ts';
import { startSimProcess, type SimProcess } from '../helpers/sim.ts';

/** The account's engine requires this key, like vLLM's --api-key: a call that gets through proves the gateway sent it. */
const UPSTREAM_KEY = 'sk-upstream-private-engine-7f3a9c1e5b';
const WRONG_UPSTREAM_KEY = 'sk-upstream-wrong-key-0d2e4f6a8c';
const SECRETS = [UPSTREAM_KEY, WRONG_UPSTREAM_KEY];

type Json = Record<string, unknown>;

let engine: SimProcess;
let platform: SimProcess;
let gw: GatewayProcess;
/** Every response body the tests received, to check no secret was ever in one. */
const seen: string[] = [];

const PLANS = {
  // The plan's allowlist names only a platform model: an account's own deployment is not governed by it.
  narrow: { rpm: 0, tpm: 0, concurrency: 0, models: ['chat-model'] },
};

before(async () => {
  engine = await startSimProcess(['--api-key', UPSTREAM_KEY]);
  platform = await startSimProcess();
  gw = await startGateway({
    config: { ...(simConfig(platform.baseURL) as object), plans: PLANS },
    // Everything the gateway can log, so the log check below means something.
    env: { MAAS_LOG_LEVEL: 'trace', MAAS_ACCESS_LOG: 'true' },
  });
});
after(async () => {
  await gw?.stop();
  await engine?.stop();
  await platform?.stop();
});

async function call(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  seen.push(text);
  return { status: res.status, json: JSON.parse(text) as Json };
}

const admin = (method: string, path: string, body?: unknown) => call(method, path, TEST_ADMIN_KEY, body);
const errorOf = (r: { json: Json }) => r.json.error as { code: string; param: string | null; message: string };

async function newAccountKey(plan: string, keyExtra: Json = {}): Promise<{ account: string; key: string }> {
  const account = await admin('POST', '/admin/v1/accounts', { name: `acct-${plan}`, plan });
  assert.equal(account.status, 201);
  const key = await admin('POST', '/admin/v1/keys', { account_id: account.json.id, ...keyExtra });
  assert.equal(key.status, 201);
  return { account: account.json.id as string, key: key.json.key as string };
}

async function createDeployment(key: string, body: Json): Promise<Json> {
  const res = await call('POST', '/maas/v1/deployments', key, body);
  assert.equal(res.status, 201, JSON.stringify(res.json));
  return res.json;
}

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

/** `maas ARGS` as its own process; exit code, stdout and stderr. */
async function maas(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function sdk(key: string, baseURL: string): OpenAI {
  return new OpenAI({ apiKey: key, baseURL, maxRetries: 0, timeout: 20_000 });
}

const hi = [{ role: 'user' as const, content: 'hi' }];

async function notFoundCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof OpenAI.NotFoundError, String(err));
    return err.code ?? undefined;
  }
  assert.fail('expected 404');
}

describe('private deployments', () => {
  let owner: { account: string; key: string };
  let other: { account: string; key: string };
  let id: string;

  before(async () => {
    // No credit at all: a private deployment is free, so the owner can call it with a zero balance.
    owner = await newAccountKey('narrow');
    other = await newAccountKey('enterprise');
    const created = await createDeployment(owner.key, {
      model: 'my-finetune',
      base_url: engine.baseURL,
      api_key: UPSTREAM_KEY,
      upstream_model: 'ft-upstream',
      chip: 'nvidia',
    });
    id = created.id as string;
  });

  test('create answers 201 with a mif- id, the settings and health, and never the api key', async () => {
    const got = await call('GET', `/maas/v1/deployments/${id}`, owner.key);
    assert.equal(got.status, 200);
    assert.match(id, /^mif-[0-9a-z]{16}$/);
    assert.deepEqual(
      { ...got.json, created_at: 0 },
      {
        id,
        object: 'deployment',
        model: 'my-finetune',
        base_url: engine.baseURL,
        upstream_model: 'ft-upstream',
        chip: 'nvidia',
        owner: owner.account,
        api_key_set: true,
        created_at: 0,
        state: 'healthy',
        cooldown_until: null,
        reason: null,
        error_rate: 0,
        latency_ms: null,
      },
    );
    assert.equal(typeof got.json.created_at, 'number');
    const listed = await call('GET', '/maas/v1/deployments', owner.key);
    assert.deepEqual((listed.json.data as Json[]).map((d) => d.id), [id]);
  });

  test('the owner calls it with the OpenAI SDK at /maas/deployment/{id} and as model on /v1, streaming too', async () => {
    const byPath = sdk(owner.key, `${gw.url}/maas/deployment/${id}`);
    const answer = await byPath.chat.completions.create({ model: 'my-finetune', messages: hi, max_tokens: 8 });
    assert.equal(answer.model, 'my-finetune', 'the engine’s name for the model stays upstream');
    assert.ok((answer.choices[0]?.message.content ?? '').length > 0);

    const byModel = sdk(owner.key, `${gw.url}/v1`);
    const viaV1 = await byModel.chat.completions.create({ model: id, messages: hi, max_tokens: 8 });
    assert.ok((viaV1.choices[0]?.message.content ?? '').length > 0);
    const completion = await byModel.completions.create({ model: id, prompt: 'Say hi', max_tokens: 4 });
    assert.equal(completion.choices.length, 1);

    let text = '';
    const stream = await byPath.chat.completions.create({ model: 'my-finetune', messages: hi, max_tokens: 8, stream: true });
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.ok(text.length > 0);

    const requests = await engine.requests();
    const last = requests.at(-1)!;
    assert.equal((last.body as Json).model, 'ft-upstream');
    assert.ok(requests.every((r) => r.headers.authorization === `Bearer ${UPSTREAM_KEY}`), 'the stored key reached the engine as Authorization');
  });

  test('free: the owner has no credit at all, and its usage is recorded at zero cost', async () => {
    const account = await admin('GET', `/admin/v1/accounts/${owner.account}`);
    assert.equal(account.json.balance, '0');
    const usage = await call('GET', '/maas/v1/usage', owner.key);
    const totals = usage.json.totals as Json;
    assert.ok((totals.requests as number) >= 4, JSON.stringify(usage.json));
    assert.equal(totals.cost, '0');
  });

  test('admission still applies: a key’s own limits count calls to the private deployment', async () => {
    const limited = await admin('POST', '/admin/v1/keys', { account_id: owner.account, limits: { rpm: 2 } });
    const client = sdk(limited.json.key as string, `${gw.url}/v1`);
    for (let i = 0; i < 2; i++) await client.chat.completions.create({ model: id, messages: hi, max_tokens: 4 });
    await assert.rejects(client.chat.completions.create({ model: id, messages: hi, max_tokens: 4 }), OpenAI.RateLimitError);
  });

  test('another account gets 404 model_not_found on both routes and does not see it anywhere', async () => {
    assert.equal(await notFoundCode(sdk(other.key, `${gw.url}/maas/deployment/${id}`).chat.completions.create({ model: 'x', messages: hi })), 'model_not_found');
    assert.equal(await notFoundCode(sdk(other.key, `${gw.url}/v1`).chat.completions.create({ model: id, messages: hi })), 'model_not_found');
    const listed = await call('GET', '/maas/v1/deployments', other.key);
    assert.deepEqual(listed.json.data, []);
    assert.equal((await call('GET', `/maas/v1/deployments/${id}`, other.key)).status, 404);
    assert.equal((await call('DELETE', `/maas/v1/deployments/${id}`, other.key)).status, 404);
    assert.equal((await call('GET', `/maas/v1/deployments/${id}`, owner.key)).status, 200, 'the failed delete left it alone');
  });

  test('bad input is a 400 naming the field; the admin key cannot create one', async () => {
    const cases: Array<[Json, string]> = [
      [{ base_url: engine.baseURL }, 'model'],
      [{ model: 'm' }, 'base_url'],
      [{ model: 'm', base_url: 'ftp://example.com/v1' }, 'base_url'],
      [{ model: 'm', base_url: 'not a url' }, 'base_url'],
      [{ model: 'm', base_url: 'http://user:secret@example.com/v1' }, 'base_url'],
      [{ model: 'm', base_url: 'http://example.com/v1?x=1' }, 'base_url'],
      [{ model: 'mif-abc', base_url: 'http://example.com/v1' }, 'model'],
      [{ model: 'm', base_url: 'http://example.com/v1', upstream_model: '' }, 'upstream_model'],
      [{ model: 'm', base_url: 'http://example.com/v1', api_key: 42 }, 'api_key'],
      [{ model: 'm', base_url: 'http://example.com/v1', api_key: 'X\nInjected: yes' }, 'api_key'],
      [{ model: 'line\nbreak', base_url: 'http://example.com/v1' }, 'model'],
      [{ model: 'm', base_url: 'http://example.com/v1', region: 'eu' }, 'region'],
    ];
    for (const [body, param] of cases) {
      const res = await call('POST', '/maas/v1/deployments', owner.key, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.deepEqual([errorOf(res).param, (res.json.error as Json).type], [param, 'invalid_request_error'], JSON.stringify(res.json));
    }
    assert.equal((await admin('POST', '/maas/v1/deployments', { model: 'm', base_url: 'http://example.com/v1' })).status, 403);
  });

  test('the admin list shows config and private deployments with price or free, load and health', async () => {
    const list = await admin('GET', '/admin/v1/deployments');
    assert.equal(list.status, 200);
    const rows = list.json.data as Json[];
    const platformRow = rows.find((r) => r.id === 'chat-model#0')!;
    assert.deepEqual(
      { ...platformRow, latency_ms: 0, error_rate: 0 },
      {
        id: 'chat-model#0',
        object: 'deployment',
        model: 'chat-model',
        owner: null,
        provider: 'sim',
        provider_type: 'vllm',
        upstream_model: 'upstream-chat',
        chip: 'nvidia',
        base_url: null,
        price: { input: '0.001', output: '0.002', cached_input: null },
        free: false,
        weight: 1,
        priority: 0,
        max_concurrency: 0,
        in_flight: 0,
        state: 'healthy',
        cooldown_until: null,
        reason: null,
        error_rate: 0,
        latency_ms: 0,
        // Scraped from the platform simulator's /metrics when the router reads engine metrics; null until then.
        engine: platformRow.engine,
        created_at: null,
      },
    );
    assert.ok(rows.some((r) => r.id === 'DeepSeek-R1#0'));
    const mine = rows.find((r) => r.id === id)!;
    assert.equal(mine.owner, owner.account);
    assert.equal(mine.price, null);
    assert.equal(mine.free, true);
    assert.equal(mine.state, 'healthy');
    assert.equal(mine.base_url, engine.baseURL);
    assert.equal(mine.in_flight, 0);
    assert.equal(typeof mine.latency_ms, 'number', 'the calls above were measured');
    assert.equal((await admin('GET', `/admin/v1/deployments/${encodeURIComponent('chat-model#0')}`)).json.model, 'chat-model');
    assert.equal((await admin('GET', `/admin/v1/deployments/${id}`)).json.owner, owner.account);
    assert.equal((await admin('GET', '/admin/v1/deployments/mif-0000000000000000')).status, 404);
    assert.equal((await call('GET', '/admin/v1/deployments', owner.key)).status, 403, 'account keys are not the operator');
  });

  test('an engine that refuses the key goes down with a reason; the operator restores it', async () => {
    const bad = await createDeployment(owner.key, { model: 'bad-key', base_url: engine.baseURL, api_key: WRONG_UPSTREAM_KEY });
    const client = sdk(owner.key, `${gw.url}/v1`);
    // The engine's 401 is the gateway's problem with its upstream, not the caller's key: 502 — or
    // 503 when a health probe already found the key refused and took the deployment out.
    await assert.rejects(
      client.chat.completions.create({ model: bad.id as string, messages: hi, max_tokens: 4 }),
      (err: unknown) => err instanceof OpenAI.APIError && (err.status === 502 || err.status === 503),
    );
    const down = await admin('GET', `/admin/v1/deployments/${bad.id as string}`);
    assert.equal(down.json.state, 'down');
    assert.equal(typeof down.json.reason, 'string');
    assert.equal((await call('GET', `/maas/v1/deployments/${bad.id as string}`, owner.key)).json.state, 'down', 'the owner sees it too');
    const restored = await admin('POST', `/admin/v1/deployments/${bad.id as string}/restore`);
    assert.equal(restored.status, 200);
    assert.deepEqual([restored.json.state, restored.json.reason], ['healthy', null]);
    assert.equal((await admin('POST', `/admin/v1/deployments/${encodeURIComponent('chat-model#0')}/restore`)).json.state, 'healthy');
    assert.equal((await admin('POST', '/admin/v1/deployments/mif-0000000000000000/restore')).status, 404);
    assert.equal((await call('POST', `/admin/v1/deployments/${bad.id as string}/restore`, owner.key)).status, 403);
  });

  test('delete: 404 everywhere afterwards; the admin deletes private ones but not the config’s', async () => {
    const doomed = await createDeployment(owner.key, { model: 'doomed', base_url: engine.baseURL, api_key: UPSTREAM_KEY });
    const doomedId = doomed.id as string;
    await sdk(owner.key, `${gw.url}/v1`).chat.completions.create({ model: doomedId, messages: hi, max_tokens: 4 });
    const deleted = await call('DELETE', `/maas/v1/deployments/${doomedId}`, owner.key);
    assert.deepEqual(deleted.json, { id: doomedId, object: 'deployment', deleted: true });
    assert.equal(await notFoundCode(sdk(owner.key, `${gw.url}/v1`).chat.completions.create({ model: doomedId, messages: hi })), 'model_not_found');
    assert.equal(await notFoundCode(sdk(owner.key, `${gw.url}/maas/deployment/${doomedId}`).chat.completions.create({ model: 'x', messages: hi })), 'model_not_found');
    assert.equal((await call('GET', `/maas/v1/deployments/${doomedId}`, owner.key)).status, 404);
    assert.equal((await call('DELETE', `/maas/v1/deployments/${doomedId}`, owner.key)).status, 404);
    assert.ok(!((await admin('GET', '/admin/v1/deployments')).json.data as Json[]).some((r) => r.id === doomedId));

    const byAdmin = await createDeployment(other.key, { model: 'by-admin', base_url: engine.baseURL });
    assert.equal((await admin('DELETE', `/admin/v1/deployments/${byAdmin.id as string}`)).json.deleted, true);
    assert.equal((await call('GET', `/maas/v1/deployments/${byAdmin.id as string}`, other.key)).status, 404);
    const configDelete = await admin('DELETE', `/admin/v1/deployments/${encodeURIComponent('chat-model#0')}`);
    assert.deepEqual([configDelete.status, errorOf(configDelete).param], [400, 'id']);
  });

  test('CLI against the running gateway: list with health, show, restore', async () => {
    const env = { MAAS_URL: gw.url, MAAS_ADMIN_KEY: TEST_ADMIN_KEY };
    const listed = await maas(['deployments', 'list', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    seen.push(listed.stdout);
    const rows = (JSON.parse(listed.stdout) as Json).data as Json[];
    assert.ok(rows.some((r) => r.id === 'chat-model#0' && r.state === 'healthy'));
    assert.ok(rows.some((r) => r.id === id && r.owner === owner.account && r.free === true));
    const table = await maas(['deployments', 'list'], env);
    seen.push(table.stdout);
    assert.match(table.stdout, /^ID\s+MODEL\s+OWNER\s+PROVIDER\s+CHIP\s+PRICE\s+IN_FLIGHT\s+STATE/);
    assert.match(table.stdout, new RegExp(`${id}\\s+my-finetune\\s+${owner.account}\\s+${id}\\s+nvidia\\s+free\\s+0\\s+healthy`));
    assert.match(table.stdout, /chat-model#0\s+chat-model\s+platform\s+sim\s+nvidia\s+0\.001\/0\.002/);
    const restored = await maas(['deployments', 'restore', id, '--json'], env);
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal((JSON.parse(restored.stdout) as Json).state, 'healthy');
    const missing = await maas(['deployments', 'show', 'mif-0000000000000000'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /404: No deployment with id 'mif-0000000000000000'/);
  });

  test('no upstream api key in any response or in the gateway’s logs', () => {
    assert.ok(seen.length > 20);
    for (const secret of SECRETS) {
      assert.ok(!seen.some((body) => body.includes(secret)), `a response carried ${secret}`);
      assert.ok(!gw.output().includes(secret), 'the gateway logged an upstream key');
    }
    assert.ok(gw.output().includes('"level":10') || gw.output().includes('"level":20') || gw.output().includes('"level":30'), 'the log was on');
  });
});

describe('the sealed key survives restarts; a different key is refused at start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'maas-private-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('restart: loaded again from the store with the generated key file (0600); another MAAS_SECRET_KEY fails the start', async () => {
    const env = { MAAS_DATA_DIR: dataDir };
    const config = simConfig(platform.baseURL);
    const first = await startGateway({ config, env });
    let deploymentId: string;
    try {
      const res = await fetch(`${first.url}/maas/v1/deployments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${first.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'kept', base_url: engine.baseURL, api_key: UPSTREAM_KEY }),
      });
      assert.equal(res.status, 201);
      deploymentId = ((await res.json()) as Json).id as string;
    } finally {
      await first.stop();
    }
    assert.equal(statSync(join(dataDir, 'secret.key')).mode & 0o777, 0o600);

    const second = await startGateway({ config, env });
    try {
      // The quickstart key was printed by the first start only; make a key through the admin API.
      const accounts = (await (await fetch(`${second.url}/admin/v1/accounts`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })).json()) as Json;
      const accountId = (accounts.data as Json[])[0]!.id as string;
      const keyRes = await fetch(`${second.url}/admin/v1/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ account_id: accountId }),
      });
      const key = ((await keyRes.json()) as Json).key as string;
      const answer = await sdk(key, `${second.url}/v1`).chat.completions.create({ model: deploymentId, messages: hi, max_tokens: 4 });
      assert.ok(answer.choices.length === 1, 'the engine accepted the key opened from the store');
    } finally {
      await second.stop();
    }

    const otherKey = { ...env, MAAS_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') };
    await assert.rejects(startGateway({ config, env: otherKey }), (err: Error) => {
      assert.match(err.message, /configuration error: MAAS_SECRET_KEY: 1 private deployment\(s\) \(mif-[0-9a-z]{16}\) hold upstream api keys sealed with the secret key [0-9a-f]{8}/);
      assert.ok(!err.message.includes(UPSTREAM_KEY));
      return true;
    });

    // The CLI on the local store: what the store has, no health; restore needs a running gateway.
    const cliEnv = { MAAS_DATA_DIR: dataDir, MAAS_URL: '' };
    const listed = await maas(['deployments', 'list', '--json'], cliEnv);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(!listed.stdout.includes(UPSTREAM_KEY));
    const rows = (JSON.parse(listed.stdout) as Json).data as Json[];
    const kept = rows.find((r) => r.id === deploymentId)!;
    assert.deepEqual([kept.model, kept.state, kept.free, kept.in_flight], ['kept', 'unknown', true, null]);
    assert.ok(rows.some((r) => r.owner === null), 'the config’s deployments are listed too');
    const restore = await maas(['deployments', 'restore', deploymentId], cliEnv);
    assert.equal(restore.code, 1);
    assert.match(restore.stderr, /pass --url/);
    // A lost key: deleting the deployments it sealed lets a gateway with another key start.
    const deleted = await maas(['deployments', 'delete', deploymentId], cliEnv);
    assert.equal(deleted.code, 0, deleted.stderr);
    const third = await startGateway({ config, env: otherKey });
    await third.stop();
  });
});
