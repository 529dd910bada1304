import { randomBytes } from 'node:crypto';

/** Longer client ids are ignored (a fresh one is generated): they end up in logs and headers. */
const MAX_CLIENT_ID_LENGTH = 200;

/** A random per-process prefix and a counter: unique across processes, `req_<32 hex>` like OpenAI's, and cheap. */
const PREFIX = `req_${randomBytes(8).toString('hex')}`;
let counter = 0;

export function newRequestId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return PREFIX + counter.toString(16).padStart(16, '0');
}

function clientRequestId(headers: Record<string, string | string[] | undefined>): string | undefined {
  const given = headers['x-request-id'];
  return typeof given === 'string' && given.length > 0 && given.length <= MAX_CLIENT_ID_LENGTH ? given : undefined;
}

/** The id a request is logged and answered under (`x-request-id`): the client's own if it sent one. */
export function requestIdOf(req: { headers: Record<string, string | string[] | undefined> }): string {
  return clientRequestId(req.headers) ?? newRequestId();
}

/**
 * The id the request's money is recorded under. A client may send the same `x-request-id` twice
 * (its retries, a fixed value, by mistake), but every billed request needs its own hold and
 * usage record: a client-chosen id is therefore never a billing key; the gateway's own is.
 */
export function billingIdOf(req: { readonly id: string; headers: Record<string, string | string[] | undefined> }): string {
  return clientRequestId(req.headers) === req.id ? newRequestId() : req.id;
}
