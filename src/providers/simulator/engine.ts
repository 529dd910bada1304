import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoint } from '../adapter.ts';
import { chatJob } from './chat.ts';
import { completionsJob } from './completions.ts';
import { embeddingsJob } from './embeddings.ts';
import { SimDropError, SimRequestError, defaultErrorMessage } from './errors.ts';
import { FaultState, parseRequestFaults, type ServerFaults, type SimFaults } from './faults.ts';
import { ConcurrencyGate } from './gate.ts';
import { unixSeconds } from './ids.ts';
import { DEFAULT_SIMULATOR_OPTIONS, modelNames, resolveModel, type SimulatorOptions } from './options.ts';
import { completionTokens } from './plan.ts';
import { producerReadable } from './pump.ts';
import type { Body, Job, JobContext } from './request.ts';
import { dropResponse, errorResponse, jsonResponse, streamResponse, type SimResponse } from './response.ts';
import { RequestLife, StatsRecorder, type RecordedRequest, type SimStats } from './stats.ts';
import { generationMs, longestSteps, writeStream, type Pacing } from './stream.ts';

export type { SimResponse } from './response.ts';
export type { RecordedRequest, SimStats } from './stats.ts';

export interface EngineRequest {
  readonly method: string;
  /** '/v1/chat/completions' or '/chat/completions'; a query string is ignored. */
  readonly path: string;
  /** A parsed JSON object, or the raw bytes / text of the body (parsed here, once). */
  readonly body: unknown;
  readonly signal: AbortSignal;
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
}

const ROUTES: Readonly<Record<string, Endpoint | 'models'>> = {
  '/chat/completions': 'chat',
  '/completions': 'completions',
  '/embeddings': 'embeddings',
  '/models': 'models',
};

const JOB_BUILDERS: Readonly<Record<Endpoint, (body: Body, ctx: JobContext) => Job>> = {
  chat: chatJob,
  completions: completionsJob,
  embeddings: embeddingsJob,
};

function routeOf(path: string): Endpoint | 'models' | undefined {
  const q = path.indexOf('?');
  const clean = q === -1 ? path : path.slice(0, q);
  const route = clean.startsWith('/v1/') ? clean.slice(3) : clean;
  return Object.hasOwn(ROUTES, route) ? ROUTES[route] : undefined;
}

function headerValue(headers: EngineRequest['headers'], name: string): string | undefined {
  const value = headers?.[name];
  return Array.isArray(value) ? value[0] : value;
}

