import type { ConcurrencyGate } from './gate.ts';

/** What reached the engine, for tests that assert what the gateway sent upstream. */
export interface RecordedRequest {
  readonly path: string;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export const STAT_ENDPOINTS = ['chat', 'completions', 'embeddings', 'models'] as const;
export type StatEndpoint = (typeof STAT_ENDPOINTS)[number];

export interface SimStats {
  /** Inference requests (chat, completions, embeddings) that reached the engine. */
  readonly requests_total: number;
  readonly completed: number;
  /** Aborted by the client before the end. */
  readonly cancelled: number;
  /** Ended by an injected fault (error status or dropped connection). */
  readonly failed: number;
  /** Refused by the simulator's own validation (400/404). */
  readonly rejected: number;
  /** Requests refused for a missing or wrong API key (`api_key`), by route; not in the counts above. */
  readonly unauthorized: Readonly<Record<StatEndpoint, number>>;
  /** GET /metrics answered: how often a scraper read the engine's load. */
  readonly metrics_scrapes: number;
  readonly in_flight: number;
  readonly waiting: number;
  readonly by_endpoint: Readonly<Record<StatEndpoint, number>>;
  readonly prompt_tokens_total: number;
  readonly generation_tokens_total: number;
}

export type Outcome = 'completed' | 'cancelled' | 'failed' | 'rejected';

const RING_SIZE = 50;

function zeroCounters() {
  return {
    requests_total: 0,
    completed: 0,
    cancelled: 0,
    failed: 0,
    rejected: 0,
    unauthorized: { chat: 0, completions: 0, embeddings: 0, models: 0 } as Record<StatEndpoint, number>,
    metrics_scrapes: 0,
    prompt_tokens_total: 0,
    generation_tokens_total: 0,
    by_endpoint: { chat: 0, completions: 0, embeddings: 0, models: 0 } as Record<StatEndpoint, number>,
  };
}

/** One request's bookkeeping: it ends exactly once, whichever path (finish, abort, fault) gets there first. */
export class RequestLife {
  readonly #stats: StatsRecorder;
  #ended = false;

  constructor(stats: StatsRecorder) {
    this.#stats = stats;
  }

  get ended(): boolean {
    return this.#ended;
  }

  end(outcome: Outcome): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stats.countOutcome(outcome);
  }
}

export class StatsRecorder {
  #counters = zeroCounters();
  #ring: RecordedRequest[] = [];

  /** Counts an inference request and keeps it in the ring buffer. */
  begin(endpoint: StatEndpoint, request: RecordedRequest): RequestLife {
    this.#counters.requests_total++;
    this.#counters.by_endpoint[endpoint]++;
    this.#ring.push(request);
    if (this.#ring.length > RING_SIZE) this.#ring.shift();
    return new RequestLife(this);
  }

  countModels(): void {
    this.#counters.by_endpoint.models++;
  }

  countUnauthorized(endpoint: StatEndpoint): void {
    this.#counters.unauthorized[endpoint]++;
  }

  countOutcome(outcome: Outcome): void {
    this.#counters[outcome]++;
  }

  countTokens(prompt: number, generated: number): void {
    this.#counters.prompt_tokens_total += prompt;
    this.#counters.generation_tokens_total += generated;
  }

  /** Oldest first, newest last. */
  requests(): RecordedRequest[] {
    return [...this.#ring];
  }

  snapshot(gate: ConcurrencyGate): SimStats {
    const c = this.#counters;
    return { ...c, by_endpoint: { ...c.by_endpoint }, unauthorized: { ...c.unauthorized }, in_flight: gate.active, waiting: gate.waiting };
  }

  /** Zeroes the counters and the ring; in_flight and waiting are live and stay as they are. */
  reset(): void {
    this.#counters = zeroCounters();
    this.#ring = [];
  }

  /** Prometheus text with vLLM's metric names, so dashboards and scrapers built for vLLM work. */
  metricsText(gate: ConcurrencyGate): string {
    const c = this.#counters;
    c.metrics_scrapes++;
    const usage = gate.limit === 0 ? 0 : gate.active / gate.limit;
    return [
      metric('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.', gate.active),
      metric('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.', gate.waiting),
      metric('vllm:kv_cache_usage_perc', 'gauge', 'KV-cache usage. 1 means 100 percent usage.', usage),
      metric('vllm:prompt_tokens_total', 'counter', 'Number of prefill tokens processed.', c.prompt_tokens_total),
      metric('vllm:generation_tokens_total', 'counter', 'Number of generation tokens processed.', c.generation_tokens_total),
      metric('vllm:request_success_total', 'counter', 'Count of successfully processed requests.', c.completed),
    ].join('');
  }
}

function metric(name: string, type: 'gauge' | 'counter', help: string, value: number): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
}
