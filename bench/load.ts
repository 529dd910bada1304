/**
 * Load benchmark: the same requests sent straight to `maas sim` and through the gateway, in one
 * run, alternating targets, repeated; reports the gateway's added latency, throughput ratio,
 * streaming time-to-first-byte and RSS. See bench/README.md.
 *
 *   npm run bench                      full run (~4-5 minutes)
 *   npm run bench -- --quick           smoke run (~30 s)
 *   npm run bench -- --scenarios c16 --cpu-prof
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadgenConfig, LoadgenResult } from './loadgen.ts';
import { cpuMs, cpuTicks, FOREIGN_WARN_PERCENT, gatewayArgs, isNoisy, measureMachineLoad, rssMb, type MachineLoad } from './proc.ts';
import { renderProfile, summarizeProfile, type ProfileSummary } from './profile-top.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const PROF_DIR = join(RESULTS_DIR, 'prof');
const LOADGEN = join(ROOT, 'bench', 'loadgen.ts');
/** Older gateways take keys from MAAS_API_KEYS; newer ones create one in a fresh store and print it. */
const API_KEY = 'sk-bench-0123456789abcdef';
let gatewayKey = API_KEY;
const MODEL = 'bench-model';
const MAX_TOKENS = 32;
/** Cores: the gateway gets one to itself; simulator and load generator share the other. */
const GATEWAY_CPU = '0';
const CLIENT_CPU = '1';
const RSS_SAMPLE_MS = 100;

// ---------------------------------------------------------------------------------------------
// Flags

const USAGE = `Usage: node bench/load.ts [options]

  --quick                 smoke run: 0.3 s warm-up, 1 s measured, 1 repeat
  --scenarios <list>      comma list of scenario names or parts of them (default all):
                          nonstream-c1,nonstream-c16,nonstream-c128,stream-c1,stream-c16,stream-c128,ttfb-c16
                          e.g. "c16" (both modes at 16), "stream" (all streaming), "nonstream-c1"
  --duration <s>          measured seconds per run (default 4)
  --warmup <s>            discarded warm-up seconds per run (default 1)
  --jit-warmup <s>        traffic through the gateway (and the reference relay) right after it
                          starts, before any measured run, so V8 has optimised its hot code as
                          in a long-running process (default 30; 0 with --quick)
  --repeats <n>           runs per target per scenario, alternating targets (default 3)
  --output-tokens <n>     simulator answer length (default 32)
  --gateway-cmd <cmd>     start the gateway with this shell command instead of
                          "node bin/maas.js start" (MAAS_* env is set; it must print the listening line)
  --cpu-prof              profile the gateway (node --cpu-prof): one gateway process per scenario,
                          profiles in bench/results/prof/, top 25 self-time functions printed
  --retries <n>           run again a run during which other processes used > 15% of a core
                          (default 2; the discarded runs stay in the JSON)
  --rev <commit>          run the simulator and gateway of this commit (git archive of src/ into
                          a temp dir, sharing node_modules) instead of the working tree: for A/B
                          comparisons, or while src/ is being edited
  --no-pin                do not pin processes to cores (taskset)
  -h, --help
`;

interface Options {
  readonly scenarios: readonly Scenario[];
  readonly warmupMs: number;
  /** Traffic through a freshly started relay before its first measured run (JIT warm-up). */
  readonly jitWarmupMs: number;
  readonly durationMs: number;
  readonly repeats: number;
  readonly outputTokens: number;
  readonly gatewayCmd: string | undefined;
  readonly cpuProf: boolean;
  readonly pin: boolean;
  readonly quick: boolean;
  /** Times a run disturbed by other processes is run again. */
  readonly retries: number;
  /** Benchmark this commit's src/ (exported with git archive) instead of the working tree. */
  readonly rev: string | undefined;
}

interface Scenario {
  readonly name: string;
  readonly stream: boolean;
  readonly concurrency: number;
  /**
   * The upstream streams at an engine's pace (first token after 50 ms, then 200 tokens/s), so
   * time to first byte measures what the gateway adds to a first token, not how long it takes
   * to push a whole burst-written stream.
   */
  readonly paced?: boolean;
}

const ALL_SCENARIOS: readonly Scenario[] = [
  ...[false, true].flatMap((stream) =>
    [1, 16, 128].map((concurrency) => ({ name: `${stream ? 'stream' : 'nonstream'}-c${concurrency}`, stream, concurrency })),
  ),
  { name: 'ttfb-c16', stream: true, concurrency: 16, paced: true },
];

const PACING = { ttft_ms: 50, tokens_per_second: 200 };

function positive(text: string, flag: string, integer: boolean): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`--${flag} must be a positive ${integer ? 'integer' : 'number'}, got '${text}'`);
  }
  return n;
}

