/**
 * Helpers for the simulator's unit tests (not used at run time): call the engine in process and
 * read its answer the way a client would.
 */
import type { Readable } from 'node:stream';
import type { SimulatorEngine } from './engine.ts';

export interface EngineResult {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
}

export async function readAll(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function post(engine: SimulatorEngine, path: string, body: unknown, init: { signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<EngineResult> {
  const response = await engine.handle({ method: 'POST', path, body, signal: init.signal ?? new AbortController().signal, headers: init.headers });
  return { status: response.status, headers: response.headers, text: await readAll(response.body) };
}

export async function postJson<T = Record<string, unknown>>(engine: SimulatorEngine, path: string, body: unknown): Promise<T> {
  const result = await post(engine, path, body);
  if (result.status !== 200) throw new Error(`${path} → ${result.status}: ${result.text}`);
  return JSON.parse(result.text) as T;
}

/** The `data:` payloads of an SSE body, `[DONE]` included as a string. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((event) => event.length > 0)
    .map((event) => {
      if (!event.startsWith('data: ')) throw new Error(`not a data event: ${event}`);
      return event.slice(6);
    });
}

export interface ChunkChoice {
  index: number;
  delta?: Record<string, unknown>;
  text?: string;
  logprobs: unknown;
  finish_reason: string | null;
}

export interface Chunk {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: ChunkChoice[];
  usage?: Record<string, unknown> | null;
}

/** The JSON chunks of a stream; asserts it ends with exactly one [DONE]. */
export function sseChunks(text: string): Chunk[] {
  const data = sseData(text);
  if (data.at(-1) !== '[DONE]') throw new Error(`stream does not end with [DONE]: ${text.slice(-200)}`);
  return data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
}
