/**
 * Key isolation at full scale: one key floods at ten times its RPM limit while another key
 * sends ordinary traffic; the second key's latency must not move (issue: p99 within +20 %).
 * Gateway pinned to CPU 0; simulator, victim load and flood on CPU 1. Runs: victim alone,
 * victim under flood, alternated, repeated; medians reported.
 *
 *   node bench/isolation.ts [--rpm 600] [--duration 5] [--repeats 3] [--concurrency 8]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayArgs, startNode, type StartedNode } from './proc.ts';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    rpm: { type: 'string', default: '600' },
    duration: { type: 'string', default: '5' },
    repeats: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '8' },
  },
});
const RPM = Number(values.rpm);
const DURATION_MS = Number(values.duration) * 1000;
const REPEATS = Number(values.repeats);
const CONCURRENCY = Number(values.concurrency);
const FLOOD_PER_SECOND = (RPM / 60) * 10;
const ROOT = new URL('..', import.meta.url).pathname;
const children: ChildProcess[] = [];

function start(cpu: string, args: string[], env: NodeJS.ProcessEnv, pattern: RegExp): Promise<StartedNode> {
  const { child, started } = startNode({ cpu, args, env, cwd: ROOT, pattern, timeoutMs: 20_000 });
  children.push(child);
  return started;
}

const BODY = JSON.stringify({ model: 'bench-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 32 });

/** Closed loop, `CONCURRENCY` workers, for `DURATION_MS`: the victim's latencies in ms. */
async function victimLoad(pool: Pool, key: string): Promise<number[]> {
  const latencies: number[] = [];
  const end = performance.now() + DURATION_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const res = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: BODY });
        await res.body.text();
        if (res.statusCode !== 200) throw new Error(`victim got ${res.statusCode}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return latencies;
}

/** Open loop at `FLOOD_PER_SECOND`: counts answers by status. */
async function flood(pool: Pool, key: string, stop: () => boolean): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  const pending: Promise<void>[] = [];
  const intervalMs = 1000 / FLOOD_PER_SECOND;
  let next = performance.now();
  while (!stop()) {
    next += intervalMs;
    pending.push(
      pool
        .request({ method: 'POST', path: '/v1/chat/completions', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: BODY })
        .then(async (res) => {
          await res.body.text();
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        }),
    );
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await Promise.all(pending);
  return statuses;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'maas-isolation-'));
  try {
    const sim = await start('1', ['src/cli/main.ts', 'sim', '--port', '0', '--output-tokens', '32'], process.env, /maas sim listening on (\S+)/);
    const config = {
      providers: { sim: { type: 'vllm', base_url: `${sim.url}/v1` } },
      models: { 'bench-model': { deployments: [{ provider: 'sim' }] } },
      plans: { flood: { rpm: RPM, tpm: 0, concurrency: 0 }, victim: { rpm: 0, tpm: 0, concurrency: 0 } },
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const env = { ...process.env, MAAS_PORT: '0', MAAS_CONFIG: join(dir, 'config.json'), MAAS_DATA_DIR: join(dir, 'data'), MAAS_ADMIN_KEY: 'sk-isolation-admin', MAAS_LOG_LEVEL: 'warn' };
    const gw = await start('0', gatewayArgs(ROOT), env, /maas gateway listening on (\S+)/);
    const admin = async (path: string, body: unknown): Promise<Record<string, string>> => {
      const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { authorization: 'Bearer sk-isolation-admin', 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return (await res.json()) as Record<string, string>;
    };
    const keyFor = async (plan: string) => (await admin('/admin/v1/keys', { account_id: (await admin('/admin/v1/accounts', { name: plan, plan })).id })).key!;
    const [victimKey, floodKey] = [await keyFor('victim'), await keyFor('flood')];
    const victimPool = new Pool(gw.url, { connections: CONCURRENCY });
    const floodPool = new Pool(gw.url, { connections: 64 });

    await victimLoad(victimPool, victimKey); // warm-up
    const p99 = { alone: [] as number[], flooded: [] as number[] };
    const p50 = { alone: [] as number[], flooded: [] as number[] };
    let floodStatuses: Record<number, number> = {};
    for (let r = 0; r < REPEATS; r++) {
      for (const mode of r % 2 === 0 ? (['alone', 'flooded'] as const) : (['flooded', 'alone'] as const)) {
        let stopped = false;
        const flooding = mode === 'flooded' ? flood(floodPool, floodKey, () => stopped) : undefined;
        const latencies = (await victimLoad(victimPool, victimKey)).sort((a, b) => a - b);
        stopped = true;
        if (flooding) floodStatuses = await flooding;
        p50[mode].push(percentile(latencies, 50));
        p99[mode].push(percentile(latencies, 99));
        process.stderr.write(`  ${mode.padEnd(8)} n=${latencies.length} p50 ${percentile(latencies, 50).toFixed(3)} p99 ${percentile(latencies, 99).toFixed(3)} ms\n`);
      }
    }
    const ratio = median(p99.flooded) / median(p99.alone);
    process.stdout.write(
      [
        `flood: ${FLOOD_PER_SECOND.toFixed(1)} req/s against an RPM limit of ${RPM} (10×); last run's answers: ${JSON.stringify(floodStatuses)}`,
        `victim (c=${CONCURRENCY}) p50 alone ${median(p50.alone).toFixed(3)} ms, flooded ${median(p50.flooded).toFixed(3)} ms`,
        `victim p99 alone ${median(p99.alone).toFixed(3)} ms, flooded ${median(p99.flooded).toFixed(3)} ms: ×${ratio.toFixed(2)} (target ≤ ×1.20: ${ratio <= 1.2 ? 'PASS' : 'FAIL'})`,
      ].join('\n') + '\n',
    );
    await victimPool.close();
    await floodPool.close();
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
