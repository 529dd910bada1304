/**
 * What billing costs the store, in-process and without HTTP: each simulated request places a
 * hold and then settles it (usage record + ledger entry), the same two group-committed writes
 * the gateway makes per request. Workers run concurrently like requests in flight; prints µs of
 * wall time and of CPU per request and how many requests shared one transaction.
 *
 *   node bench/billing-store.ts [--requests 20000] [--concurrency 1,16,128] [--free] [--alloc] [--database-url postgres://…]
 *
 * `--free`: requests of a free deployment (hold and cost 0), like the load benchmark's model.
 * `--alloc`: also samples what the store allocates per request at each concurrency (a second,
 * sampled run after the timed one, so the sampler's cost stays out of the timings).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatSummary, startSampling, summarise } from './allocations.ts';
import { priceSnapshot } from '../src/billing/pricing.ts';
import { openStore } from '../src/store/db.ts';
import { createRepositories } from '../src/store/index.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '1,16,128' },
    free: { type: 'boolean', default: false },
    alloc: { type: 'boolean', default: false },
    'database-url': { type: 'string' },
  },
});
const requests = Number(values.requests);
const price = values.free ? null : priceSnapshot({ input: '0.0005', output: '0.001' });
const amount = values.free ? 0n : 47_000n;

const dataDir = mkdtempSync(join(tmpdir(), 'maas-bench-billing-store-'));
const store = await openStore({ databaseUrl: values['database-url'], dataDir });
const repos = createRepositories(store);
try {
  const account = await repos.accounts.create({ name: 'bench', plan: 'enterprise' });
  await repos.billing.credit(account.id, 1_000_000_000_000_000n, 'topup', 'bench');
  let sequence = 0;

  /** One request's billing: hold before dispatch, settle after, as BillingSession does. */
  const billOne = async (): Promise<void> => {
    const requestId = `req_bench_${sequence++}`;
    const held = await repos.billing.placeHold({
      requestId,
      accountId: account.id,
      keyId: 'key_bench',
      model: 'bench-model',
      chip: 'nvidia',
      deploymentId: 'bench-model#0',
      provider: 'sim',
      amount,
      price,
      startedAt: Date.now(),
    });
    if (!held.ok) throw new Error('hold refused');
    await repos.billing.settle({ requestId, promptTokens: 30, completionTokens: 32, cachedTokens: 0, cost: amount, status: 'ok', httpStatus: 200, latencyMs: 1, ttftMs: null, endedAt: Date.now() });
  };

  const run = async (concurrency: number, n: number): Promise<{ wallUs: number; userUs: number; systemUs: number; perCommit: number }> => {
    const commits0 = repos.billing.commits;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let left = n;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (left-- > 0) await billOne();
      }),
    );
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const commits = repos.billing.commits - commits0;
    return { wallUs: (1000 * wallMs) / n, userUs: cpu.user / n, systemUs: cpu.system / n, perCommit: (2 * n) / commits };
  };

  await run(16, Math.min(requests, 2000)); // warm-up: JIT, statement cache
  process.stdout.write(`${store.dialect}: ${requests} ${values.free ? 'free' : 'paid'} requests per row (hold + settle each)\n`);
  process.stdout.write('| in flight | wall µs/request | CPU µs/request (user + system) | writes per transaction |\n|---:|---:|---:|---:|\n');
  for (const concurrency of values.concurrency.split(',').map(Number)) {
    const r = await run(concurrency, requests);
    process.stdout.write(`| ${concurrency} | ${r.wallUs.toFixed(0)} | ${(r.userUs + r.systemUs).toFixed(0)} (${r.userUs.toFixed(0)} + ${r.systemUs.toFixed(0)}) | ${r.perCommit.toFixed(1)} |\n`);
  }
  if (values.alloc) {
    for (const concurrency of values.concurrency.split(',').map(Number)) {
      const stop = await startSampling();
      await run(concurrency, requests);
      process.stdout.write(`\nin flight ${concurrency}: ${formatSummary(summarise(await stop(), requests, 15), 'request')}\n`);
    }
  }
  const verify = await repos.billing.verify();
  process.stdout.write(`ledger verify: ${verify.every((v) => v.ok) ? 'ok' : 'MISMATCH'}\n`);
} finally {
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
}
