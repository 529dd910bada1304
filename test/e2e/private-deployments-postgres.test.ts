/**
 * Private deployments across gateway processes on one PostgreSQL store, and the secret-key rule
 * for PostgreSQL (docs/deployments.md). Runs when MAAS_TEST_POSTGRES_URL is set.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import pg from 'pg';
import { simConfig, startGateway, startGatewayExpectingFailure, TEST_ADMIN_KEY, type GatewayProcess } from '../helpers/gateway.ts';
import { startSimProcess, type SimProcess } from '../helpers/sim.ts';

const POSTGRES_URL = process.env.MAAS_TEST_POSTGRES_URL;
const UPSTREAM_KEY = 'sk-upstream-shared-store-4b8d2f6e1a';
const SECRET_KEY = randomBytes(32).toString('base64');
/** How long another process may take to see a change: the 2 s refresh, with room for a loaded machine. */
const PROPAGATION_DEADLINE_MS = 15_000;

type Json = Record<string, unknown>;
const hi = [{ role: 'user' as const, content: 'hi' }];

/** A fresh database on the test server; dropped in `after`. */
async function freshDatabase(created: string[]): Promise<string> {
  const name = `maas_private_${process.pid}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  created.push(name);
  const url = new URL(POSTGRES_URL!);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabases(names: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    for (const name of names) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

async function call(gw: GatewayProcess, method: string, path: string, key: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

/** Polls until `check` holds (no fixed sleeps: it returns as soon as the change is visible), failing after the deadline. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + PROPAGATION_DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${PROPAGATION_DEADLINE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function chatStatus(gw: GatewayProcess, key: string, model: string): Promise<number> {
  try {
    await new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 20_000 }).chat.completions.create({ model, messages: hi, max_tokens: 4 });
    return 200;
  } catch (err) {
    if (err instanceof OpenAI.APIError && err.status !== undefined) return err.status;
    throw err;
  }
}

describe('private deployments on a shared PostgreSQL store', { skip: !POSTGRES_URL && 'MAAS_TEST_POSTGRES_URL not set' }, () => {
  const databases: string[] = [];
  let engine: SimProcess;
  let platform: SimProcess;

  before(async () => {
    engine = await startSimProcess(['--api-key', UPSTREAM_KEY]);
    platform = await startSimProcess();
  });
  after(async () => {
    await engine?.stop();
    await platform?.stop();
    await dropDatabases(databases);
  });

  test('created on one gateway, callable on the other within seconds; deleted there, gone here', async () => {
    const env = { MAAS_DATABASE_URL: await freshDatabase(databases), MAAS_SECRET_KEY: SECRET_KEY };
    const config = simConfig(platform.baseURL);
    // One after the other: the first creates the default account, the second finds it.
    const a = await startGateway({ config, env });
    const b = await startGateway({ config, env });
    try {
      const created = await call(a, 'POST', '/admin/v1/accounts', TEST_ADMIN_KEY, { name: 'shared', plan: 'enterprise' });
      const key = (await call(a, 'POST', '/admin/v1/keys', TEST_ADMIN_KEY, { account_id: created.json.id })).json.key as string;
      const deployment = await call(a, 'POST', '/maas/v1/deployments', key, { model: 'shared-ft', base_url: engine.baseURL, api_key: UPSTREAM_KEY });
      assert.equal(deployment.status, 201);
      const id = deployment.json.id as string;
      assert.equal(await chatStatus(a, key, id), 200, 'at once on the gateway that created it');

      await eventually('the other gateway serves it', async () => (await chatStatus(b, key, id)) === 200);
      assert.equal((await call(b, 'GET', `/maas/v1/deployments/${id}`, key)).json.state, 'healthy');

      assert.equal((await call(b, 'DELETE', `/maas/v1/deployments/${id}`, key)).status, 200);
      assert.equal(await chatStatus(b, key, id), 404, 'at once on the gateway that deleted it');
      await eventually('the first gateway drops it', async () => (await chatStatus(a, key, id)) === 404);
      assert.ok(!((await call(a, 'GET', '/admin/v1/deployments', TEST_ADMIN_KEY)).json.data as Json[]).some((d) => d.id === id));
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('without MAAS_SECRET_KEY: no api key can be stored (503 naming it); sealed keys in the store fail the start', async () => {
    const url = await freshDatabase(databases);
    const config = simConfig(platform.baseURL);
    const keyless = await startGateway({ config, env: { MAAS_DATABASE_URL: url } });
    try {
      const refused = await call(keyless, 'POST', '/maas/v1/deployments', keyless.apiKey, { model: 'm', base_url: engine.baseURL, api_key: UPSTREAM_KEY });
      assert.equal(refused.status, 503);
      const error = refused.json.error as { message: string; param: string };
      assert.match(error.message, /MAAS_SECRET_KEY/);
      assert.equal(error.param, 'api_key');
      const open = await call(keyless, 'POST', '/maas/v1/deployments', keyless.apiKey, { model: 'open-engine', base_url: engine.baseURL });
      assert.equal(open.status, 201, 'an engine without a key needs no secret key');
    } finally {
      await keyless.stop();
    }

    const keyed = await startGateway({ config, env: { MAAS_DATABASE_URL: url, MAAS_SECRET_KEY: SECRET_KEY } });
    try {
      const admin = await call(keyed, 'GET', '/admin/v1/accounts', TEST_ADMIN_KEY);
      const accountId = (admin.json.data as Json[])[0]!.id as string;
      const key = (await call(keyed, 'POST', '/admin/v1/keys', TEST_ADMIN_KEY, { account_id: accountId })).json.key as string;
      assert.equal((await call(keyed, 'POST', '/maas/v1/deployments', key, { model: 'sealed', base_url: engine.baseURL, api_key: UPSTREAM_KEY })).status, 201);
    } finally {
      await keyed.stop();
    }

    const failed = await startGatewayExpectingFailure(config, { MAAS_DATABASE_URL: url });
    assert.notEqual(failed.code, 0);
    assert.match(failed.output, /configuration error: MAAS_SECRET_KEY: 1 private deployment\(s\) .* this process has no key/);
    assert.ok(!failed.output.includes(UPSTREAM_KEY));
  });
});
