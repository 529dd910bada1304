import { Readable } from 'node:stream';
import { SSE_HEADERS } from '../../protocol/sse/writer.ts';
import type { UpstreamResponse } from '../adapter.ts';
import { SimDropError, renderError, type ErrorFormat } from './errors.ts';

/**
 * What the engine answers. It is an UpstreamResponse (the in-process adapter hands it to the
 * relay as is) plus two hints for the HTTP server, which keep its hot path free of streams for
 * whole bodies and let it drop a connection without sending headers.
 */
export interface SimResponse extends UpstreamResponse {
  /** Always a stream: the HTTP server and the in-process adapter pipe it. */
  readonly body: Readable;
  /** The whole body, when it is not a stream. */
  readonly payload?: string;
  /** Fault: close the connection without answering. */
  readonly drop?: boolean;
}

type Headers = Record<string, string>;

function baseHeaders(contentType: string, requestId: string | undefined): Headers {
  return requestId === undefined ? { 'content-type': contentType } : { 'content-type': contentType, 'x-request-id': requestId };
}

/** A whole body. The Readable is only built if someone asks for it (the HTTP server does not). */
export function payloadResponse(status: number, contentType: string, payload: string, requestId: string | undefined): SimResponse {
  let body: Readable | undefined;
  return {
    status,
    headers: baseHeaders(contentType, requestId),
    payload,
    get body(): Readable {
      body ??= Readable.from([Buffer.from(payload)], { objectMode: false });
      return body;
    },
  };
}

export function jsonResponse(status: number, json: string, requestId: string | undefined): SimResponse {
  return payloadResponse(status, 'application/json', json, requestId);
}

export function errorResponse(format: ErrorFormat, status: number, message: string, param: string | null, requestId: string | undefined, httpStatus = status): SimResponse {
  const rendered = renderError(format, status, message, param);
  return payloadResponse(httpStatus, rendered.contentType, rendered.text, requestId);
}

export function streamResponse(body: Readable, requestId: string | undefined): SimResponse {
  const headers: Headers = { ...SSE_HEADERS };
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  return { status: 200, headers, body };
}

/** The drop fault on a non-streaming request: in process, a body that fails on first read. */
export function dropResponse(requestId: string | undefined): SimResponse {
  const body = new Readable({
    read() {
      this.destroy(new SimDropError(0));
    },
  });
  return { status: 200, headers: baseHeaders('application/json', requestId), body, drop: true };
}
