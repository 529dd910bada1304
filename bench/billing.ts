/**
 * Throughput with billing on versus off. Two gateways, identical but for MAAS_BILLING, in front
 * of the same simulator; the same closed-loop load generator (bench/loadgen.ts) drives one, then
 * the other, alternating ABBA, repeated; medians reported. With billing on every request places
 * a durable hold before dispatch and settles afterwards (usage record, ledger entry), on the
 * gateway's SQLite store, group-committed. See bench/README.md.
 *
 *   npm run bench:billing                                  nonstream-c16 + stream-c16, 5 repeats (~2 min)
 *   npm run bench:billing -- --scenarios nonstream-c16 --repeats 3
 *   npm run bench:billing -- --scenarios nonstream-c1 --repeats 2 --alloc   + what a request allocates, on and off
 *
 * `--alloc`: after the timed runs, one more run per scenario and mode with V8's allocation
 * sampler on in the gateway (bench/alloc-preload.ts; it slows the gateway, so no timings are
 * taken from it): KB allocated per request and the code that allocated it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatSummary, summarise, type HeapProfile } from './allocations.ts';
import type { LoadgenConfig, LoadgenResult } from './loadgen.ts';
import { benchGatewayEnv, cpuMs, cpuTicks, gatewayArgs, isNoisy, measureMachineLoad, rssMb, startNode, type MachineLoad, type StartedNode } from './proc.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const ADMIN_KEY = 'sk-bench-billing-admin-0123456789';
const MODEL = 'bench-model';
/** Yuan per 1K tokens: a real price, so every request writes a ledger entry as well. */
const PRICE = { input: '0.0005', output: '0.001' };
const GATEWAY_CPU = '0';
const CLIENT_CPU = '1';
const MODES = ['off', 'on'] as const;
type Mode = (typeof MODES)[number];

const { values: flags } = parseArgs({
  options: {
    scenarios: { type: 'string', default: 'nonstream-c16,stream-c16' },
    duration: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '5' },
    retries: { type: 'string', default: '2' },
    rev: { type: 'string' },
    'no-pin': { type: 'boolean' },
    alloc: { type: 'boolean' },
  },
});
const scenarios = flags.scenarios.split(',').map((name) => {
  const m = /^(nonstream|stream)-c(\d+)$/.exec(name.trim());
  if (m === null) throw new Error(`--scenarios: '${name}' is not nonstream-cN or stream-cN`);
  return { name: name.trim(), stream: m[1] === 'stream', concurrency: Number(m[2]) };
});
const durationMs = 1000 * Number(flags.duration);
const warmupMs = 1000 * Number(flags.warmup);
const repeats = Number(flags.repeats);
const retries = Number(flags.retries);
const pin = flags['no-pin'] !== true && availableParallelism() >= 2;

const live = new Set<ChildProcess>();
const killAll = (): void => live.forEach((child) => child.kill('SIGKILL'));
process.once('exit', killAll);
process.once('SIGINT', () => process.exit(130));

function pinned(cpu: string, args: readonly string[]): [string, string[]] {
  return pin ? ['taskset', ['-c', cpu, process.execPath, ...args]] : [process.execPath, [...args]];
}

/** Starts a node process (killed when the benchmark ends) and resolves once it printed `pattern`. */
function start(cpu: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, pattern: RegExp): Promise<StartedNode> {
  const { child, started } = startNode({ cpu: pin ? cpu : undefined, args, env, cwd, pattern });
  live.add(child);
  return started;
}

/** `--rev`: that commit's src/ in a temp dir next to a link to our node_modules (as bench/load.ts does). */
function codeRootFor(dir: string): string {
  if (flags.rev === undefined) return ROOT;
  const root = join(dir, 'code');
  mkdirSync(root);
  execFileSync('tar', ['-x', '-C', root], { input: execFileSync('git', ['archive', '--format=tar', flags.rev, 'src', 'bin', 'package.json'], { cwd: ROOT, maxBuffer: 1 << 28 }) });
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  return root;
}

interface Gateway {
  readonly mode: Mode;
  readonly url: string;
  readonly pid: number;
  readonly apiKey: string;
  readonly output: () => string;
  /** Where the allocation preload writes its profile (`--alloc`). */
  readonly allocOut: string;
}

