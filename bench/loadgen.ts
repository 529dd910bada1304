/**
 * Closed-loop HTTP load generator: `c` workers, each sending its next request as soon as the
 * previous one has been read to the end, for `warmupMs + durationMs`. Spawned once per run by
 * bench/load.ts (pinned to its own core) and reports one JSON document on stdout.
 *
 * Built on undici's raw `Pool#dispatch` handler API: no fetch(), no web streams, no Readable
 * per response, so the generator costs as little CPU per request as undici allows and that cost
 * is the same for both targets. Times come from performance.now() (monotonic, sub-µs).
 *
 *   node bench/loadgen.ts '{"url":"http://127.0.0.1:8080","path":"/v1/chat/completions",…}'
 */
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface LoadgenConfig {
  /** Origin, e.g. http://127.0.0.1:9090 */
  readonly url: string;
  readonly path: string;
  /** Sent as is (the same bytes for every request and both targets). */
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly stream: boolean;
  /** Label copied into the result. */
  readonly label?: string;
}

export interface Percentiles {
  readonly n: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface SampleCheck {
  readonly ok: boolean;
  readonly detail: string;
  readonly completionTokens: number | undefined;
}

export interface LoadgenResult {
  readonly label: string | undefined;
  readonly url: string;
  readonly concurrency: number;
  readonly stream: boolean;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Requests completed inside the measured window. */
  readonly completed: number;
  /** Requests answered in full over the whole run, warm-up included. */
  readonly total: number;
  /** Completed in the window / window length. */
  readonly rps: number;
  /** Latency until the whole body was read (ms), of requests started in the window. */
  readonly latency: Percentiles;
  /** Streaming only: time to the first body byte (ms). */
  readonly ttfb: Percentiles | undefined;
  /** Latency histogram: `le` upper bounds (ms, powers of two) → requests; the last bucket is +Inf. */
  readonly histogram: readonly { readonly le: number; readonly count: number }[];
  readonly bytes: { readonly min: number; readonly max: number };
  readonly errors: number;
  readonly errorSamples: readonly string[];
  readonly sample: SampleCheck;
  /** CPU used by this generator process since it started, start-up included (ms user+system). */
  readonly loadgenCpuMs: number;
}

const DONE_TAIL = 'data: [DONE]\n\n';
const MAX_ERROR_SAMPLES = 10;

const HISTOGRAM_BOUNDS = Array.from({ length: 16 }, (_, i) => 2 ** (i - 5)); // 1/32 ms … 1024 ms

export function histogram(values: readonly number[]): { le: number; count: number }[] {
  const counts = new Array<number>(HISTOGRAM_BOUNDS.length + 1).fill(0);
  for (const v of values) {
    let i = 0;
    while (i < HISTOGRAM_BOUNDS.length && v > HISTOGRAM_BOUNDS[i]!) i++;
    counts[i]!++;
  }
  return counts.map((count, i) => ({ le: HISTOGRAM_BOUNDS[i] ?? Infinity, count })).filter((b) => b.count > 0);
}

export function percentiles(values: readonly number[]): Percentiles {
  const n = values.length;
  if (n === 0) return { n: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const at = (q: number): number => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  return { n, mean: sum / n, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1]! };
}

/** Full check of one non-streaming answer: a chat.completion object with text and usage. */
export function checkJsonSample(status: number, body: string): SampleCheck {
  if (status !== 200) return { ok: false, detail: `status ${status}: ${body.slice(0, 300)}`, completionTokens: undefined };
  let doc: { object?: unknown; choices?: { message?: { content?: unknown } }[]; usage?: { completion_tokens?: unknown } };
  try {
    doc = JSON.parse(body) as typeof doc;
  } catch {
    return { ok: false, detail: `body is not JSON: ${body.slice(0, 300)}`, completionTokens: undefined };
  }
  const tokens = typeof doc.usage?.completion_tokens === 'number' ? doc.usage.completion_tokens : undefined;
  if (doc.object !== 'chat.completion') return { ok: false, detail: `object is ${String(doc.object)}`, completionTokens: tokens };
  if (typeof doc.choices?.[0]?.message?.content !== 'string') return { ok: false, detail: 'choices[0].message.content missing', completionTokens: tokens };
  if (tokens === undefined) return { ok: false, detail: 'usage.completion_tokens missing', completionTokens: tokens };
  return { ok: true, detail: `chat.completion, ${body.length} bytes`, completionTokens: tokens };
}

/** Full check of one SSE answer: every event JSON, content deltas, a usage chunk, `[DONE]` last. */
export function checkSseSample(status: number, body: string): SampleCheck {
  if (status !== 200) return { ok: false, detail: `status ${status}: ${body.slice(0, 300)}`, completionTokens: undefined };
  const events = body.split('\n\n').filter((e) => e.trim().length > 0);
  let tokens: number | undefined;
  let deltas = 0;
  for (let i = 0; i < events.length; i++) {
    const data = events[i]!.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
    if (data === '[DONE]') {
      if (i !== events.length - 1) return { ok: false, detail: '[DONE] is not the last event', completionTokens: tokens };
      if (deltas === 0) return { ok: false, detail: 'no content delta before [DONE]', completionTokens: tokens };
      if (tokens === undefined) return { ok: false, detail: 'no usage chunk (include_usage was asked)', completionTokens: tokens };
      return { ok: true, detail: `${events.length} events, ${body.length} bytes, ends with [DONE]`, completionTokens: tokens };
    }
    let chunk: { object?: unknown; error?: unknown; choices?: { delta?: { content?: unknown } }[]; usage?: { completion_tokens?: unknown } | null };
    try {
      chunk = JSON.parse(data) as typeof chunk;
    } catch {
      return { ok: false, detail: `event ${i} is not JSON: ${data.slice(0, 200)}`, completionTokens: tokens };
    }
    if (chunk.error !== undefined) return { ok: false, detail: `error event: ${data.slice(0, 300)}`, completionTokens: tokens };
    if (chunk.object !== 'chat.completion.chunk') return { ok: false, detail: `event ${i} object is ${String(chunk.object)}`, completionTokens: tokens };
    if (typeof chunk.choices?.[0]?.delta?.content === 'string') deltas++;
    if (typeof chunk.usage?.completion_tokens === 'number') tokens = chunk.usage.completion_tokens;
  }
  return { ok: false, detail: `stream did not end with data: [DONE] (${events.length} events)`, completionTokens: tokens };
}

export async function runLoad(config: LoadgenConfig): Promise<LoadgenResult> {
  const { concurrency, stream } = config;
  const pool = new Pool(config.url, {
    connections: concurrency,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 60_000,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const body = Buffer.from(config.body);
  const headers: string[] = [];
  for (const [k, v] of Object.entries({ 'content-type': 'application/json', ...config.headers })) headers.push(k, v);
  const options: Dispatcher.DispatchOptions = { method: 'POST', path: config.path, headers, body };

  const t0 = performance.now();
  const measureFrom = t0 + config.warmupMs;
  const stopAt = measureFrom + config.durationMs;

  const latencies: number[] = [];
  const ttfbs: number[] = [];
  let completed = 0;
  let total = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  let minBytes = Infinity;
  let maxBytes = 0;
  let sample: SampleCheck | undefined;
  let wantSample = true;

  const fail = (message: string): void => {
    errors++;
    if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(message);
  };

  /** One request; resolves when it is finished (either way). */
  const once = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      let first = 0;
      let status = 0;
      let bytes = 0;
      let tail = '';
      const keep = wantSample && start >= measureFrom;
      if (keep) wantSample = false;
      const kept: Buffer[] = [];
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart() {},
        onResponseStart(_controller, statusCode: number, _headers: IncomingHttpHeaders) {
          status = statusCode;
        },
        onResponseData(_controller, chunk: Buffer) {
          if (first === 0) first = performance.now();
          bytes += chunk.length;
          if (keep || status !== 200) kept.push(chunk);
          // Only the last bytes are needed to tell a complete stream from a cut one.
          if (stream) tail = chunk.length >= DONE_TAIL.length ? chunk.toString('latin1', chunk.length - DONE_TAIL.length) : (tail + chunk.toString('latin1')).slice(-DONE_TAIL.length);
        },
        onResponseEnd() {
          const end = performance.now();
          const text = kept.length > 0 ? Buffer.concat(kept).toString('utf8') : '';
          if (status !== 200) fail(`HTTP ${status}: ${text.slice(0, 300)}`);
          else if (stream && tail !== DONE_TAIL) fail(`stream ended without data: [DONE] (last bytes ${JSON.stringify(tail)})`);
          else if (bytes === 0) fail('empty body');
          else {
            total++;
            if (end >= measureFrom && end <= stopAt) completed++;
            if (start >= measureFrom) {
              latencies.push(end - start);
              if (stream) ttfbs.push(first - start);
              if (bytes < minBytes) minBytes = bytes;
              if (bytes > maxBytes) maxBytes = bytes;
            }
          }
          if (keep) sample = stream ? checkSseSample(status, text) : checkJsonSample(status, text);
          resolve();
        },
        onResponseError(_controller, err: Error) {
          fail(`${(err as { code?: string }).code ?? err.name}: ${err.message}`);
          if (keep) sample = { ok: false, detail: `transport error: ${err.message}`, completionTokens: undefined };
          // A refused connection fails in microseconds: do not spin.
          setTimeout(resolve, 5);
        },
      };
      pool.dispatch(options, handler);
    });

  const worker = async (): Promise<void> => {
    while (performance.now() < stopAt) await once();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = process.cpuUsage();
  await pool.destroy().catch(() => undefined);

  return {
    label: config.label,
    url: config.url,
    concurrency,
    stream,
    warmupMs: config.warmupMs,
    durationMs: config.durationMs,
    completed,
    total,
    rps: completed / (config.durationMs / 1000),
    latency: percentiles(latencies),
    ttfb: stream ? percentiles(ttfbs) : undefined,
    histogram: histogram(latencies),
    bytes: { min: minBytes === Infinity ? 0 : minBytes, max: maxBytes },
    errors,
    errorSamples,
    sample: sample ?? { ok: false, detail: 'no response was completed in the measured window', completionTokens: undefined },
    loadgenCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

if (import.meta.main) {
  const arg = process.argv[2];
  if (arg === undefined) {
    process.stderr.write('usage: node bench/loadgen.ts \'<json LoadgenConfig>\'\n');
    process.exit(2);
  }
  const result = await runLoad(JSON.parse(arg) as LoadgenConfig);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
