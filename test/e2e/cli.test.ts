import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { maas, withPostgresDatabase } from '../helpers/cli.ts';
import { startGateway } from '../helpers/gateway.ts';

async function keyWorks(url: string, key: string): Promise<number> {
  return (await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status;
}

/** The whole CLI story on one store: local commands, a gateway on the same store, remote revoke. */
async function cliStory(storeEnv: Record<string, string>): Promise<void> {
  const created = await maas(['accounts', 'create', '--name', 'Acme', '--plan', 'basic', '--json'], storeEnv);
  assert.equal(created.code, 0, created.stderr);
  const account = JSON.parse(created.stdout) as { id: string; plan: string };
  assert.equal(account.plan, 'basic');

  const table = await maas(['accounts', 'list'], storeEnv);
  assert.match(table.stdout, /^ID\s+NAME\s+PLAN/m);
  assert.ok(table.stdout.includes(account.id));

  const keyOut = await maas(['keys', 'create', '--account', account.id, '--name', 'ci', '--rpm', '30', '--json'], storeEnv);
  assert.equal(keyOut.code, 0, keyOut.stderr);
  const key = JSON.parse(keyOut.stdout) as { id: string; key: string; limits: { rpm: number } };
  assert.match(key.key, /^sk-[0-9A-Za-z]{48}$/);
  assert.deepEqual(key.limits, { rpm: 30 });

  const bad = await maas(['accounts', 'create', '--name', 'X', '--plan', 'gold'], storeEnv);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Unknown plan 'gold'.*\(plan\)/);
  for (const rpm of ['', '0x10', '1e3', '-1']) {
    const badLimit = await maas(['keys', 'create', '--account', account.id, `--rpm=${rpm}`], storeEnv);
    assert.equal(badLimit.code, 1, `--rpm '${rpm}' (an empty one would mean unlimited)`);
    assert.match(badLimit.stderr, /--rpm must be a non-negative integer/);
  }

  const gw = await startGateway({ env: storeEnv });
  try {
    assert.equal(await keyWorks(gw.url, key.key), 200, 'the gateway finds a key the CLI created');
    const remote = { MAAS_URL: gw.url, MAAS_ADMIN_KEY: gw.adminKey };
    const listed = await maas(['keys', 'list', '--account', account.id, '--json'], remote);
    assert.deepEqual((JSON.parse(listed.stdout) as { data: Array<{ id: string }> }).data.map((k) => k.id), [key.id]);
    const revoked = await maas(['keys', 'revoke', key.id], remote);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(await keyWorks(gw.url, key.key), 401, 'revoked through the running gateway: effective at once');

    // Revoked on the store directly while the gateway runs: its cache catches up by itself.
    const second = JSON.parse((await maas(['keys', 'create', '--account', account.id, '--json'], storeEnv)).stdout) as { id: string; key: string };
    assert.equal(await keyWorks(gw.url, second.key), 200);
    assert.equal((await maas(['keys', 'revoke', second.id], storeEnv)).code, 0);
    const deadline = Date.now() + 10_000;
    while ((await keyWorks(gw.url, second.key)) !== 401) {
      assert.ok(Date.now() < deadline, 'a revocation made elsewhere reaches the gateway');
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await gw.stop();
  }
}

test('maas accounts/keys on the local SQLite store and against a running gateway', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'maas-cli-'));
  try {
    await cliStory({ MAAS_DATA_DIR: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the same on PostgreSQL (MAAS_DATABASE_URL)', { skip: !process.env.MAAS_TEST_POSTGRES_URL && 'MAAS_TEST_POSTGRES_URL not set' }, async () => {
  await withPostgresDatabase('maas_cli', cliStory);
});
