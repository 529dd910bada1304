/**
 * Instructions per request, for the gateway (billing on and off) and the reference relay: each
 * runs under valgrind's callgrind, which counts the instructions a process executes (user space)
 * instead of timing them. The count is the same whatever else the machine is doing, so two
 * revisions can be compared on a slow or noisy VM where latency A/B runs drown in drift. The
 * figure that matters is the main thread's — the event loop, which serves every request; the
 * other threads (V8's compilers and GC helpers, the checkpoint worker) are shown apart, because
 * under callgrind V8's optimising compilers are still at work long after the main thread's count
 * has settled (40 s or 150 s of warm-up: main thread within 3 %, the others 4× apart). Time in
 * the kernel (syscalls) is not counted; bench/README.md has `strace` figures for that.
 *
 *   node bench/instructions.ts [--targets gateway,gateway-billing-off,bare] [--warmup 40] [--duration 20] [--stream] [--code <checkout>] [--keep]
 *
 * Under callgrind a process runs 30–50× slower, so the load is one request at a time: a warm-up
 * long enough for V8 to optimise the hot path, then the counters are zeroed
 * (`callgrind_control --zero`), requests are sent for `--duration` seconds, and the counters are
 * dumped (`--dump`) and divided by the requests answered meanwhile. `--code`: measure the gateway
 * of another checkout (e.g. `git worktree add /tmp/old <commit>` with a `node_modules` link).
 * `--keep`: leave the dumps in their temp dir (printed) for `callgrind_annotate`, function by function.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LoadgenConfig, LoadgenResult } from './loadgen.ts';
import { benchGatewayEnv, gatewayArgs, startNode, type StartedNode } from './proc.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TARGETS = ['gateway', 'gateway-billing-off', 'bare'] as const;
type Target = (typeof TARGETS)[number];

const { values: flags } = parseArgs({
  options: {
    targets: { type: 'string', default: TARGETS.join(',') },
    warmup: { type: 'string', default: '40' },
    duration: { type: 'string', default: '20' },
    stream: { type: 'boolean', default: false },
    code: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const targets = flags.targets.split(',').map((name) => {
  if (!(TARGETS as readonly string[]).includes(name)) throw new Error(`--targets: '${name}' is not one of ${TARGETS.join(', ')}`);
  return name as Target;
});
const code = resolve(flags.code ?? ROOT);

const live = new Set<ChildProcess>();
process.once('exit', () => live.forEach((child) => child.kill('SIGKILL')));
process.once('SIGINT', () => process.exit(130));

function started(options: Parameters<typeof startNode>[0]): Promise<StartedNode> {
  const { child, started } = startNode(options);
  live.add(child);
  return started;
}

async function loadgen(url: string, apiKey: string, durationMs: number): Promise<LoadgenResult> {
  const config: LoadgenConfig = {
    url,
    path: '/v1/chat/completions',
    body: JSON.stringify({
      model: 'bench-model',
      messages: [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: 'Write one short sentence about load testing.' },
      ],
      max_tokens: 32,
      temperature: 0,
      ...(flags.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    }),
    headers: { authorization: `Bearer ${apiKey}` },
    concurrency: 1,
    warmupMs: 0,
    durationMs,
    stream: flags.stream,
  };
  const child = spawn('taskset', ['-c', '1', process.execPath, join(ROOT, 'bench', 'loadgen.ts'), JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exitCode = await new Promise<number | null>((done) => child.once('exit', done));
  if (exitCode !== 0) throw new Error(`load generator exited ${exitCode}`);
  return JSON.parse(out) as LoadgenResult;
}

/**
 * What the newest callgrind dump of `outFile` counted: with separate threads it is one file per
 * thread, `<outFile>.<dump>-<thread>`, thread 01 being the main thread.
 */
function dumpedInstructions(dir: string, outFile: string): { main: number; other: number } {
  const files = readdirSync(dir).flatMap((f) => {
    const m = /^(\d+)-(\d+)$/.exec(f.startsWith(`${outFile}.`) ? f.slice(outFile.length + 1) : '');
    return m === null ? [] : [{ file: f, dump: Number(m[1]), thread: Number(m[2]) }];
  });
  const newest = Math.max(...files.map((f) => f.dump));
  if (!Number.isFinite(newest)) throw new Error('callgrind wrote no dump');
  let main = 0;
  let other = 0;
  for (const f of files.filter((f) => f.dump === newest)) {
    const summary = /^summary: (\d+)$/m.exec(readFileSync(join(dir, f.file), 'utf8'));
    if (summary === null) throw new Error(`no summary line in ${f.file}`);
    if (f.thread === 1) main += Number(summary[1]);
    else other += Number(summary[1]);
  }
  return { main, other };
}

