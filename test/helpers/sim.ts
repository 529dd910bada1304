import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { ServerFaults } from '../../src/providers/simulator/faults.ts';
import type { RecordedRequest, SimStats } from '../../src/providers/simulator/stats.ts';

export type { RecordedRequest, ServerFaults, SimStats };

const ROOT = new URL('../..', import.meta.url).pathname;
const START_TIMEOUT_MS = 10_000;

export interface SimProcess {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** url + '/v1', for OpenAI clients and gateway provider configs. */
  readonly baseURL: string;
  readonly port: number;
  readonly child: ChildProcess;
  stats(): Promise<SimStats>;
  /** The last 50 inference requests that reached the simulator, oldest first. */
  requests(): Promise<RecordedRequest[]>;
  metrics(): Promise<string>;
  /** Server-wide faults (with optional `count`); `{}` clears them. */
  setFaults(faults: ServerFaults): Promise<void>;
  /** Zero counters, clear faults and the request ring buffer. */
  reset(): Promise<void>;
  /** SIGTERM, then resolves with the exit code. */
  stop(): Promise<number | null>;
}

async function call(url: string, init?: RequestInit): Promise<Response> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url} → ${res.status}: ${await res.text()}`);
  return res;
}

function post(url: string, body: unknown): Promise<Response> {
  return call(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Resolves with the URL from "maas sim listening on URL"; rejects with stderr on exit or timeout. */
function waitForListening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`maas sim ${why}\n--- stderr ---\n${stderr}\n--- stdout ---\n${stdout}`));
    };
    const onExit = (code: number | null, signal: string | null) => fail(`exited (code ${code}, signal ${signal}) before listening`);
    const timer = setTimeout(() => fail(`did not listen within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const match = /maas sim listening on (\S+)/.exec(stdout);
      if (match !== null) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(match[1]!);
      }
    });
    child.once('exit', onExit);
  });
}

/** Spawns `maas sim --port 0 …args` (the real CLI) and waits until it listens. */
export async function startSimProcess(args: string[] = []): Promise<SimProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'src/cli/main.ts'), 'sim', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await waitForListening(child);
  return {
    url,
    baseURL: `${url}/v1`,
    port: Number(new URL(url).port),
    child,
    stats: async () => (await call(`${url}/sim/stats`)).json() as Promise<SimStats>,
    requests: async () => (await call(`${url}/sim/requests`)).json() as Promise<RecordedRequest[]>,
    metrics: async () => (await call(`${url}/metrics`)).text(),
    setFaults: async (faults) => {
      await post(`${url}/sim/faults`, faults);
    },
    reset: async () => {
      await post(`${url}/sim/reset`, {});
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
