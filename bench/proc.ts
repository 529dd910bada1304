import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * /proc sampling for the benchmarks: RSS and CPU time of a process tree (a gateway started
 * through a wrapper shell counts as the gateway), and per-CPU busy time to tell when other
 * processes shared the machine during a run. Linux only; elsewhere everything reads as 0.
 */

export function descendants(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const task of readdirSync(`/proc/${out[i]}/task`)) {
        const children = readFileSync(`/proc/${out[i]}/task/${task}/children`, 'utf8').trim();
        if (children !== '') out.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

/** Largest RSS (MB) of one process in the tree: the gateway itself, not a wrapper shell or npm. */
export function rssMb(pid: number, field = 'VmRSS'): number {
  let max = 0;
  for (const p of descendants(pid)) max = Math.max(max, statusKb(p, field));
  return max / 1024;
}

export const CLK_TCK = 100;
/** utime+stime of the tree, ms. */
export function cpuMs(pid: number): number {
  let ticks = 0;
  for (const p of descendants(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited meanwhile
    }
  }
  return (ticks * 1000) / CLK_TCK;
}

/** Per-CPU tick counters from /proc/stat: busy (everything but idle and iowait) and steal. */
export function cpuTicks(): Map<string, { busy: number; steal: number }> {
  const out = new Map<string, { busy: number; steal: number }>();
  try {
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+) (.*)$/.exec(line);
      if (m === null) continue;
      const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = m[2]!.trim().split(/\s+/).map(Number);
      out.set(m[1]!, { busy: user + nice + system + irq + softirq + steal, steal });
    }
  } catch {
    // not Linux
  }
  return out;
}


export interface MachineLoad {
  /** % of one core busy during the run, per CPU. */
  readonly busyPercent: Readonly<Record<string, number>>;
  /** % of one core stolen by the hypervisor, summed over CPUs. */
  readonly stealPercent: number;
  /** Busy time not explained by the benchmark's own processes: other processes (% of one core). */
  readonly foreignPercent: number;
}

/** Above this, a run shared the machine with something else and its numbers are suspect. */
export const FOREIGN_WARN_PERCENT = 15;

export function isNoisy(load: MachineLoad): boolean {
  return load.foreignPercent > FOREIGN_WARN_PERCENT || load.stealPercent > FOREIGN_WARN_PERCENT;
}

/** The machine during a run, from two `cpuTicks()` readings and the CPU the benchmark's own processes used. */
export function measureMachineLoad(
  before: ReadonlyMap<string, { busy: number; steal: number }>,
  after: ReadonlyMap<string, { busy: number; steal: number }>,
  wallMs: number,
  ownCpuMs: number,
): MachineLoad {
  const busyPercent: Record<string, number> = {};
  let busyMs = 0;
  let stealMs = 0;
  for (const [cpu, end] of after) {
    const start = before.get(cpu);
    if (start === undefined) continue;
    const busy = ((end.busy - start.busy) * 1000) / CLK_TCK;
    busyPercent[cpu] = (100 * busy) / wallMs;
    busyMs += busy;
    stealMs += ((end.steal - start.steal) * 1000) / CLK_TCK;
  }
  const foreignMs = Math.max(0, busyMs - ownCpuMs);
  return { busyPercent, stealPercent: (100 * stealMs) / wallMs, foreignPercent: (100 * foreignMs) / wallMs };
}

/**
 * Node arguments that start the gateway the way `npm start` does: `bin/maas.js start` with the
 * V8 flags of its shebang line (the one place they are written). Benchmarks measure what
 * operators run. Revisions from before the launcher started the gateway run `src/main.ts`.
 */
export function gatewayArgs(codeRoot: string): string[] {
  const launcher = join(codeRoot, 'bin', 'maas.js');
  const source = existsSync(launcher) ? readFileSync(launcher, 'utf8') : '';
  if (!source.includes('enableCompileCache')) return [join(codeRoot, 'src', 'main.ts')];
  const shebang = /^#!\/usr\/bin\/env -S node(.*)$/m.exec(source.split('\n', 1)[0]!);
  const flags = shebang === null ? [] : shebang[1]!.trim().split(/\s+/).filter((f) => f.length > 0);
  return [...flags, launcher, 'start'];
}

/**
 * The benchmarks' gateway config: one model, `bench-model`, on the simulator at `simUrl`, with a
 * price when given (yuan per 1K tokens), and the bootstrap account's plan without limits, so
 * admission runs but never throttles.
 */
function benchGatewayConfig(simUrl: string, price?: { readonly input: string; readonly output: string }): object {
  return {
    providers: { sim: { type: 'vllm', base_url: `${simUrl}/v1` } },
    models: { 'bench-model': { deployments: [{ provider: 'sim', upstream_model: 'bench-model', chip: 'nvidia', ...(price && { price }) }] } },
    plans: { enterprise: { rpm: 0, tpm: 0, concurrency: 0 } },
  };
}

/**
 * Writes the benchmarks' gateway config (above) into `dir` as `<name>.json` and returns the
 * environment that starts a gateway on it: any free port on 127.0.0.1, its own fresh data dir,
 * log level `warn`, billing on or off; `extra` adds to it.
 */
export function benchGatewayEnv(options: {
  readonly dir: string;
  readonly name: string;
  readonly simUrl: string;
  readonly billing: 'on' | 'off';
  readonly price?: { readonly input: string; readonly output: string };
  readonly extra?: Readonly<Record<string, string>>;
}): NodeJS.ProcessEnv {
  const configPath = join(options.dir, `${options.name}.json`);
  writeFileSync(configPath, JSON.stringify(benchGatewayConfig(options.simUrl, options.price)));
  return {
    ...process.env,
    MAAS_PORT: '0',
    MAAS_HOST: '127.0.0.1',
    MAAS_CONFIG: configPath,
    MAAS_DATA_DIR: join(options.dir, `data-${options.name}`),
    MAAS_LOG_LEVEL: 'warn',
    MAAS_BILLING: options.billing,
    ...options.extra,
  };
}

export interface StartedNode {
  readonly child: ChildProcess;
  /** The first group of the line that announced the process (its URL). */
  readonly url: string;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
}

/**
 * Starts `node args…` (pinned to `cpu` with taskset unless `cpu` is undefined; under `prefix`,
 * e.g. valgrind, when given) and resolves once its output matches `pattern`; rejects if it exits
 * first or stays silent for `timeoutMs`.
 */
export function startNode(options: {
  readonly cpu: string | undefined;
  readonly prefix?: readonly string[];
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly pattern: RegExp;
  readonly timeoutMs?: number;
}): { child: ChildProcess; started: Promise<StartedNode> } {
  const { cpu, args, pattern } = options;
  const command = [...(options.prefix ?? []), process.execPath, ...args];
  const [cmd, argv] = cpu === undefined ? [command[0]!, command.slice(1)] : ['taskset', ['-c', cpu, ...command]];
  const child = spawn(cmd, argv, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const started = new Promise<StartedNode>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start:\n${out}`)), options.timeoutMs ?? 30_000);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}):\n${out}`)));
    child.stdout!.on('data', () => {
      const m = pattern.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      resolve({ child, url: m[1]!, output: () => out });
    });
  });
  return { child, started };
}
