import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import OpenAI from 'openai';

/** The operator key every test gateway runs with. */
export const TEST_ADMIN_KEY = 'sk-admin-test-0123456789abcdefghijklmnopqrstuvwxyz';
const ROOT = new URL('../..', import.meta.url).pathname;

export interface GatewayProcess {
  readonly url: string;
  readonly baseURL: string;
  /** The key of the account the gateway creates on first start (plan enterprise). */
  readonly apiKey: string;
  readonly adminKey: string;
  readonly child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  client(options?: Partial<ConstructorParameters<typeof OpenAI>[0]>): OpenAI;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface GatewayOptions {
  /** Written as the MAAS_CONFIG file (JSON is YAML). Omit to run on the built-in default. */
  readonly config?: unknown;
  readonly env?: Record<string, string>;
  /** `launcher`: run `bin/maas.js start` as `npm start` does (its `#!` line, on the pinned node). Default `node src/main.ts`. */
  readonly entry?: 'main' | 'launcher';
}

/** Starts the gateway on an ephemeral port and waits until it listens. */
export async function startGateway(options: GatewayOptions = {}): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'maas-gw-'));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    MAAS_PORT: '0',
    MAAS_HOST: '127.0.0.1',
    MAAS_DATA_DIR: join(dir, 'data'),
    MAAS_ADMIN_KEY: TEST_ADMIN_KEY,
    MAAS_LOG_LEVEL: 'warn',
    ...options.env,
  };
  if (options.config !== undefined) {
    const path = join(dir, 'config.yaml');
    writeFileSync(path, JSON.stringify(options.config, null, 2));
    env.MAAS_CONFIG = path;
  }
  if (options.entry === 'launcher') env.PATH = `${dirname(process.execPath)}:${env.PATH ?? ''}`;
  const [command, args] = options.entry === 'launcher' ? [join(ROOT, 'bin/maas.js'), ['start']] : [process.execPath, [join(ROOT, 'src/main.ts')]];
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  exited.then(() => rmSync(dir, { recursive: true, force: true }), () => {});

  const url = await waitForLine(child, () => output, /maas gateway listening on (\S+)/, exited);
  const apiKey = /api key: (sk-\S+)/.exec(output)?.[1] ?? '';
  const adminKey = env.MAAS_ADMIN_KEY ?? /admin key: (sk-\S+)/.exec(output)?.[1] ?? '';
  return {
    url,
    baseURL: `${url}/v1`,
    apiKey,
    adminKey,
    child,
    output: () => output,
    client: (extra) => new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0, timeout: 20_000, ...extra }),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs the gateway expecting it to fail at start; resolves with its exit code and output. */
export async function startGatewayExpectingFailure(config: unknown, env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'maas-gw-'));
  const path = join(dir, 'config.yaml');
  writeFileSync(path, typeof config === 'string' ? config : JSON.stringify(config));
  const child = spawn(process.execPath, [join(ROOT, 'src/main.ts')], {
    env: { ...process.env, MAAS_PORT: '0', MAAS_CONFIG: path, MAAS_ADMIN_KEY: TEST_ADMIN_KEY, MAAS_DATA_DIR: join(dir, 'data'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
  return { code, output };
}

export function waitForLine(child: ChildProcess, output: () => string, pattern: RegExp, exited: Promise<unknown>, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`process did not print ${pattern} within ${timeoutMs} ms:\n${output()}`));
    }, timeoutMs);
    const check = (): void => {
      const match = pattern.exec(output());
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`process exited before listening:\n${output()}`));
    });
  });
}

/** A config whose single provider is the given OpenAI-compatible simulator process. */
export function simConfig(simBaseURL: string, extra: { models?: Record<string, unknown>; providers?: Record<string, unknown> } = {}): unknown {
  return {
    providers: { sim: { type: 'vllm', base_url: simBaseURL }, ...extra.providers },
    models: {
      'chat-model': { deployments: [{ provider: 'sim', upstream_model: 'upstream-chat', chip: 'nvidia', price: { input: '0.001', output: '0.002' } }] },
      'DeepSeek-R1': { deployments: [{ provider: 'sim', upstream_model: 'deepseek-r1', chip: 'nvidia' }] },
      'Qwen/Qwen2.5-7B-Instruct': { deployments: [{ provider: 'sim' }] },
      'embed-model': { kind: 'embedding', deployments: [{ provider: 'sim', upstream_model: 'bge-m3' }] },
      ...extra.models,
    },
  };
}