function nonNegative(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 0) throw new Error(`--${flag} must be a non-negative integer, got '${text}'`);
  return n;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      scenarios: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'jit-warmup': { type: 'string' },
      repeats: { type: 'string' },
      'output-tokens': { type: 'string' },
      'gateway-cmd': { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'no-pin': { type: 'boolean' },
      retries: { type: 'string' },
      rev: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return undefined;
  }
  const quick = values.quick === true;
  let scenarios = ALL_SCENARIOS;
  if (values.scenarios !== undefined) {
    const wanted = values.scenarios.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    for (const w of wanted) {
      if (!ALL_SCENARIOS.some((s) => s.name === w || s.name.split('-').includes(w))) throw new Error(`--scenarios: no scenario matches '${w}'`);
    }
    scenarios = ALL_SCENARIOS.filter((s) => wanted.some((w) => s.name === w || s.name.split('-').includes(w)));
  }
  return {
    scenarios,
    warmupMs: 1000 * (values.warmup !== undefined ? positive(values.warmup, 'warmup', false) : quick ? 0.3 : 1),
    jitWarmupMs: 1000 * (values['jit-warmup'] !== undefined ? nonNegative(values['jit-warmup'], 'jit-warmup') : quick ? 0 : 30),
    durationMs: 1000 * (values.duration !== undefined ? positive(values.duration, 'duration', false) : quick ? 1 : 4),
    repeats: values.repeats !== undefined ? positive(values.repeats, 'repeats', true) : quick ? 1 : 3,
    outputTokens: values['output-tokens'] !== undefined ? positive(values['output-tokens'], 'output-tokens', true) : 32,
    gatewayCmd: values['gateway-cmd'],
    cpuProf: values['cpu-prof'] === true,
    pin: values['no-pin'] !== true,
    quick,
    retries: values.retries !== undefined ? nonNegative(values.retries, 'retries') : 2,
    rev: values.rev,
  };
}

// ---------------------------------------------------------------------------------------------
// Child processes

interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  readonly url: string;
  /** From spawn to the listening line. */
  readonly startupMs: number;
  readonly exited: Promise<number | null>;
}

const live = new Set<ChildProcess>();

function pinned(pin: boolean, cpu: string, command: string, args: readonly string[]): [string, string[]] {
  return pin ? ['taskset', ['-c', cpu, command, ...args]] : [command, [...args]];
}

/** Prints a child's output lines with a prefix (warnings and errors must not go unseen). */
function forward(name: string, stream: NodeJS.ReadableStream, onLine?: (line: string) => void): void {
  let buffered = '';
  let shown = 0;
  let hidden = 0;
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    buffered += text;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (onLine !== undefined) onLine(line);
      if (line.trim() === '' || /listening on http/.test(line)) continue;
      if (/\b(api|admin) key: /.test(line)) continue; // secrets: not echoed
      if (shown < 40) {
        shown++;
        process.stderr.write(`[${name}] ${line}\n`);
      } else if (hidden++ === 0) {
        process.stderr.write(`[${name}] … further output hidden\n`);
      }
    }
  });
}

async function startService(
  name: string,
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  pattern: RegExp,
  onLine?: (line: string) => void,
  timeoutMs = 30_000,
): Promise<Service> {
  const spawnedAt = performance.now();
  const child = spawn(command, args, { cwd: codeRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = new Promise<number | null>((done) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      done(code ?? (signal !== null ? -1 : null));
    });
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not print its listening line within ${timeoutMs} ms`)), timeoutMs);
    forward(name, child.stdout!, (line) => {
      onLine?.(line);
      const m = pattern.exec(line);
      if (m !== null) {
        clearTimeout(timer);
        resolveUrl(m[1]!);
      }
    });
    forward(name, child.stderr!);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${name} could not be started (${command}): ${err.message}`));
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before it was listening`));
    });
  });
  return { name, child, url, exited, startupMs: performance.now() - spawnedAt };
}

async function stopService(service: Service, graceMs = 15_000): Promise<number | null> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return service.exited;
  service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), graceMs);
  const code = await service.exited;
  clearTimeout(timer);
  return code;
}

function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
}

/** Where the simulator's and gateway's code is: the working tree, or an exported commit. */
let codeRoot = ROOT;

/** Exports `rev`'s src/ and package.json into `dir`, beside a link to our node_modules. */
function exportRevision(rev: string, dir: string): string {
  const root = join(dir, 'code');
  mkdirSync(root);
  const archive = execFileSync('git', ['archive', '--format=tar', rev, 'src', 'bin', 'package.json'], { cwd: ROOT, maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', root], { input: archive });
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  return root;
}

/** The runs of one repeat of a scenario, in order. */
function targetsOf(opts: Options, scenario: Scenario, repeat: number): Target[] {
  // ABBA: direct first on even repeats, gateway first on odd ones, so slow drift
  // (JIT, heap growth, thermal) does not favour either target.
  const order: Target[] = repeat % 2 === 0 ? ['direct', 'gateway'] : ['gateway', 'direct'];
  const c1 = scenario.concurrency === 1 && !scenario.stream;
  // Calibration at c=1 non-streaming: the same direct requests sent from the gateway's core,
  // i.e. the cost of the cross-core wake-ups that the gateway path pays four times.
  if (c1 && opts.pin) order.push('direct-xcore');
  // The reference relay where a latency target is judged: c=1 non-streaming, and the paced stream's TTFB.
  if ((c1 || scenario.paced === true) && !opts.cpuProf) order.push('bare');
  return order;
}

/** The reference relay, pinned like the gateway; always the working tree's (it is not the code under test). */
function startBareRelay(opts: Options, simUrl: string): Promise<Service> {
  const [cmd, args] = pinned(opts.pin, GATEWAY_CPU, process.execPath, [join(ROOT, 'bench', 'bare-relay.ts'), `${simUrl}/v1`]);
  return startService('bare relay', cmd, args, process.env, /bare relay listening on (http:\/\/\S+)/);
}

function startSim(opts: Options): Promise<Service> {
  const [cmd, args] = pinned(opts.pin, CLIENT_CPU, process.execPath, [
    join(codeRoot, 'src', 'cli', 'main.ts'),
    'sim',
    '--port', '0',
    '--ttft-ms', '0',
    '--tps', '0',
    '--output-tokens', String(opts.outputTokens),
  ]);
  return startService('sim', cmd, args, process.env, /maas sim listening on (http:\/\/\S+)/);
}

function hasPlans(): boolean {
  try {
    return readFileSync(join(codeRoot, 'src', 'config', 'schema.ts'), 'utf8').includes('plans:');
  } catch {
    return false;
  }
}

interface GatewayRun {
  readonly service: Service;
  readonly profileName: string | undefined;
}

async function startGateway(opts: Options, simUrl: string, workDir: string, label: string): Promise<GatewayRun> {
  const configPath = join(workDir, 'gateway.yaml');
  const lines = [
    'providers:',
    `  sim: { type: vllm, base_url: "${simUrl}/v1" }`,
    'models:',
    `  ${MODEL}:`,
    '    deployments:',
    `      - { provider: sim, upstream_model: ${MODEL}, chip: nvidia }`,
  ];
  // Gateways with plans: the bootstrap account's plan without limits, so admission runs (its
  // cost is measured) but never throttles the benchmark. Older schemas reject the key.
  if (hasPlans()) lines.push('plans:', '  enterprise: { rpm: 0, tpm: 0, concurrency: 0 }');
  writeFileSync(configPath, `${lines.join('\n')}\n`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MAAS_PORT: '0',
    MAAS_HOST: '127.0.0.1',
    MAAS_CONFIG: configPath,
    MAAS_API_KEYS: API_KEY,
    MAAS_DATA_DIR: join(workDir, 'data'),
    MAAS_LOG_LEVEL: 'warn',
  };
  const profileName = opts.cpuProf ? `gateway-${label}.cpuprofile` : undefined;
  const profFlags = profileName !== undefined ? ['--cpu-prof', '--cpu-prof-dir', PROF_DIR, '--cpu-prof-name', profileName] : [];
  let cmd: string;
  let args: string[];
  if (opts.gatewayCmd !== undefined) {
    if (profFlags.length > 0) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir ${PROF_DIR}`.trim();
    [cmd, args] = pinned(opts.pin, GATEWAY_CPU, '/bin/sh', ['-c', `exec ${opts.gatewayCmd}`]);
  } else {
    [cmd, args] = pinned(opts.pin, GATEWAY_CPU, process.execPath, [...profFlags, ...gatewayArgs(codeRoot)]);
  }
  const service = await startService('gateway', cmd, args, env, /maas gateway listening on (http:\/\/\S+)/, (line) => {
    const key = /^\s*api key: (\S+)/.exec(line);
    if (key !== null) gatewayKey = key[1]!;
  });
  return { service, profileName: opts.gatewayCmd !== undefined ? undefined : profileName };
}

