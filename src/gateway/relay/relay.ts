import type { ServerResponse } from 'node:http';
import { GatewayError, UpstreamError } from '../../errors/gateway-error.ts';
import { MAX_RESPONSE_BYTES, type Endpoint, type PushedBody, type UpstreamResponse } from '../../providers/adapter.ts';
import type { Usage } from '../../protocol/usage.ts';
import type { JsonObject } from '../../protocol/validate/validate.ts';
import { SSE_HEADERS } from '../../protocol/sse/writer.ts';
import type { Deployment } from '../routing/catalog.ts';
import { CallTimers } from '../routing/timeouts.ts';
import { ClientGone, dispatch, gatewayTimeout } from './dispatch.ts';
import { normalizeResponse } from './normalize.ts';
import { pumpStream, type StreamEnd } from './pump.ts';
import { pushedBody, readBody } from './read-body.ts';
import type { ResponseContext } from './response-context.ts';
import { StreamTransformer } from './stream-transform.ts';
import { errorInAnswer, readJsonInsteadOfStream, readUpstreamError } from './upstream-error.ts';

/** What the client asked for, read once before the body is rewritten for the first upstream. */
export interface ClientWishes {
  readonly stream: boolean;
  /** Streaming only: whether the client asked for the usage chunk. */
  readonly includeUsage: boolean;
  /** Embeddings only: the client wants base64 (the Node SDK's default). */
  readonly wantsBase64: boolean;
}

export function clientWishes(endpoint: Endpoint, body: JsonObject): ClientWishes {
  const stream = endpoint !== 'embeddings' && body.stream === true;
  return {
    stream,
    includeUsage: stream && (body.stream_options as JsonObject | null | undefined)?.include_usage === true,
    wantsBase64: endpoint === 'embeddings' && body.encoding_format === 'base64',
  };
}

export interface RelayCall {
  readonly endpoint: Endpoint;
  readonly deployment: Deployment;
  /** The validated client body; the relay rewrites it into the upstream body in place (again on each attempt). */
  readonly body: JsonObject;
  readonly wishes: ClientWishes;
  /** Milliseconds this attempt may take at most (what is left of the request's deadline). */
  readonly budgetMs: number;
  readonly requestId: string;
  /** Response headers the gateway adds (x-request-id, rate limits…). */
  readonly responseHeaders: Record<string, string>;
  readonly forwardHeaders: Readonly<Record<string, string>> | undefined;
  /** The client's response; its 'close' before the end aborts the upstream call. */
  readonly res: ServerResponse;
  /** Called just before the relay takes over the socket to stream. */
  readonly startStream: () => void;
}

export interface RelayResult {
  readonly status: number;
  /** What was generated; undefined when the upstream produced nothing billable. */
  readonly usage: Usage | undefined;
  readonly end: StreamEnd | 'complete';
  readonly error: GatewayError | undefined;
  /** Streams: milliseconds until the first byte went to the client. */
  readonly firstByteMs: number | null;
}

export interface RelayHooks {
  /** Sends a complete JSON answer, with extra headers (cost, balance) when given. */
  sendJson(status: number, body: Buffer | string, headers: Readonly<Record<string, string>> | undefined): void;
  /** Non-streaming: runs once usage is known, just before the answer leaves (settlement), returning headers to add. */
  beforeSend?(usage: Usage): Readonly<Record<string, string>> | undefined;
  /** Streaming: the cost (decimal yuan) reported as `usage.cost` in the final usage chunk. */
  costOf?(usage: Usage): string;
}

/**
 * One attempt at one deployment: upstream body, dispatch under the deployment's timers, then
 * either a JSON answer handed to `sendJson` or an SSE stream written straight to the socket.
 * Errors before the first byte reached the client are thrown (the caller may try another
 * deployment or render them); errors after it end the stream with an error event.
 */
