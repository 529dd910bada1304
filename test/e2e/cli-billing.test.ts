/**
 * `maas credits add`, `maas usage` and `maas ledger verify` end to end: the CLI as its own
 * process, on the local store and against a running gateway (--url/--admin-key), after real
 * requests through that gateway to a real simulator. SQLite always, PostgreSQL when
 * MAAS_TEST_POSTGRES_URL is set.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { maas, maasJson, withPostgresDatabase } from '../helpers/cli.ts';
import { simConfig, startGateway } from '../helpers/gateway.ts';
import { startSimProcess, type SimProcess } from '../helpers/sim.ts';

type Json = Record<string, unknown>;
type Env = Record<string, string>;

let sim: SimProcess;
before(async () => {
  sim = await startSimProcess();
});
after(async () => {
  await sim?.stop();
});

/** Decimal yuan ↔ nano-yuan, for exact expectations (never floats). */
function nanos(yuan: string): bigint {
  const negative = yuan.startsWith('-');
  const [whole, fraction = ''] = yuan.replace(/^-/, '').split('.');
  const value = BigInt(whole!) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0'));
  return negative ? -value : value;
}
function yuan(n: bigint): string {
  const fraction = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${n / 1_000_000_000n}${fraction ? `.${fraction}` : ''}`;
}

/** chat-model's price in simConfig, yuan per 1K tokens. */
const CHAT_PRICE = { input: '0.001', output: '0.002' };
const USAGE_HEADER = 'model,requests,prompt_tokens,completion_tokens,cached_tokens,total_tokens,cost';

interface Billed {
  prompt: number;
  completion: number;
  cost: bigint;
}

/** Sends real requests with the account's key; returns what each answer said it used and cost. */
async function spend(baseURL: string, key: string): Promise<{ chat: Billed; embed: Billed; lastBalance: string }> {
  const chat: Billed = { prompt: 0, completion: 0, cost: 0n };
  let lastBalance = '';
  for (const [content, maxTokens] of [['a first question', 5], ['a second, somewhat longer question', 9], ['third', 16]] as const) {
    const res = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat-model', messages: [{ role: 'user', content }], max_tokens: maxTokens }),
    });
    assert.equal(res.status, 200);
    const usage = ((await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    const cost = nanos(res.headers.get('x-maas-cost')!);
    // The header is the documented formula: (input × prompt + output × completion) / 1000, rounded up.
    assert.equal(cost, (BigInt(usage.prompt_tokens) * nanos(CHAT_PRICE.input) + BigInt(usage.completion_tokens) * nanos(CHAT_PRICE.output) + 999n) / 1000n);
    chat.prompt += usage.prompt_tokens;
    chat.completion += usage.completion_tokens;
    chat.cost += cost;
    lastBalance = res.headers.get('x-maas-balance')!;
  }
  const res = await fetch(`${baseURL}/embeddings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'embed-model', input: 'free to embed' }),
  });
  assert.equal(res.status, 200);
  const embedUsage = ((await res.json()) as { usage: { prompt_tokens: number } }).usage;
  return { chat, embed: { prompt: embedUsage.prompt_tokens, completion: 0, cost: 0n }, lastBalance };
}

/** Changes the store behind the gateway's back, as only a bug or an intruder would. */
async function tamper(store: Env, statement: string): Promise<void> {
  if (store.MAAS_DATABASE_URL !== undefined) {
    const client = new pg.Client({ connectionString: store.MAAS_DATABASE_URL });
    await client.connect();
    await client.query(statement).finally(() => client.end());
    return;
  }
  const db = new DatabaseSync(join(store.MAAS_DATA_DIR!, 'maas.db'));
  try {
    db.exec(statement);
  } finally {
    db.close();
  }
}