/** JSON.parse once; anything but a JSON object is the client's mistake (returned, not thrown). */
function parseBody(raw: unknown): Body | SimRequestError {
  let body = raw;
  if (typeof raw === 'string' || Buffer.isBuffer(raw)) {
    try {
      body = JSON.parse(raw.toString());
    } catch {
      return new SimRequestError(400, 'The request body is not valid JSON.');
    }
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return new SimRequestError(400, 'The request body must be a JSON object.');
  return body as Body;
}

/**
 * An inference engine that speaks the OpenAI API the way vLLM does: deterministic text, exact
 * usage, paced streams, a bounded batch with a FIFO queue, and injectable faults. Served over
 * HTTP by server.ts and in process by adapter.ts.
 */
export class SimulatorEngine {
  readonly options: SimulatorOptions;
  readonly #gate: ConcurrencyGate;
  readonly #stats = new StatsRecorder();
  readonly #faults = new FaultState();
  /** The whole Authorization header a request must carry, when `api_key` is set. */
  readonly #expectedAuth: string | undefined;

  constructor(options: SimulatorOptions = DEFAULT_SIMULATOR_OPTIONS) {
    this.options = options;
    this.#expectedAuth = options.api_key === undefined ? undefined : `Bearer ${options.api_key}`;
    this.#gate = new ConcurrencyGate(options.max_concurrency);
  }

  async handle(req: EngineRequest): Promise<SimResponse> {
    const route = routeOf(req.path);
    const requestId = headerValue(req.headers, 'x-request-id');
    if (route === undefined) return errorResponse('vllm', 404, `No route for ${req.path}`, null, requestId);
    if (this.#expectedAuth !== undefined && headerValue(req.headers, 'authorization') !== this.#expectedAuth) {
      this.#stats.countUnauthorized(route);
      // vLLM's own answer to a missing or wrong key, byte for byte.
      return jsonResponse(401, '{"error":"Unauthorized"}', requestId);
    }
    const method = route === 'models' ? 'GET' : 'POST';
    if (req.method !== method) return errorResponse('vllm', 405, `Use ${method} for ${req.path}`, null, requestId);
    if (route === 'models') return this.#models(requestId);
    const body = parseBody(req.body);
    // The ring buffer keeps the parsed body (or the raw text when it did not parse).
    const recorded = body instanceof SimRequestError ? String(req.body) : body;
    const life = this.#stats.begin(route, { path: req.path, body: recorded, headers: req.headers ?? {} });
    try {
      if (body instanceof SimRequestError) throw body;
      return await this.#infer(route, body, req, life, requestId);
    } catch (error) {
      if (error instanceof SimRequestError) {
        life.end('rejected');
        return errorResponse('vllm', error.status, error.message, error.param, requestId);
      }
      life.end(req.signal.aborted ? 'cancelled' : 'failed');
      throw error;
    }
  }

  async #infer(endpoint: Endpoint, body: Body, req: EngineRequest, life: RequestLife, requestId: string | undefined): Promise<SimResponse> {
    const faults = this.#faults.take(parseRequestFaults(this.options.request_faults ? body.sim : undefined));
    if (faults.delay_ms !== undefined && faults.delay_ms > 0) await sleep(faults.delay_ms, undefined, { signal: req.signal });
    if (faults.status !== undefined) {
      life.end('failed');
      const message = faults.message ?? defaultErrorMessage(faults.status);
      return errorResponse(faults.error_format ?? 'vllm', faults.status, message, null, requestId, faults.http_status);
    }
    const job = JOB_BUILDERS[endpoint](body, this.#context(endpoint, body, faults));
    if (faults.drop_after_tokens !== undefined && !job.stream) {
      life.end('failed');
      return dropResponse(requestId);
    }
    const pacing: Pacing = {
      ttftMs: faults.ttft_ms ?? this.options.ttft_ms,
      tokensPerSecond: faults.tokens_per_second ?? this.options.tokens_per_second,
    };
    if (job.stream) return this.#stream(job, faults, pacing, life, req.signal, requestId);
    await this.#run(job, pacing, req.signal);
    life.end('completed');
    return jsonResponse(200, job.render(), requestId);
  }

  #context(endpoint: Endpoint, body: Body, faults: SimFaults): JobContext {
    const model = typeof body.model === 'string' ? body.model : modelNames(this.options)[0]!;
    const spec = resolveModel(this.options, model);
    if (spec === undefined) throw new SimRequestError(404, `The model \`${model}\` does not exist.`, 'model');
    // Only configured models have a fixed kind; a name merely inferred is served by any endpoint.
    const configured = this.options.models !== undefined;
    if (configured && (spec.kind === 'embedding') !== (endpoint === 'embeddings')) {
      throw new SimRequestError(400, `The model \`${model}\` does not support the ${endpoint} API.`, 'model');
    }
    return {
      model,
      spec: endpoint === 'embeddings' ? { ...spec, kind: 'embedding', reasoning: false } : spec,
      outputTokens: faults.output_tokens ?? this.options.output_tokens,
      reportUsage: this.options.usage && faults.omit_usage !== true,
      reasoningField: faults.reasoning_field ?? this.options.reasoning_field,
    };
  }

  /** Non-streaming: wait for a slot, then for as long as generating the plan would take. */
  async #run(job: Job, pacing: Pacing, signal: AbortSignal): Promise<void> {
    await this.#gate.acquire(signal);
    try {
      const ms = generationMs(pacing, longestSteps(job.choices));
      if (ms > 0) await sleep(ms, undefined, { signal });
      this.#stats.countTokens(job.promptTokens, completionTokens(job.choices));
    } finally {
      this.#gate.release();
    }
  }

  /** Streaming: headers now, tokens as they are "generated"; the slot is held until the end. */
  #stream(job: Job, faults: SimFaults, pacing: Pacing, life: RequestLife, signal: AbortSignal, requestId: string | undefined): SimResponse {
    const run = { choices: job.choices, format: job.format(), pacing, dropAfterTokens: faults.drop_after_tokens, finishWithContent: faults.finish_with_content === true, bare: faults.bare_stream === true };
    let sent = 0;
    const body = producerReadable(async (push, streamSignal) => {
      await this.#gate.acquire(streamSignal);
      try {
        await writeStream(run, push, streamSignal, () => sent++);
        life.end('completed');
      } catch (error) {
        // A drop is the injected fault; anything else here means the reader or client went away.
        life.end(error instanceof SimDropError ? 'failed' : 'cancelled');
        throw error;
      } finally {
        this.#gate.release();
        this.#stats.countTokens(job.promptTokens, sent);
      }
    }, signal);
    // A reader that goes away before the producer even starts still ends the request.
    body.once('close', () => life.end('cancelled'));
    return streamResponse(body, requestId);
  }

  #models(requestId: string | undefined): SimResponse {
    this.#stats.countModels();
    const created = unixSeconds();
    const data = modelNames(this.options).map((id) => ({ id, object: 'model', created, owned_by: 'simulator', root: id, parent: null }));
    return jsonResponse(200, JSON.stringify({ object: 'list', data }), requestId);
  }

  stats(): SimStats {
    return this.#stats.snapshot(this.#gate);
  }

  /** The ring buffer of the last 50 inference requests, oldest first. */
  requests(): RecordedRequest[] {
    return this.#stats.requests();
  }

  metricsText(): string {
    return this.#stats.metricsText(this.#gate);
  }

  /** Server-wide faults (POST /sim/faults); `{}` clears. Throws SimRequestError on a bad field. */
  setFaults(raw: unknown): void {
    this.#faults.set(raw);
  }

  faults(): ServerFaults {
    return this.#faults.current();
  }

  /** Zero the counters, clear the faults and the ring buffer (POST /sim/reset). */
  reset(): void {
    this.#stats.reset();
    this.#faults.clear();
  }
}