interface Row {
  readonly target: Target;
  readonly requests: number;
  /** Instructions per request on the main thread (the event loop) and on all other threads. */
  readonly mainPerRequest: number;
  readonly otherPerRequest: number;
  readonly errors: number;
}

async function measure(target: Target, simUrl: string, dir: string): Promise<Row> {
  const outFile = `callgrind.${target}.out`;
  const prefix = ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', '--separate-threads=yes', `--callgrind-out-file=${join(dir, outFile)}`];
  let relay: StartedNode;
  let apiKey = 'sk-bench-any';
  if (target === 'bare') {
    relay = await started({ cpu: '0', prefix, args: [join(ROOT, 'bench', 'bare-relay.ts'), `${simUrl}/v1`], env: process.env, cwd: ROOT, pattern: /bare relay listening on (\S+)/, timeoutMs: 180_000 });
  } else {
    const env = benchGatewayEnv({ dir, name: target, simUrl, billing: target === 'gateway' ? 'on' : 'off' });
    relay = await started({ cpu: '0', prefix, args: gatewayArgs(code), env, cwd: code, pattern: /maas gateway listening on (\S+)/, timeoutMs: 180_000 });
    apiKey = /api key: (\S+)/.exec(relay.output())![1]!;
  }
  const pid = String(relay.child.pid);
  try {
    process.stderr.write(`  ${target}: warming up for ${flags.warmup} s under callgrind…\n`);
    await loadgen(relay.url, apiKey, 1000 * Number(flags.warmup));
    execFileSync('callgrind_control', ['--zero', pid], { stdio: 'ignore' });
    const result = await loadgen(relay.url, apiKey, 1000 * Number(flags.duration));
    execFileSync('callgrind_control', ['--dump', pid], { stdio: 'ignore' });
    const { main, other } = dumpedInstructions(dir, outFile);
    process.stderr.write(`  ${target}: ${result.total} requests, ${(main / 1e6).toFixed(1)} M instructions on the main thread, ${(other / 1e6).toFixed(1)} M on others\n`);
    const requests = Math.max(1, result.total);
    return { target, requests: result.total, mainPerRequest: main / requests, otherPerRequest: other / requests, errors: result.errors };
  } finally {
    relay.child.kill('SIGKILL');
    live.delete(relay.child);
  }
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'maas-bench-instructions-'));
  try {
    const sim = await started({
      cpu: '1',
      args: [join(code, 'src', 'cli', 'main.ts'), 'sim', '--port', '0', '--ttft-ms', '0', '--tps', '0', '--output-tokens', '32'],
      env: process.env,
      cwd: code,
      pattern: /maas sim listening on (\S+)/,
    });
    process.stderr.write(`bench: instructions per request (callgrind), ${flags.stream ? 'streaming' : 'non-streaming'}, c=1, code ${code}\n`);
    const rows = [];
    for (const target of targets) rows.push(await measure(target, sim.url, dir));
    const bare = rows.find((r) => r.target === 'bare');
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: code, encoding: 'utf8' }).trim();
    const lines = [
      `Instructions per request (callgrind, user space), ${flags.stream ? 'streaming' : 'non-streaming'}, c=1; commit ${commit}; ` +
        `${flags.warmup} s warm-up + ${flags.duration} s measured per target`,
      '',
      '| target | requests measured | main thread, per request | vs reference relay | other threads, per request | errors |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows.map(
        (r) =>
          `| ${r.target} | ${r.requests} | ${Math.round(r.mainPerRequest).toLocaleString('en')} | ` +
          `${bare === undefined ? '–' : `${(r.mainPerRequest / bare.mainPerRequest).toFixed(2)}×`} | ${Math.round(r.otherPerRequest).toLocaleString('en')} | ${r.errors} |`,
      ),
    ];
    process.stdout.write(`\n${lines.join('\n')}\n`);
    return rows.some((r) => r.errors > 0) ? 1 : 0;
  } finally {
    live.forEach((child) => child.kill('SIGKILL'));
    if (flags.keep) process.stderr.write(`bench: callgrind dumps kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
