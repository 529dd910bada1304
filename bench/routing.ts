/**
 * Routing decision cost, in-process: `Router.resolve` + `pick` + `release` for one request, over
 * catalogs of 1,000 deployments built the real way (YAML → loadConfig → adapters → buildCatalog).
 * 64 picks are kept outstanding (released oldest first), so in-flight counts differ as they do
 * under load; half the deployments are vLLM engines with fresh metrics samples, so the load
 * comparison takes its engine-aware branch. Prints the median ns per decision over the repeats.
 *
 *   node bench/routing.ts [--ops 200000] [--repeats 5] [--in-flight 64]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.ts';
import type { Endpoint, ProviderAdapter } from '../src/providers/adapter.ts';
import { createAdapter } from '../src/providers/registry.ts';
import { buildCatalog, type Deployment } from '../src/gateway/routing/catalog.ts';
import { healthPolicy } from '../src/gateway/routing/health.ts';
import { Router, type RouteRequest } from '../src/gateway/routing/router.ts';

const { values } = parseArgs({
  options: { ops: { type: 'string', default: '200000' }, repeats: { type: 'string', default: '5' }, 'in-flight': { type: 'string', default: '64' } },
});
const ops = Number(values.ops);
const repeats = Number(values.repeats);
const inFlight = Number(values['in-flight']);

const CHIPS = ['nvidia', 'ascend', 'cambricon', 'kunlun'];
const PROVIDERS = 50;
const DEPLOYMENTS = 1_000;

/** 50 providers, half vLLM engines (metrics URL derived), half vendor APIs. No socket is ever opened. */
function providers(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let p = 0; p < PROVIDERS; p++) {
    out[`p${p}`] = p % 2 === 0 ? { type: 'vllm', base_url: `http://10.0.${p}.1:8000/v1` } : { type: 'deepseek', base_url: `https://api${p}.example.com/v1`, api_key: 'sk-bench' };
  }
  return out;
}

function deployment(i: number): Record<string, unknown> {
  return { provider: `p${i % PROVIDERS}`, chip: CHIPS[Math.floor(i / PROVIDERS) % CHIPS.length], weight: 1 + (i % 4), upstream_model: `up-${i}` };
}

interface Built {
  readonly router: Router;
  readonly adapters: Map<string, ProviderAdapter>;
}