// ---------------------------------------------------------------------------------------------
// One run of the load generator

/**
 * direct-xcore: calibration, straight to the simulator but from the gateway's core.
 * bare: the reference relay (bench/bare-relay.ts) on the gateway's core: what any relay adds here.
 */
type Target = 'direct' | 'gateway' | 'direct-xcore' | 'bare';

interface RunRecord {
  readonly scenario: string;
  readonly target: Target;
  readonly repeat: number;
  readonly result: LoadgenResult;
  readonly gatewayRssMaxMb: number;
  readonly gatewayCpuMs: number;
  readonly simCpuMs: number;
  readonly wallMs: number;
  readonly machineLoad: MachineLoad;
}

async function runLoadgen(opts: Options, config: LoadgenConfig, cpu = CLIENT_CPU): Promise<LoadgenResult> {
  const [cmd, args] = pinned(opts.pin, cpu, process.execPath, [LOADGEN, JSON.stringify(config)]);
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
  const limit = config.warmupMs + config.durationMs + 60_000;
  const timer = setTimeout(() => child.kill('SIGKILL'), limit);
  const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
  clearTimeout(timer);
  live.delete(child);
  if (code !== 0) throw new Error(`load generator failed (exit ${code}): ${err.trim() || out.trim()}`);
  return JSON.parse(out) as LoadgenResult;
}

/**
 * A freshly started relay compiles its hot code for the first ~20–30 s of traffic (V8's
 * optimising compilers run on helper threads, which share the relay's pinned core), so a run
 * measured right after start measures the compiler too. Before its first measured run each relay
 * gets `--jit-warmup` seconds of the benchmark's requests, streaming and not, four at a time.
 */
async function warmJit(opts: Options, url: string): Promise<void> {
  if (opts.jitWarmupMs === 0) return;
  process.stderr.write(`bench: ${opts.jitWarmupMs / 1000} s of warm-up traffic to ${url}\n`);
  for (const stream of [false, true]) {
    const result = await runLoadgen(opts, {
      url,
      path: '/v1/chat/completions',
      body: requestBody(stream, false),
      headers: { authorization: `Bearer ${gatewayKey}` },
      concurrency: 4,
      warmupMs: 0,
      durationMs: opts.jitWarmupMs / 2,
      stream,
      label: 'jit-warmup',
    });
    if (result.errors > 0) throw new Error(`warm-up traffic failed: ${result.errorSamples[0]}`);
  }
}