async function startGateway(mode: Mode, simUrl: string, dir: string, code: string): Promise<Gateway> {
  const env = benchGatewayEnv({
    dir,
    name: `gateway-${mode}`,
    simUrl,
    billing: mode,
    price: PRICE,
    extra: { MAAS_ADMIN_KEY: ADMIN_KEY, MAAS_BENCH_ALLOC_OUT: join(dir, `alloc-${mode}.json`) },
  });
  const preload = flags.alloc === true ? ['--import', join(ROOT, 'bench', 'alloc-preload.ts')] : [];
  const gw = await start(GATEWAY_CPU, [...preload, ...gatewayArgs(code)], env, code, /maas gateway listening on (\S+)/);
  const apiKey = /api key: (\S+)/.exec(gw.output())![1]!;
  // Far more credit than any run can spend: the balance must never be what stops a request.
  if (mode === 'on') await admin(gw.url, 'POST', `/admin/v1/accounts/${await defaultAccount(gw.url)}/credits`, { amount: '100000', reason: 'bench' });
  return { mode, url: gw.url, pid: gw.child.pid!, apiKey, output: gw.output, allocOut: env.MAAS_BENCH_ALLOC_OUT! };
}

async function admin(url: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

async function defaultAccount(url: string): Promise<string> {
  return ((await admin(url, 'GET', '/admin/v1/accounts')).data as Array<{ id: string }>)[0]!.id;
}

function requestBody(stream: boolean): string {
  return JSON.stringify({
    model: MODEL,
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Write one short sentence about load testing.' },
    ],
    max_tokens: 32,
    temperature: 0,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

interface Run {
  readonly scenario: string;
  readonly mode: Mode;
  readonly repeat: number;
  readonly result: LoadgenResult;
  readonly gatewayCpuMs: number;
  readonly machineLoad: MachineLoad;
}

async function loadgen(config: LoadgenConfig): Promise<LoadgenResult> {
  const [cmd, args] = pinned(CLIENT_CPU, [join(ROOT, 'bench', 'loadgen.ts'), JSON.stringify(config)]);
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  live.add(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  live.delete(child);
  if (code !== 0) throw new Error(`load generator exited ${code}`);
  return JSON.parse(out) as LoadgenResult;
}

type Scenario = (typeof scenarios)[number];

function loadgenConfig(scenario: Scenario, gw: Gateway, label: string, warmup = warmupMs): LoadgenConfig {
  return {
    url: gw.url,
    path: '/v1/chat/completions',
    body: requestBody(scenario.stream),
    headers: { authorization: `Bearer ${gw.apiKey}` },
    concurrency: scenario.concurrency,
    warmupMs: warmup,
    durationMs,
    stream: scenario.stream,
    label,
  };
}

async function runOnce(scenario: Scenario, gw: Gateway, others: readonly number[], repeat: number): Promise<Run> {
  const config = loadgenConfig(scenario, gw, `${scenario.name}/billing-${gw.mode}/${repeat}`);
  const cpu0 = cpuMs(gw.pid);
  const others0 = others.reduce((sum, pid) => sum + cpuMs(pid), 0);
  const ticks0 = cpuTicks();
  const t0 = performance.now();
  const result = await loadgen(config);
  const wallMs = performance.now() - t0;
  const gatewayCpuMs = cpuMs(gw.pid) - cpu0;
  const othersMs = others.reduce((sum, pid) => sum + cpuMs(pid), 0) - others0;
  const machineLoad = measureMachineLoad(ticks0, cpuTicks(), wallMs, gatewayCpuMs + othersMs + result.loadgenCpuMs);
  process.stderr.write(
    `  ${config.label!.padEnd(28)} ${result.rps.toFixed(0).padStart(6)} req/s  p50 ${ms(result.latency.p50)}  p99 ${ms(result.latency.p99)} ms` +
      `  gw CPU ${((1000 * gatewayCpuMs) / Math.max(1, result.total)).toFixed(0)} µs/req${result.errors > 0 ? `  ERRORS ${result.errors}: ${result.errorSamples[0]}` : ''}` +
      `${result.sample.ok ? '' : `  BAD SAMPLE: ${result.sample.detail}`}${isNoisy(machineLoad) ? `  !! noisy (${machineLoad.foreignPercent.toFixed(0)}% foreign)` : ''}\n`,
  );
  return { scenario: scenario.name, mode: gw.mode, repeat, result, gatewayCpuMs, machineLoad };
}

/** Resolves once the gateway printed `line` (`count` times in all). */
async function printed(gw: Gateway, line: string, count: number): Promise<void> {
  for (let waited = 0; gw.output().split(line).length - 1 < count; waited += 50) {
    if (waited > 30_000) throw new Error(`the gateway never printed '${line}' (is it running under bench/alloc-preload.ts?)`);
    await sleep(50);
  }
}

/** `--alloc`: one run with the gateway's allocation sampler on; what a request allocated. */
async function sampleAllocations(scenario: Scenario, gw: Gateway, round: number): Promise<{ readonly text: string; readonly answered: number }> {
  process.kill(gw.pid, 'SIGUSR2');
  await printed(gw, 'bench: allocation sampling on', round);
  const result = await loadgen(loadgenConfig(scenario, gw, `${scenario.name}/billing-${gw.mode}/alloc`, 0));
  process.kill(gw.pid, 'SIGUSR2');
  await printed(gw, 'bench: allocation profile written', round);
  const profile = JSON.parse(readFileSync(gw.allocOut, 'utf8')) as HeapProfile;
  const summary = formatSummary(summarise(profile, Math.max(1, result.total), 20), 'request');
  return { text: `${scenario.name}, billing ${gw.mode} (${result.total} requests, ${result.rps.toFixed(0)} req/s under the sampler): ${summary}`, answered: result.total };
}

/** Latencies; a run with no successful request has none (NaN, or null once through JSON). */
const ms = (v: number | null): string => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(3));

function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

function summarize(runs: readonly Run[]) {
  return {
    rps: median(runs.map((r) => r.result.rps)),
    p50: median(runs.map((r) => r.result.latency.p50)),
    p99: median(runs.map((r) => r.result.latency.p99)),
    cpuUsPerReq: median(runs.map((r) => (1000 * r.gatewayCpuMs) / Math.max(1, r.result.total))),
    errors: runs.reduce((n, r) => n + r.result.errors + (r.result.sample.ok ? 0 : 1), 0),
    noisy: runs.filter((r) => isNoisy(r.machineLoad)).length,
  };
}

function cpuModel(): string {
  return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
}

async function main(): Promise<number> {
  const started = new Date();
  const dir = mkdtempSync(join(tmpdir(), 'maas-bench-billing-'));
  try {
    const code = codeRootFor(dir);
    const sim = await start(CLIENT_CPU, [join(code, 'src', 'cli', 'main.ts'), 'sim', '--port', '0', '--ttft-ms', '0', '--tps', '0', '--output-tokens', '32'], process.env, code, /maas sim listening on (\S+)/);
    const gateways = { off: await startGateway('off', sim.url, dir, code), on: await startGateway('on', sim.url, dir, code) };
    process.stderr.write(
      `bench: billing off vs on; ${scenarios.map((s) => s.name).join(', ')}; ${repeats} repeats, ABBA; ${warmupMs / 1000}s warm-up + ${durationMs / 1000}s measured` +
        `${pin ? `; gateways on CPU ${GATEWAY_CPU}, sim + load generator on CPU ${CLIENT_CPU}` : '; unpinned'}\n`,
    );
    const runs: Run[] = [];
    const discarded: Run[] = [];
    for (const scenario of scenarios) {
      for (let repeat = 0; repeat < repeats; repeat++) {
        for (const mode of repeat % 2 === 0 ? MODES : [...MODES].reverse()) {
          const gw = gateways[mode];
          const others = [sim.child.pid!, gateways[mode === 'on' ? 'off' : 'on'].pid];
          let run = await runOnce(scenario, gw, others, repeat);
          for (let retry = 1; retry <= retries && isNoisy(run.machineLoad); retry++) {
            discarded.push(run);
            process.stderr.write(`    !! discarding that run (other processes used the cores); retry ${retry} of ${retries} in 3 s\n`);
            await sleep(3000);
            run = await runOnce(scenario, gw, others, repeat);
          }
          runs.push(run);
        }
      }
    }

    const allocations: string[] = [];
    let sampledOn = 0;
    if (flags.alloc === true) {
      for (const [round, scenario] of scenarios.entries()) {
        for (const mode of MODES) {
          const sampled = await sampleAllocations(scenario, gateways[mode], round + 1);
          allocations.push(sampled.text);
          if (mode === 'on') sampledOn += sampled.answered;
        }
      }
    }

    // Billing really happened: one usage record per answered request, and the ledger adds up.
    const sentOn = [...runs, ...discarded].filter((r) => r.mode === 'on').reduce((n, r) => n + r.result.total, sampledOn);
    const usage = (await admin(gateways.on.url, 'GET', '/admin/v1/usage')).totals as { requests: number; cost: string };
    const verify = await admin(gateways.on.url, 'GET', '/admin/v1/ledger/verify');
    const rss = { off: rssMb(gateways.off.pid, 'VmHWM'), on: rssMb(gateways.on.pid, 'VmHWM') };

    const rows = scenarios.map((s) => {
      const off = summarize(runs.filter((r) => r.scenario === s.name && r.mode === 'off'));
      const on = summarize(runs.filter((r) => r.scenario === s.name && r.mode === 'on'));
      return { scenario: s.name, off, on, ratio: on.rps / off.rps };
    });
    const commit = execFileSync('git', ['rev-parse', '--short', flags.rev ?? 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = flags.rev === undefined && execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    const lines = [
      `## Billing on vs off — ${started.toISOString()}`,
      '',
      `${availableParallelism()} CPUs (${cpuModel()}), node ${process.version}, commit ${commit}${dirty ? '+dirty' : ''}; ${repeats} repeats (ABBA), ${warmupMs / 1000}s warm-up + ${durationMs / 1000}s measured per run; ` +
        `SQLite store (WAL, synchronous=NORMAL); price ${PRICE.input}/${PRICE.output} yuan per 1K tokens; max_tokens 32, sim --output-tokens 32`,
      '',
      '| scenario | off req/s | on req/s | on ÷ off | off p50 ms | on p50 ms | off p99 ms | on p99 ms | off gw CPU µs/req | on gw CPU µs/req | errors | noisy runs |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map(
        (r) =>
          `| ${r.scenario} | ${r.off.rps.toFixed(0)} | ${r.on.rps.toFixed(0)} | ${r.ratio.toFixed(2)} | ${ms(r.off.p50)} | ${ms(r.on.p50)} | ${ms(r.off.p99)} | ${ms(r.on.p99)} | ` +
          `${r.off.cpuUsPerReq.toFixed(0)} | ${r.on.cpuUsPerReq.toFixed(0)} | ${r.off.errors + r.on.errors} | ${r.off.noisy + r.on.noisy} |`,
      ),
      '',
      `Billing-on gateway: ${usage.requests} usage records for ${sentOn} answered requests, ${usage.cost} yuan charged; ledger verify ${verify.ok === true ? 'ok' : 'FAILED'}. ` +
        `Peak RSS (VmHWM): off ${rss.off.toFixed(0)} MB, on ${rss.on.toFixed(0)} MB.`,
      ...allocations.flatMap((text) => ['', text]),
    ];
    const out = join(RESULTS_DIR, `billing-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(out, `${JSON.stringify({ date: started.toISOString(), commit, dirty, flags, rows, usage, verify, rss, allocations, runs, discarded }, null, 2)}\n`);
    process.stdout.write(`\n${lines.join('\n')}\n\nResults: ${relative(ROOT, out)}\n`);
    const failed = rows.some((r) => r.off.errors + r.on.errors > 0) || usage.requests !== sentOn || verify.ok !== true;
    if (failed) process.stdout.write('\n!!! errors, missing usage records or a ledger mismatch: the numbers above are NOT trustworthy !!!\n');
    return failed ? 1 : 0;
  } finally {
    for (const child of live) child.kill('SIGTERM');
    await sleep(500);
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