function build(models: Record<string, unknown>): Built {
  const dir = mkdtempSync(join(tmpdir(), 'maas-bench-routing-'));
  const path = join(dir, 'config.yaml');
  writeFileSync(path, JSON.stringify({ providers: providers(), models }));
  try {
    const config = loadConfig({ MAAS_CONFIG: path });
    const adapters = new Map<string, ProviderAdapter>();
    for (const [name, raw] of Object.entries(config.providers)) adapters.set(name, createAdapter(name, raw));
    const router = new Router(buildCatalog(config, adapters, healthPolicy(config)), adapters.keys());
    // Engine samples as the metrics scraper would leave them; dated in the future so they stay
    // fresh (< 10 s old) for the whole run.
    let seed = 1;
    for (const d of router.deployments()) {
      if (d.metricsUrl === undefined) continue;
      seed = (seed * 48271) % 2147483647;
      d.engine.waiting = seed % 6;
      d.engine.kvCacheUsage = (seed % 90) / 100;
      d.engine.sampledAt = Date.now() + 3_600_000;
    }
    return { router, adapters };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function request(model: string, extra: Partial<RouteRequest> = {}): RouteRequest {
  return { model, endpoint: 'chat' as Endpoint, provider: undefined, chip: undefined, deploymentId: undefined, accountId: 'acct_bench', ...extra };
}

interface Run {
  /** Wall-clock ns per decision. */
  readonly wall: number;
  /** This process's CPU ns per decision: what the decision costs even when the core was shared. */
  readonly cpu: number;
}

/** One routing decision per op, as the inference route makes it: resolve, a fresh tried-set, pick, and later release. */
function run(router: Router, requests: readonly RouteRequest[], n: number): Run {
  const outstanding: Deployment[] = [];
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const route = router.resolve(requests[i % requests.length]!);
    const picked = router.pick(route, new Set<Deployment>());
    if (picked === undefined) throw new Error('nothing picked');
    outstanding.push(picked);
    if (outstanding.length > inFlight) router.release(outstanding.shift()!);
  }
  const wall = Number(process.hrtime.bigint() - start) / n;
  const cpu = process.cpuUsage(cpuStart);
  for (const d of outstanding) router.release(d);
  return { wall, cpu: ((cpu.user + cpu.system) * 1000) / n };
}

/** Busy and steal time of all CPUs so far, in ms (from /proc/stat, 100 ticks per second). */
function machineBusyMs(): { busy: number; steal: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return { busy: (f[0]! + f[1]! + f[2]! + f[5]! + f[6]!) * 10, steal: f[7]! * 10 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const oneModel = build({ big: { deployments: Array.from({ length: DEPLOYMENTS }, (_, i) => deployment(i)) } });
const manyModels = build(Object.fromEntries(Array.from({ length: DEPLOYMENTS }, (_, i) => [`model-${i}`, { deployments: [deployment(i)] }])));

const scenarios: { label: string; candidates: string; router: Router; requests: RouteRequest[] }[] = [
  { label: '1 model × 1,000 deployments, /v1', candidates: '1,000', router: oneModel.router, requests: [request('big')] },
  { label: '… one chip (/maas/{model}/{chip})', candidates: '250', router: oneModel.router, requests: CHIPS.map((chip) => request('big', { chip })) },
  { label: '… X-AI-Provider (scan 1,000, 20 match)', candidates: '20', router: oneModel.router, requests: [request('big', { provider: 'p7' })] },
  { label: '… one deployment (/maas/deployment/{id})', candidates: '1', router: oneModel.router, requests: [request('big', { deploymentId: 'big#517' })] },
  { label: '1,000 models × 1 deployment, /v1', candidates: '1', router: manyModels.router, requests: Array.from({ length: DEPLOYMENTS }, (_, i) => request(`model-${i}`)) },
];

process.stdout.write(`node ${process.version}, ${ops} decisions × ${repeats} repeats per scenario, ${inFlight} picks outstanding\n\n`);
process.stdout.write('| scenario | candidates | ns per decision, wall (median) | min | max | CPU ns per decision (median) |\n|---|---:|---:|---:|---:|---:|\n');
const fmt = (ns: number) => Math.round(ns).toLocaleString('en-US');
const startedAt = performance.now();
const machineBefore = machineBusyMs();
const ownBefore = process.cpuUsage();
for (const s of scenarios) {
  run(s.router, s.requests, Math.max(10_000, Math.floor(ops / 4)));
  const runs = Array.from({ length: repeats }, () => run(s.router, s.requests, ops));
  const wall = runs.map((r) => r.wall);
  process.stdout.write(`| ${s.label} | ${s.candidates} | ${fmt(median(wall))} | ${fmt(Math.min(...wall))} | ${fmt(Math.max(...wall))} | ${fmt(median(runs.map((r) => r.cpu)))} |\n`);
}
// Other processes' CPU during the runs: the measurements are only as good as the core was quiet.
const elapsedMs = performance.now() - startedAt;
const machineAfter = machineBusyMs();
const own = process.cpuUsage(ownBefore);
const foreignMs = machineAfter.busy - machineBefore.busy - (own.user + own.system) / 1000;
process.stdout.write(
  `\nother processes used ${((100 * foreignMs) / elapsedMs).toFixed(0)} % of a core on average during the runs; steal ${((100 * (machineAfter.steal - machineBefore.steal)) / elapsedMs).toFixed(0)} %\n`,
);
await Promise.all([...oneModel.adapters.values(), ...manyModels.adapters.values()].map((a) => a.close()));