async function runOnce(opts: Options, scenario: Scenario, target: Target, repeat: number, url: string, gwPid: number, simPid: number): Promise<RunRecord> {
  const config: LoadgenConfig = {
    url,
    path: '/v1/chat/completions',
    body: requestBody(scenario.stream, scenario.paced === true),
    headers: { authorization: `Bearer ${gatewayKey}` },
    concurrency: scenario.concurrency,
    warmupMs: opts.warmupMs,
    durationMs: opts.durationMs,
    stream: scenario.stream,
    label: `${scenario.name}/${target}/${repeat}`,
  };
  let rssMax = 0;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, rssMb(gwPid));
  }, RSS_SAMPLE_MS);
  const t0 = performance.now();
  const gwCpu0 = cpuMs(gwPid);
  const simCpu0 = cpuMs(simPid);
  const ticks0 = cpuTicks();
  let result: LoadgenResult;
  try {
    result = await runLoadgen(opts, config, target === 'direct-xcore' ? GATEWAY_CPU : CLIENT_CPU);
  } finally {
    clearInterval(sampler);
  }
  const ticks1 = cpuTicks();
  const wallMs = performance.now() - t0;
  rssMax = Math.max(rssMax, rssMb(gwPid));
  const gatewayCpuMs = cpuMs(gwPid) - gwCpu0;
  const simCpuMs = cpuMs(simPid) - simCpu0;
  const machineLoad = measureMachineLoad(ticks0, ticks1, wallMs, gatewayCpuMs + simCpuMs + result.loadgenCpuMs);
  const r = result;
  process.stderr.write(
    `  ${config.label!.padEnd(29)} ${int(r.rps).padStart(6)} req/s  p50 ${ms(r.latency.p50)}  p99 ${ms(r.latency.p99)}` +
      `${r.ttfb !== undefined ? `  ttfb p50 ${ms(r.ttfb.p50)}` : ''}  n=${r.latency.n}  gwRSS ${rssMax.toFixed(1)} MB` +
      `${r.errors > 0 ? `  ERRORS ${r.errors}` : ''}${r.sample.ok ? '' : '  BAD SAMPLE'}\n`,
  );
  if (r.errors > 0) for (const e of r.errorSamples) process.stderr.write(`    !! ${target} error: ${e}\n`);
  if (!r.sample.ok) process.stderr.write(`    !! ${target} sample check failed: ${r.sample.detail}\n`);
  else if (r.sample.completionTokens !== opts.outputTokens) {
    process.stderr.write(`    !! ${target} sample has ${r.sample.completionTokens} completion tokens, expected ${opts.outputTokens}\n`);
  }
  if (isNoisy(machineLoad)) {
    process.stderr.write(
      `    !! noisy machine: ${machineLoad.foreignPercent.toFixed(0)}% of a core used by other processes, ${machineLoad.stealPercent.toFixed(0)}% stolen by the hypervisor\n`,
    );
  }
  return { scenario: scenario.name, target, repeat, result, gatewayRssMaxMb: rssMax, gatewayCpuMs, simCpuMs, wallMs, machineLoad };
}

function requestBody(stream: boolean, paced: boolean): string {
  const body: Record<string, unknown> = {
    model: MODEL,
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Write one short sentence about load testing.' },
    ],
    max_tokens: MAX_TOKENS,
    temperature: 0,
  };
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  // The simulator's per-request pacing field; the gateway forwards it like any extra field.
  if (paced) body.sim = PACING;
  return JSON.stringify(body);
}

// ---------------------------------------------------------------------------------------------
// Summaries

interface Side {
  readonly p50: number;
  readonly p99: number;
  readonly rps: number;
  readonly ttfbP50: number | undefined;
  readonly ttfbP99: number | undefined;
  readonly errors: number;
  readonly runs: number;
  /** Share of the requests (%) slower than 1 ms and than 2 ms, from the histograms (medians over runs). */
  readonly slowPercent: { readonly over1: number; readonly over2: number };
}

interface ScenarioSummary {
  readonly scenario: string;
  readonly stream: boolean;
  readonly concurrency: number;
  readonly direct: Side;
  readonly gateway: Side;
  /** gateway − direct, of the medians. */
  readonly addedP50: number;
  readonly addedP99: number;
  readonly addedTtfbP50: number | undefined;
  readonly addedTtfbP99: number | undefined;
  /** gateway rps / direct rps, of the medians. */
  readonly throughputRatio: number;
  /** Median over the gateway runs of gateway CPU time per completed request (µs). */
  readonly gatewayCpuUsPerReq: number;
  /** Median over the gateway runs of the gateway's CPU use (% of one core). */
  readonly gatewayCpuPercent: number;
  /** Median over all runs of the simulator's CPU use (% of one core), direct / gateway runs. */
  readonly simCpuPercent: { readonly direct: number; readonly gateway: number };
  readonly gatewayRssMaxMb: number;
  readonly samplesOk: boolean;
  /** c=1 non-streaming only: median p50 of direct requests sent from the gateway's core, minus direct p50. */
  readonly crossCoreP50: number | undefined;
  /** Latency-target scenarios only: what the reference relay adds over direct (medians, ms; TTFB when streaming). */
  readonly bareAdded: { readonly p50: number; readonly p99: number } | undefined;
  /** Non-streaming latency-target scenarios only: the reference relay's share of slow requests. */
  readonly bareSlowPercent: Side['slowPercent'] | undefined;
  /** Largest share of a core used by other processes during any run of the scenario. */
  readonly maxForeignPercent: number;
}

