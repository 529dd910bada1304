import type { Readable } from 'node:stream';

/** The OpenAI endpoints an adapter may serve; optional ones are declared in `capabilities`. */
export const ENDPOINTS = ['chat', 'completions', 'embeddings'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

/** Upstream path (relative to the provider's base URL) of each endpoint. */
export const ENDPOINT_PATHS: Readonly<Record<Endpoint, string>> = Object.freeze({
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
});

export interface UpstreamRequest {
  readonly endpoint: Endpoint;
  /** The JSON body to send, already carrying the upstream's model name. */
  readonly body: Record<string, unknown>;
  readonly stream: boolean;
  /** Aborted when the client goes away or a gateway deadline fires; adapters must stop at once. */
  readonly signal: AbortSignal;
  readonly requestId: string;
  /** Client headers that are meant for the upstream (e.g. x-failover-enabled). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /**
   * Raw bytes: a JSON document, or SSE when the request streamed and status is 2xx. Adapters
   * on raw HTTP handlers give a `WholeBody` for answers used only whole and a `PushedBody` for
   * streams; in-process engines may hand over a Node `Readable` for either.
   */
  readonly body: Readable | WholeBody | PushedBody;
}

/**
 * A body the adapter reads to its end itself, for answers used only whole: no stream object
 * and no async iteration per response. `whole` rejects like a stream would (transport error,
 * abort) and refuses more than `MAX_RESPONSE_BYTES`.
 */
export interface WholeBody {
  readonly whole: Promise<Buffer>;
}

/** Where a `PushedBody` delivers: chunks, then exactly one of `end` or `error`. */
export interface BodySink {
  data(chunk: Buffer): void;
  end(): void;
  error(err: unknown): void;
}

/**
 * A streamed body delivered by callbacks as the bytes arrive, with backpressure (`pause` stops
 * reading the upstream socket until `resume`): no Readable and no promise per chunk.
 */
export interface PushedBody {
  /** Starts delivery; chunks that arrived before are delivered first. Call once. */
  consume(sink: BodySink): void;
  pause(): void;
  resume(): void;
  /** Stops the transfer; nothing more is delivered. */
  destroy(): void;
}

/** The most a gateway buffers of one upstream answer. */
export const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** An error answer (status ≥ 300) is read for its message only; adapters stop collecting beyond this. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * One upstream family. Small on purpose: the relay owns everything that is the same for all
 * providers (validation, SSE handling, usage, errors); an adapter only moves a request there and
 * a response back, translating formats when its upstream is not OpenAI-compatible.
 */
export interface ProviderAdapter {
  readonly name: string;
  readonly type: string;
  readonly capabilities: ReadonlySet<Endpoint>;
  send(request: UpstreamRequest): Promise<UpstreamResponse>;
  /**
   * A cheap health request with the provider's credentials (OpenAI-compatible: `GET /models`).
   * Resolves when the upstream answers 2xx; rejects with a `ProbeError` (probe-error.ts)
   * carrying the status, or with the connection error. Optional: without it, only traffic
   * tells the router about this provider.
   */
  probe?(signal: AbortSignal): Promise<void>;
  /**
   * The engine's Prometheus text without a socket, for in-process engines whose deployments
   * have no metrics URL (the simulator). HTTP engines are scraped at `Deployment.metricsUrl`.
   */
  metricsText?(signal: AbortSignal): Promise<string>;
  close(): Promise<void>;
}