async function billingCliStory(store: Env): Promise<void> {
  const account = (await maasJson<{ id: string }>(['accounts', 'create', '--name', 'Payer', '--plan', 'enterprise'], store)).id;
  const balance = async (env: Env, flags: string[] = []) => (await maasJson<{ balance: string }>(['accounts', 'show', account, ...flags], env)).balance;

  // Credits on the local store: the balance is the exact decimal sum, down to one nano-yuan.
  const topUp = await maas(['credits', 'add', account, '12.5', '--reason', 'first top-up'], store);
  assert.equal(topUp.code, 0, topUp.stderr);
  assert.equal(topUp.stdout, `balance of ${account}: 12.5 yuan\n`);
  assert.deepEqual(await maasJson(['credits', 'add', account, '0.000000001', '--reason', 'the smallest unit'], store), { account_id: account, balance: '12.500000001' });
  assert.equal(await balance(store), '12.500000001');

  // Bad input: a clear message on stderr, exit 1, and the balance untouched.
  const refusals: Array<[string[], RegExp]> = [
    [['abc', '--reason', 'x'], /'amount' must be a decimal number of yuan with at most 9 decimals, got 'abc'.*\(amount\)/],
    [['0.0000000001', '--reason', 'x'], /at most 9 decimals, got '0\.0000000001'.*\(amount\)/],
    [['0', '--reason', 'x'], /'amount' must be positive for a topup.*\(amount\)/],
    [['1'], /--reason is required/],
  ];
  // Independent processes: run together, the story takes half the time.
  const [unknown, ...refused] = await Promise.all([
    maas(['credits', 'add', 'acct_missing', '1', '--reason', 'x'], store),
    ...refusals.map(([args]) => maas(['credits', 'add', account, ...args], store)),
  ]);
  refusals.forEach(([args, message], i) => {
    assert.equal(refused[i]!.code, 1, args.join(' '));
    assert.match(refused[i]!.stderr, message);
    assert.equal(refused[i]!.stdout, '');
  });
  assert.equal(unknown!.code, 1);
  assert.match(unknown!.stderr, /^maas credits: 404: /);
  // (The balance after the requests below proves these changed nothing.)

  const key = (await maasJson<{ key: string }>(['keys', 'create', '--account', account, '--name', 'cli-billing'], store)).key;
  const gw = await startGateway({ config: simConfig(sim.baseURL), env: store });
  try {
    const remote = ['--url', gw.url, '--admin-key', gw.adminKey];
    const [remoteTopUp, badRemote] = await Promise.all([
      maas(['credits', 'add', account, '0.25', '--reason', 'remote top-up', ...remote], {}),
      maas(['credits', 'add', account, 'abc', '--reason', 'x', ...remote], {}),
    ]);
    assert.equal(remoteTopUp.code, 0, remoteTopUp.stderr);
    assert.equal(remoteTopUp.stdout, `balance of ${account}: 12.750000001 yuan\n`);
    assert.equal(badRemote.code, 1);
    assert.match(badRemote.stderr, /400: 'amount' must be a decimal number/);

    const { chat, embed, lastBalance } = await spend(gw.baseURL, key);
    const expectedBalance = yuan(nanos('12.750000001') - chat.cost);
    assert.equal(lastBalance, expectedBalance, 'x-maas-balance of the last answer');

    // Read-only from here: every query runs at once.
    const [remoteBalance, localBalance, remoteUsage, localUsage, table, plain, csv, emptyCsv, remoteVerify, localVerify, report] = await Promise.all([
      balance({}, remote),
      balance(store),
      maasJson<{ data: Json[]; totals: Json }>(['usage', '--account', account, ...remote], {}),
      maasJson<{ data: Json[]; totals: Json }>(['usage', '--account', account], store),
      maas(['usage', '--account', account, '--group-by', 'model', ...remote], {}),
      maas(['usage', '--account', account], store),
      maas(['usage', '--account', account, '--group-by', 'model', '--csv', ...remote], {}),
      maas(['usage', '--model', 'no-such-model', '--group-by', 'model', '--csv'], store),
      maas(['ledger', 'verify', ...remote], {}),
      maas(['ledger', 'verify'], store),
      maasJson<{ ok: boolean; accounts: Json[] }>(['ledger', 'verify', ...remote], {}),
    ]);
    assert.equal(remoteBalance, expectedBalance);
    assert.equal(localBalance, expectedBalance, 'the local store sees what the gateway committed');

    // --json, remote and local alike: the totals are the sums of what the answers reported.
    const expectedTotals = {
      requests: 4,
      prompt_tokens: chat.prompt + embed.prompt,
      completion_tokens: chat.completion,
      cached_tokens: 0,
      total_tokens: chat.prompt + embed.prompt + chat.completion,
      cost: yuan(chat.cost),
    };
    for (const usage of [remoteUsage, localUsage]) {
      assert.deepEqual(usage.totals, expectedTotals);
      assert.deepEqual(usage.data, [expectedTotals]);
    }

    // The table: one line per model and a TOTAL line; ungrouped, the total once.
    const cells = (text: string) => text.trimEnd().split('\n').map((line) => line.split(/\s+/));
    assert.equal(table.code, 0, table.stderr);
    assert.deepEqual(cells(table.stdout), [
      ['MODEL', 'REQUESTS', 'PROMPT_TOKENS', 'COMPLETION_TOKENS', 'CACHED_TOKENS', 'COST'],
      ['chat-model', '3', String(chat.prompt), String(chat.completion), '0', yuan(chat.cost)],
      ['embed-model', '1', String(embed.prompt), '0', '0', '0'],
      ['TOTAL', '4', String(expectedTotals.prompt_tokens), String(chat.completion), '0', yuan(chat.cost)],
    ]);
    assert.deepEqual(cells(plain.stdout), [
      ['REQUESTS', 'PROMPT_TOKENS', 'COMPLETION_TOKENS', 'CACHED_TOKENS', 'COST'],
      ['4', String(expectedTotals.prompt_tokens), String(chat.completion), '0', yuan(chat.cost)],
    ]);

    // CSV: a header row, then one row per group; an empty selection still has the full header.
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(
      csv.stdout,
      `${USAGE_HEADER}\nchat-model,3,${chat.prompt},${chat.completion},0,${chat.prompt + chat.completion},${yuan(chat.cost)}\nembed-model,1,${embed.prompt},0,0,${embed.prompt},0\n`,
    );
    assert.equal(emptyCsv.stdout, `${USAGE_HEADER}\n`);

    // Clean ledger: exit 0, on the gateway and on the store.
    for (const verified of [remoteVerify, localVerify]) {
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      assert.match(verified.stdout, /^ledger verified: \d+ accounts, every balance equals the sum of its entries$/m);
    }
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.accounts.find((a) => a.account_id === account),
      { account_id: account, balance: expectedBalance, ledger_sum: expectedBalance, held: '0', open_holds: '0', ok: true },
    );
  } finally {
    await gw.stop();
  }

  // A balance changed without a ledger entry is found: exit 1 and the account named.
  await tamper(store, `UPDATE accounts SET balance = balance + 1 WHERE id = '${account}'`);
  const mismatch = await maas(['ledger', 'verify'], store);
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.stdout, /LEDGER MISMATCH/);
  assert.match(mismatch.stdout, new RegExp(`^${account}\\s.*\\sfalse$`, 'm'));
}

test('maas credits, usage and ledger verify on the local SQLite store and against a running gateway', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'maas-cli-billing-'));
  try {
    await billingCliStory({ MAAS_DATA_DIR: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the same on PostgreSQL (MAAS_DATABASE_URL)', { skip: !process.env.MAAS_TEST_POSTGRES_URL && 'MAAS_TEST_POSTGRES_URL not set' }, async () => {
  await withPostgresDatabase('maas_cli_billing', billingCliStory);
});