function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

function side(runs: readonly RunRecord[]): Side {
  const r = runs.map((x) => x.result);
  const stream = r[0]?.stream === true;
  return {
    p50: median(r.map((x) => x.latency.p50)),
    p99: median(r.map((x) => x.latency.p99)),
    rps: median(r.map((x) => x.rps)),
    ttfbP50: stream ? median(r.map((x) => x.ttfb?.p50 ?? NaN)) : undefined,
    ttfbP99: stream ? median(r.map((x) => x.ttfb?.p99 ?? NaN)) : undefined,
    errors: r.reduce((n, x) => n + x.errors, 0),
    runs: r.length,
    slowPercent: { over1: median(r.map((x) => slowerThan(x, 1))), over2: median(r.map((x) => slowerThan(x, 2))) },
  };
}

/** % of a run's requests whose latency exceeded `ms` (a power of two: a histogram bound). */
function slowerThan(result: LoadgenResult, ms: number): number {
  const total = result.histogram.reduce((n, b) => n + b.count, 0);
  const slow = result.histogram.reduce((n, b) => (b.le > ms ? n + b.count : n), 0);
  return total === 0 ? NaN : (100 * slow) / total;
}

function referenceAdded(bare: Side, direct: Side, stream: boolean): { p50: number; p99: number } {
  return stream ? { p50: bare.ttfbP50! - direct.ttfbP50!, p99: bare.ttfbP99! - direct.ttfbP99! } : { p50: bare.p50 - direct.p50, p99: bare.p99 - direct.p99 };
}

function summarize(scenario: Scenario, runs: readonly RunRecord[]): ScenarioSummary {
  const d = runs.filter((r) => r.target === 'direct');
  const g = runs.filter((r) => r.target === 'gateway');
  const x = runs.filter((r) => r.target === 'direct-xcore');
  const b = runs.filter((r) => r.target === 'bare');
  const direct = side(d);
  const gateway = side(g);
  const bare = b.length > 0 ? side(b) : undefined;
  // Load is applied for warm-up + measured time; the rest of the wall time is process start-up.
  const pct = (cpu: number, run: RunRecord): number => (100 * cpu) / (run.result.warmupMs + run.result.durationMs);
  return {
    scenario: scenario.name,
    stream: scenario.stream,
    concurrency: scenario.concurrency,
    direct,
    gateway,
    addedP50: gateway.p50 - direct.p50,
    addedP99: gateway.p99 - direct.p99,
    addedTtfbP50: scenario.stream ? gateway.ttfbP50! - direct.ttfbP50! : undefined,
    addedTtfbP99: scenario.stream ? gateway.ttfbP99! - direct.ttfbP99! : undefined,
    throughputRatio: gateway.rps / direct.rps,
    gatewayCpuUsPerReq: median(g.map((r) => (1000 * r.gatewayCpuMs) / Math.max(1, r.result.total))),
    gatewayCpuPercent: median(g.map((r) => pct(r.gatewayCpuMs, r))),
    simCpuPercent: { direct: median(d.map((r) => pct(r.simCpuMs, r))), gateway: median(g.map((r) => pct(r.simCpuMs, r))) },
    gatewayRssMaxMb: Math.max(0, ...runs.filter((r) => r.target !== 'bare').map((r) => r.gatewayRssMaxMb)),
    samplesOk: runs.every((r) => r.result.sample.ok),
    crossCoreP50: x.length > 0 ? median(x.map((r) => r.result.latency.p50)) - direct.p50 : undefined,
    bareAdded: bare && referenceAdded(bare, direct, scenario.stream),
    bareSlowPercent: bare && !scenario.stream ? bare.slowPercent : undefined,
    maxForeignPercent: Math.max(0, ...runs.map((r) => r.machineLoad.foreignPercent)),
  };
}

interface TargetCheck {
  readonly target: string;
  readonly value: string;
  readonly pass: boolean | undefined;
}

function targets(summaries: readonly ScenarioSummary[]): TargetCheck[] {
  const find = (name: string): ScenarioSummary | undefined => summaries.find((s) => s.scenario === name);
  const out: TargetCheck[] = [];
  const check = (target: string, s: ScenarioSummary | undefined, get: (s: ScenarioSummary) => number, unit: string, ok: (v: number) => boolean): void => {
    if (s === undefined) return;
    const v = get(s);
    out.push({ target, value: `${v.toFixed(unit === '×' ? 2 : 3)}${unit === '×' ? '×' : ` ${unit}`}`, pass: Number.isFinite(v) ? ok(v) : false });
  };
  check('c=1 non-streaming: added p50 ≤ 0.25 ms', find('nonstream-c1'), (s) => s.addedP50, 'ms', (v) => v <= 0.25);
  check('c=1 non-streaming: added p99 ≤ 2 ms', find('nonstream-c1'), (s) => s.addedP99, 'ms', (v) => v <= 2);
  check('c=16 non-streaming: throughput ≥ 0.5× direct', find('nonstream-c16'), (s) => s.throughputRatio, '×', (v) => v >= 0.5);
  check('c=16 streaming: throughput ≥ 0.5× direct', find('stream-c16'), (s) => s.throughputRatio, '×', (v) => v >= 0.5);
  check('c=16 streaming (paced upstream): added TTFB p50 ≤ 1 ms', find('ttfb-c16'), (s) => s.addedTtfbP50 ?? NaN, 'ms', (v) => v <= 1);
  check('c=16 streaming (burst upstream): added TTFB p50 ≤ 1 ms', find('stream-c16'), (s) => s.addedTtfbP50 ?? NaN, 'ms', (v) => v <= 1);
  const c128 = summaries.filter((s) => s.concurrency === 128);
  if (c128.length > 0) {
    const v = Math.max(...c128.map((s) => s.gatewayRssMaxMb));
    out.push({ target: 'c=128: gateway RSS ≤ 120 MB', value: `${v.toFixed(1)} MB`, pass: v <= 120 });
  }
  return out;
}