export async function relay(call: RelayCall, hooks: RelayHooks): Promise<RelayResult> {
  const { body, deployment, endpoint, wishes } = call;
  const stream = wishes.stream;
  const ctx: ResponseContext = {
    endpoint,
    publicModel: deployment.model,
    request: body,
    includeUsage: wishes.includeUsage,
    wantsBase64: wishes.wantsBase64,
    upstreamModel: deployment.upstreamModel,
    usageHint: deployment,
    costOf: hooks.costOf,
  };
  toUpstreamBody(ctx, body, deployment, stream);

  const abort = new AbortController();
  const onClose = (): void => {
    if (!call.res.writableFinished) abort.abort();
  };
  call.res.on('close', onClose);
  const timers = new CallTimers(abort, deployment.timeouts, call.budgetMs);
  try {
    // The client may have left while its hold was placed: that 'close' has fired already.
    if (call.res.destroyed) throw new ClientGone(undefined);
    const upstream = await dispatch(deployment, {
      endpoint,
      body,
      stream,
      signal: abort.signal,
      requestId: call.requestId,
      headers: call.forwardHeaders,
    });
    if (upstream.status >= 300) {
      throw await readUpstreamError(upstream.status, upstream.headers, upstream.body, deployment);
    }
    if (stream) {
      if (isJson(upstream.headers['content-type'])) throw await readJsonInsteadOfStream(upstream.body, deployment);
      timers.arm('first_token');
      const transformer = new StreamTransformer(ctx);
      const outcome = await pumpStream(streamBody(upstream), call.res, transformer, abort.signal, {
        open() {
          timers.arm('idle');
          call.startStream();
          call.res.writeHead(200, { ...call.responseHeaders, ...SSE_HEADERS });
        },
        read: () => timers.touch(),
        waitingForClient: (waiting) => (waiting ? timers.suspend() : timers.arm('idle')),
        abortError: () => gatewayTimeout(abort.signal, deployment.provider.name),
      });
      // A client that left before the first event: the socket is ours to close, not Fastify's to answer on.
      if (outcome.firstByteMs === undefined) call.startStream();
      // A client that left before anything was generated is billed nothing, as when not streaming
      // (and the prompt is not run through the tokenizer on the event loop for it).
      const usage = outcome.end === 'client_aborted' && transformer.empty ? undefined : transformer.usage();
      return { status: 200, usage, end: outcome.end, error: outcome.error, firstByteMs: outcome.firstByteMs ?? null };
    }
    timers.arm('idle');
    const raw = await readBody(upstream.body, MAX_RESPONSE_BYTES).catch((err: unknown) => {
      throw gatewayTimeout(abort.signal, deployment.provider.name) ??
        (abort.signal.aborted ? err : new UpstreamError('upstream_error', 'The upstream response could not be read.', { cause: err }));
    });
    const quick = endpoint === 'embeddings' ? undefined : deployment.jsonShortcut.passThrough(raw);
    let answer: Buffer | string;
    let usage: Usage;
    if (quick !== undefined) {
      answer = quick.body;
      usage = quick.usage;
    } else {
      const doc = parseJsonObject(raw);
      if (!isAnswer(endpoint, doc)) throw errorInAnswer(doc, deployment);
      const normalized = normalizeResponse(ctx, doc);
      answer = normalized.changed ? JSON.stringify(doc) : raw;
      usage = normalized.usage;
    }
    hooks.sendJson(200, answer, hooks.beforeSend?.(usage));
    return { status: 200, usage, end: 'complete', error: undefined, firstByteMs: null };
  } finally {
    timers.stop();
    call.res.off('close', onClose);
  }
}

/**
 * The upstream body is the client's body with the deployment's model name; streams always ask
 * for usage (the gateway must know what it bills); embeddings are fetched as floats because
 * many engines do not implement base64, and re-encoded for the client.
 */
function toUpstreamBody(ctx: ResponseContext, body: JsonObject, deployment: Deployment, stream: boolean): void {
  body.model = deployment.upstreamModel;
  if (stream) body.stream_options = { ...(body.stream_options as JsonObject | null | undefined), include_usage: true };
  if (ctx.endpoint === 'embeddings') delete body.encoding_format;
}

function streamBody(upstream: UpstreamResponse): PushedBody {
  const body = pushedBody(upstream.body);
  if (body === undefined) throw new UpstreamError('upstream_error', 'The provider adapter answered a streamed call with a buffered body.');
  return body;
}

function isJson(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('application/json');
}

/** Whether a 200's document is an answer at all (and not a platform's error envelope). */
function isAnswer(endpoint: Endpoint, doc: JsonObject): boolean {
  return Array.isArray(endpoint === 'embeddings' ? doc.data : doc.choices);
}

function parseJsonObject(raw: Buffer): JsonObject {
  try {
    const doc: unknown = JSON.parse(raw.toString('utf8'));
    if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) return doc as JsonObject;
  } catch {
    // fall through: reported below as an upstream fault
  }
  throw new UpstreamError('upstream_error', 'The upstream returned a response that is not a JSON object.');
}
