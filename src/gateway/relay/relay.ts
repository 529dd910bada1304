import type { ServerResponse } from 'node:http';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { Endpoint } from '../../providers/adapter.ts';
import type { Usage } from '../../protocol/usage.ts';
import type { JsonObject } from '../../protocol/validate/validate.ts';
import { SSE_HEADERS } from '../../protocol/sse/writer.ts';
import type { Deployment } from '../routing/catalog.ts';
import { DeadlineExceeded, dispatch } from './dispatch.ts';
import { normalizeResponse } from './normalize.ts';
import { pumpStream, type StreamEnd } from './pump.ts';
import { readBody } from './read-body.ts';
import type { ResponseContext } from './response-context.ts';
import { StreamTransformer } from './stream-transform.ts';
import { readUpstreamError } from './upstream-error.ts';

const RESPONSE_BODY_LIMIT = 256 * 1024 * 1024;

export interface RelayCall {
  readonly endpoint: Endpoint;
  readonly deployment: Deployment;
  /** The validated client body; the relay rewrites it into the upstream body in place. */
  readonly body: JsonObject;
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
  /** Non-streaming: runs once usage is known and before the answer leaves (settlement), returning headers to add. */
  beforeSend?(usage: Usage): Promise<Readonly<Record<string, string>> | undefined>;
  /** Streaming: the cost (decimal yuan) reported as `usage.cost` in the final usage chunk. */
  costOf?(usage: Usage): string;
}

/**
 * The relay phase: upstream body, dispatch under a deadline, then either a JSON answer handed
 * to `sendJson` or an SSE stream written straight to the socket. Errors before the first byte
 * are thrown (the route renders them); errors after it end the stream with an error event.
 */
export async function relay(call: RelayCall, hooks: RelayHooks): Promise<RelayResult> {
  const { body, deployment, endpoint } = call;
  const stream = endpoint !== 'embeddings' && body.stream === true;
  const ctx: ResponseContext = {
    endpoint,
    publicModel: deployment.model,
    request: body,
    includeUsage: stream && (body.stream_options as JsonObject | null | undefined)?.include_usage === true,
    wantsBase64: endpoint === 'embeddings' && body.encoding_format === 'base64',
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
  const deadline = setTimeout(() => abort.abort(new DeadlineExceeded()), deployment.deadlineMs);
  try {
    const upstream = await dispatch(deployment, {
      endpoint,
      body,
      stream,
      signal: abort.signal,
      requestId: call.requestId,
      headers: call.forwardHeaders,
    });
    if (upstream.status >= 300) {
      throw await readUpstreamError(upstream.status, upstream.headers, upstream.body, deployment.provider.name);
    }
    if (stream) {
      call.startStream();
      call.res.writeHead(200, { ...call.responseHeaders, ...SSE_HEADERS });
      call.res.flushHeaders();
      const transformer = new StreamTransformer(ctx);
      const outcome = await pumpStream(upstream.body, call.res, transformer, abort.signal);
      return { status: 200, usage: transformer.usage(), end: outcome.end, error: outcome.error, firstByteMs: outcome.firstByteMs ?? null };
    }
    const raw = await readBody(upstream.body, RESPONSE_BODY_LIMIT).catch((err: unknown) => {
      throw abort.signal.aborted ? err : new GatewayError('upstream_error', 'The upstream response could not be read.', { cause: err });
    });
    const quick = endpoint === 'embeddings' ? undefined : deployment.jsonShortcut.passThrough(raw);
    let answer: Buffer | string;
    let usage: Usage;
    if (quick !== undefined) {
      answer = quick.body;
      usage = quick.usage;
    } else {
      const doc = parseJsonObject(raw);
      const normalized = normalizeResponse(ctx, doc);
      answer = normalized.changed ? JSON.stringify(doc) : raw;
      usage = normalized.usage;
    }
    hooks.sendJson(200, answer, await hooks.beforeSend?.(usage));
    return { status: 200, usage, end: 'complete', error: undefined, firstByteMs: null };
  } finally {
    clearTimeout(deadline);
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

function parseJsonObject(raw: Buffer): JsonObject {
  try {
    const doc: unknown = JSON.parse(raw.toString('utf8'));
    if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) return doc as JsonObject;
  } catch {
    // fall through: reported below as an upstream fault
  }
  throw new GatewayError('upstream_error', 'The upstream returned a response that is not a JSON object.');
}