const ms = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(3));
const signed = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : `${v >= 0 ? '+' : ''}${v.toFixed(3)}`);
const int = (v: number): string => (Number.isFinite(v) ? Math.round(v).toString() : '–');

function renderTables(summaries: readonly ScenarioSummary[], checks: readonly TargetCheck[]): string {
  const lines: string[] = [];
  const ns = summaries.filter((s) => !s.stream);
  const st = summaries.filter((s) => s.stream);
  if (ns.length > 0) {
    lines.push('Non-streaming (latency = until the whole body is read; ms; medians over repeats)');
    lines.push('');
    lines.push('| c | direct p50 | gateway p50 | added p50 | direct p99 | gateway p99 | added p99 | direct req/s | gateway req/s | ratio | gw CPU µs/req | gw RSS max MB | errors |');
    lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of ns) {
      lines.push(
        `| ${s.concurrency} | ${ms(s.direct.p50)} | ${ms(s.gateway.p50)} | ${signed(s.addedP50)} | ${ms(s.direct.p99)} | ${ms(s.gateway.p99)} | ${signed(s.addedP99)} | ${int(s.direct.rps)} | ${int(s.gateway.rps)} | ${s.throughputRatio.toFixed(2)} | ${int(s.gatewayCpuUsPerReq)} | ${s.gatewayRssMaxMb.toFixed(1)} | ${s.direct.errors + s.gateway.errors} |`,
      );
    }
    lines.push('');
  }
  if (st.length > 0) {
    lines.push('Streaming (TTFB = time to the first body byte; total = until `data: [DONE]`; ms; medians over repeats)');
    lines.push('');
    lines.push('| c | direct TTFB p50 | gateway TTFB p50 | added TTFB p50 | added TTFB p99 | direct total p50 | gateway total p50 | added total p50 | added total p99 | direct req/s | gateway req/s | ratio | gw CPU µs/req | gw RSS max MB | errors |');
    lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of st) {
      lines.push(
        `| ${s.concurrency} | ${ms(s.direct.ttfbP50)} | ${ms(s.gateway.ttfbP50)} | ${signed(s.addedTtfbP50)} | ${signed(s.addedTtfbP99)} | ${ms(s.direct.p50)} | ${ms(s.gateway.p50)} | ${signed(s.addedP50)} | ${signed(s.addedP99)} | ${int(s.direct.rps)} | ${int(s.gateway.rps)} | ${s.throughputRatio.toFixed(2)} | ${int(s.gatewayCpuUsPerReq)} | ${s.gatewayRssMaxMb.toFixed(1)} | ${s.direct.errors + s.gateway.errors} |`,
      );
    }
    lines.push('');
  }
  for (const s of summaries) {
    if (s.bareAdded === undefined) continue;
    const what = s.stream ? 'TTFB ' : '';
    const gatewayP50 = s.stream ? s.addedTtfbP50! : s.addedP50;
    const gatewayP99 = s.stream ? s.addedTtfbP99! : s.addedP99;
    lines.push(
      `Reference relay (${s.scenario}): a bare node:http + undici relay (bench/bare-relay.ts) on the gateway's core adds ` +
        `${signed(s.bareAdded.p50)} ms ${what}p50 and ${signed(s.bareAdded.p99)} ms ${what}p99 over direct in the same run — what this machine charges any ` +
        `relay right now; the gateway adds ${signed(gatewayP50 - s.bareAdded.p50)} ms ${what}p50 and ${signed(gatewayP99 - s.bareAdded.p99)} ms ${what}p99 more.`,
    );
    lines.push('');
  }
  for (const s of summaries) {
    if (s.bareSlowPercent === undefined) continue;
    const pct = (side: Side['slowPercent']): string => `${side.over1.toFixed(2)} % / ${side.over2.toFixed(2)} %`;
    lines.push(
      `Tail (${s.scenario}): requests slower than 1 ms / 2 ms — direct ${pct(s.direct.slowPercent)}, reference relay ${pct(s.bareSlowPercent)}, ` +
        `gateway ${pct(s.gateway.slowPercent)}. A p99 above 2 ms means more than 1 % of the requests took that long.`,
    );
    lines.push('');
  }
  for (const s of summaries) {
    if (s.crossCoreP50 === undefined) continue;
    lines.push(
      `Cross-core calibration (${s.scenario}): the same direct requests sent from the gateway's core (2 cross-core wake-ups per request instead of 0) ` +
        `are ${signed(s.crossCoreP50)} ms slower at p50. A request through the gateway makes 4 such wake-ups, so about ` +
        `${(2 * s.crossCoreP50).toFixed(3)} ms of its added p50 is the 2-core topology, not gateway code.`,
    );
    lines.push('');
  }
  const noisy = summaries.filter((s) => s.maxForeignPercent > FOREIGN_WARN_PERCENT);
  if (noisy.length > 0) {
    lines.push(`!! Other processes used more than ${FOREIGN_WARN_PERCENT}% of a core during: ${noisy.map((s) => `${s.scenario} (${s.maxForeignPercent.toFixed(0)}%)`).join(', ')}; treat those rows with care.`);
    lines.push('');
  }
  if (checks.length > 0) {
    lines.push('| target | measured | result |');
    lines.push('|---|---:|:---:|');
    for (const c of checks) lines.push(`| ${c.target} | ${c.value} | ${c.pass === true ? 'PASS' : 'FAIL'} |`);
    lines.push('');
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

let revision: string | undefined;
/** Removed at the end, also on Ctrl-C. */
let tempDir: string | undefined;

function machine(): Record<string, unknown> {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^Model name:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8').replace(/^model name/gm, 'Model name'));
    if (m !== null) cpuModel = m[1]!.trim();
  } catch {
    // not Linux
  }
  return { cpus: availableParallelism(), cpuModel, kernel: release(), node: process.version, git: gitRevision(revision) };
}

/** The commit measured, with '+dirty' when src/ has uncommitted changes. */
function gitRevision(rev?: string): string {
  try {
    if (rev !== undefined) return execFileSync('git', ['rev-parse', '--short', rev], { cwd: ROOT, encoding: 'utf8' }).trim();
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts === undefined) return 0;
  const started = new Date();
  if (Number(process.versions.node.split('.')[0]) < 24) {
    process.stderr.write(`bench: node ${process.version} is too old; run with the pinned node (npm run bench)\n`);
    return 2;
  }
  if (opts.pin && availableParallelism() < 2) {
    process.stderr.write('bench: fewer than 2 CPUs; pinning disabled\n');
    (opts as { pin: boolean }).pin = false;
  }
  const runsTotal = opts.scenarios.reduce((n, s) => n + opts.repeats * targetsOf(opts, s, 0).length, 0);
  const relaysStarted = (opts.cpuProf ? opts.scenarios.length : 1) + (opts.scenarios.some((s) => targetsOf(opts, s, 0).includes('bare')) ? 1 : 0);
  const estimate = (runsTotal * (opts.warmupMs + opts.durationMs + 400) + relaysStarted * opts.jitWarmupMs) / 1000;
  process.stderr.write(
    `bench: ${opts.scenarios.map((s) => s.name).join(', ')}; ${opts.repeats} repeat(s); ${runsTotal} runs; ` +
      `${opts.warmupMs / 1000}s warm-up + ${opts.durationMs / 1000}s measured per run; ~${Math.ceil(estimate)} s` +
      `${opts.pin ? `; gateway on CPU ${GATEWAY_CPU}, sim + load generator on CPU ${CLIENT_CPU}` : '; unpinned'}\n`,
  );
  mkdirSync(RESULTS_DIR, { recursive: true });
  if (opts.cpuProf) mkdirSync(PROF_DIR, { recursive: true });
  const workDir = mkdtempSync(join(tmpdir(), 'maas-bench-'));
  tempDir = workDir;
  if (opts.rev !== undefined) {
    revision = opts.rev;
    try {
      codeRoot = exportRevision(opts.rev, workDir);
    } catch (err) {
      rmSync(workDir, { recursive: true, force: true });
      throw new Error(`--rev ${opts.rev}: cannot export it: ${(err as Error).message}`, { cause: err });
    }
    process.stderr.write(`bench: running src/ of ${gitRevision(opts.rev)} from ${codeRoot}\n`);
  }
  const runs: RunRecord[] = [];
  const discarded: RunRecord[] = [];
  const summaries: ScenarioSummary[] = [];
  const profiles: ProfileSummary[] = [];
  let sim: Service | undefined;
  let gateway: GatewayRun | undefined;
  let bare: Service | undefined;
  let gatewayIdleRssMb = NaN;
  let gatewayPeakRssMb = NaN;

  try {
    sim = await startSim(opts);
    process.stderr.write(`bench: sim at ${sim.url} (pid ${sim.child.pid})\n`);

    for (const scenario of opts.scenarios) {
      if (gateway === undefined) {
        gateway = await startGateway(opts, sim.url, workDir, `${stamp(started)}-${opts.cpuProf ? scenario.name : 'all'}`);
        await sleep(300);
        if (Number.isNaN(gatewayIdleRssMb)) gatewayIdleRssMb = rssMb(gateway.service.child.pid!);
        process.stderr.write(`bench: gateway at ${gateway.service.url} (pid ${gateway.service.child.pid}, RSS ${rssMb(gateway.service.child.pid!).toFixed(1)} MB idle)\n`);
        await warmJit(opts, gateway.service.url);
      }
      const gwPid = gateway.service.child.pid!;
      const simPid = sim.child.pid!;
      const scenarioRuns: RunRecord[] = [];
      for (let repeat = 0; repeat < opts.repeats; repeat++) {
        const order = targetsOf(opts, scenario, repeat);
        if (order.includes('bare') && bare === undefined) {
          bare = await startBareRelay(opts, sim.url);
          await warmJit(opts, bare.url);
        }
        for (const target of order) {
          if (sim.child.exitCode !== null) throw new Error('the simulator exited during the run');
          if (gateway.service.child.exitCode !== null) throw new Error('the gateway exited during the run');
          const url = target === 'gateway' ? gateway.service.url : target === 'bare' ? bare!.url : sim.url;
          // A bare run samples the reference relay where the others sample the gateway: its CPU is
          // part of the run, not another process's load.
          const relayPid = target === 'bare' ? bare!.child.pid! : gwPid;
          let record = await runOnce(opts, scenario, target, repeat, url, relayPid, simPid);
          // Another process took a real share of the cores: the run measured the neighbour, not
          // the gateway. Keep it in the JSON, and run again after a pause.
          for (let retry = 1; retry <= opts.retries && isNoisy(record.machineLoad); retry++) {
            discarded.push(record);
            process.stderr.write(`    !! discarding that run (noisy machine); retry ${retry} of ${opts.retries} in 3 s\n`);
            await sleep(3000);
            record = await runOnce(opts, scenario, target, repeat, url, relayPid, simPid);
          }
          scenarioRuns.push(record);
          runs.push(record);
        }
      }
      summaries.push(summarize(scenario, scenarioRuns));
      if (opts.cpuProf) {
        gatewayPeakRssMb = Math.max(Number.isNaN(gatewayPeakRssMb) ? 0 : gatewayPeakRssMb, rssMb(gwPid, 'VmHWM'));
        const code = await stopService(gateway.service);
        if (code !== 0) process.stderr.write(`bench: !! gateway exited with code ${code}\n`);
        // Start-up (module loading, type stripping) and the JIT warm-up are left out of the tables.
        const skipMs = Math.round(gateway.service.startupMs + 300 + opts.jitWarmupMs);
        const file = gateway.profileName !== undefined ? join(PROF_DIR, gateway.profileName) : newestProfile(started);
        if (file !== undefined) profiles.push(summarizeProfile(file, { top: 25, skipMs }));
        else process.stderr.write('bench: !! no .cpuprofile was written\n');
        gateway = undefined;
      }
    }
    if (gateway !== undefined) {
      gatewayPeakRssMb = rssMb(gateway.service.child.pid!, 'VmHWM');
      const code = await stopService(gateway.service);
      if (code !== 0) process.stderr.write(`bench: !! gateway exited with code ${code} on SIGTERM\n`);
      gateway = undefined;
    }
  } finally {
    if (bare !== undefined) await stopService(bare, 3000);
    if (gateway !== undefined) await stopService(gateway.service, 3000);
    if (sim !== undefined) await stopService(sim, 3000);
    killAll();
    rmSync(workDir, { recursive: true, force: true });
  }

  const checks = targets(summaries);
  const errors = runs.reduce((n, r) => n + r.result.errors, 0);
  const badSamples = runs.filter((r) => !r.result.sample.ok).length;
  const tables = renderTables(summaries, checks);
  const out = join(RESULTS_DIR, `${stamp(started)}.json`);
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        date: started.toISOString(),
        machine: machine(),
        options: { ...opts, scenarios: opts.scenarios.map((s) => s.name) },
        pinning: opts.pin ? { gateway: GATEWAY_CPU, sim: CLIENT_CPU, loadgen: CLIENT_CPU } : null,
        gatewayRss: { idleMb: gatewayIdleRssMb, peakHwmMb: gatewayPeakRssMb },
        summaries,
        targets: checks,
        errors,
        badSamples,
        profiles,
        runs,
        discarded,
      },
      null,
      2,
    )}\n`,
  );

  const m = machine();
  console.log('');
  console.log(`## MaaS gateway load benchmark — ${started.toISOString()}`);
  console.log('');
  console.log(
    `${m.cpus} CPUs (${m.cpuModel}), node ${m.node}, commit ${m.git}; ${opts.repeats} repeat(s), ${opts.warmupMs / 1000}s warm-up + ${opts.durationMs / 1000}s measured per run ` +
      `(after ${opts.jitWarmupMs / 1000}s of warm-up traffic per relay started); sim --output-tokens ${opts.outputTokens}, max_tokens ${MAX_TOKENS}${opts.cpuProf ? '; gateway under --cpu-prof (slower)' : ''}`,
  );
  console.log(`Gateway RSS: ${gatewayIdleRssMb.toFixed(1)} MB idle after start, ${gatewayPeakRssMb.toFixed(1)} MB peak (VmHWM)`);
  console.log('');
  console.log(tables);
  for (const p of profiles) {
    console.log(renderProfile({ ...p, file: relative(ROOT, p.file) }));
    console.log('');
  }
  console.log(`Results: ${relative(ROOT, out)}`);
  if (errors > 0 || badSamples > 0) {
    console.log('');
    console.log(`!!! ${errors} request error(s) and ${badSamples} failed sample check(s): the numbers above are NOT trustworthy (see the log above) !!!`);
    return 1;
  }
  return 0;
}

function newestProfile(since: Date): string | undefined {
  let best: { file: string; size: number } | undefined;
  for (const name of readdirSync(PROF_DIR)) {
    if (!name.endsWith('.cpuprofile')) continue;
    const file = join(PROF_DIR, name);
    const st = statSync(file);
    if (st.mtimeMs >= since.getTime() && (best === undefined || st.size > best.size)) best = { file, size: st.size };
  }
  return best?.file;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping the simulator and gateway\n`);
    killAll();
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
    process.exit(130);
  });
}
process.once('exit', killAll);

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`bench: FAILED: ${(err as Error).stack ?? String(err)}\n`);
  killAll();
  process.exitCode = 1;
}
