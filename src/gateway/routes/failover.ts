import type { FastifyReply, FastifyRequest } from 'fastify';
import { formatYuan } from '../../billing/money.ts';
import type { UsageStatus } from '../../billing/types.ts';
import { GatewayError, UpstreamError } from '../../errors/gateway-error.ts';
import { toGatewayError } from '../../errors/to-openai.ts';
import type { Logger } from '../../observability/logger.ts';
import type { JsonObject } from '../../protocol/validate/validate.ts';
import { ClientGone } from '../relay/dispatch.ts';
import { relay, type ClientWishes, type RelayResult } from '../relay/relay.ts';
import type { Deployment } from '../routing/catalog.ts';
import { classifyFailure, failureReason } from '../routing/failure.ts';
import type { Route, Router } from '../routing/router.ts';
import { BillingSession, type Billing } from '../settlement/billing-session.ts';

export interface AttemptDeps {
  readonly router: Router;
  /** Undefined when billing is switched off. */
  readonly billing: Billing | undefined;
  /** Deployments tried per request, the first included. */
  readonly attempts: number;
  readonly logger: Logger;
}

export interface AttemptRequest {
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  readonly route: Route;
  readonly body: JsonObject;
  readonly wishes: ClientWishes;
  readonly accountId: string;
  readonly keyId: string;
  /** The request's id in the billing records (request-id.ts: never one a client chose). */
  readonly billingId: string;
  /** The prompt's size in tokens, estimated before dispatch (the hold's input part). */
  readonly estimatedPromptTokens: number;
  readonly maxOutputTokens: number;
  /** The cap the hold assumed for a request that named none (admission/limits.ts). */
  readonly impliedOutputCap: number | undefined;
  /** Client headers meant for the upstream. */
  readonly forwardHeaders: Readonly<Record<string, string>> | undefined;
}

const STREAM_END_STATUS: Readonly<Record<RelayResult['end'], UsageStatus>> = { complete: 'ok', client_aborted: 'aborted', upstream_failed: 'cut' };

/**
 * Sends a request to the route's deployments until one answers: each attempt picks a
 * deployment not tried yet, holds the money at that deployment's price, relays, and settles.
 * A failure before the first byte reached the client is retried elsewhere when its class says
 * another deployment may succeed, within the attempt count and the first deployment's total
 * deadline; once bytes went out, never. Every attempt that reached an upstream leaves its own
 * usage record (retries as `<request id>-2`, `-3`…), so the ledger sees every upstream call.
 */
export async function relayWithFailover(deps: AttemptDeps, call: AttemptRequest): Promise<RelayResult> {
  const tried = new Set<Deployment>();
  const started = Date.now();
  let deadline = Infinity;
  let lastError: GatewayError | undefined;
  let allRateLimited = true;
  for (let attempt = 1; attempt <= deps.attempts; attempt++) {
    const budgetMs = deadline - Date.now();
    if (budgetMs <= 0 || call.reply.raw.destroyed) break;
    const deployment = deps.router.pick(call.route, tried);
    if (deployment === undefined) break;
    // Half-open right after the pick: this attempt is the deployment's one trial.
    const trial = deployment.health.state === 'half_open';
    tried.add(deployment);
    if (deadline === Infinity) deadline = started + deployment.timeouts.totalMs;
    const attemptStarted = performance.now();
    try {
      const result = await attemptOnce(deps, call, deployment, attempt, Math.min(budgetMs, deployment.timeouts.totalMs));
      if (result.end === 'upstream_failed') deployment.health.failed('transient', failureReason(result.error), Date.now());
      else if (result.end === 'complete') deployment.health.succeeded(performance.now() - attemptStarted);
      return result;
    } catch (err) {
      const failure = classifyFailure(err);
      if (failure.kind !== undefined) recordFailure(deps.logger, deployment, failure.kind, err, call.request.id);
      if (!failure.retryable || call.reply.raw.destroyed) throw err;
      lastError = toGatewayError(err);
      if ((err as UpstreamError).upstreamStatus !== 429) allRateLimited = false;
    } finally {
      deps.router.release(deployment, trial);
    }
  }
  // A client that left is told nothing; its request is no upstream's failure (nor a 504 in the log).
  if (call.reply.raw.destroyed) throw lastError ?? new ClientGone(undefined);
  throw exhausted(lastError, allRateLimited, tried.size);
}

async function attemptOnce(deps: AttemptDeps, call: AttemptRequest, deployment: Deployment, attempt: number, budgetMs: number): Promise<RelayResult> {
  const { request, reply } = call;
  reply.header('x-maas-deployment', deployment.headerId);
  const session = deps.billing === undefined ? undefined : await BillingSession.open(deps.billing, {
    requestId: attempt === 1 ? call.billingId : `${call.billingId}-${attempt}`,
    accountId: call.accountId,
    keyId: call.keyId,
    deployment,
    estimatedPromptTokens: call.estimatedPromptTokens,
    maxOutputTokens: call.maxOutputTokens,
  });
  capOutput(call, session !== undefined && deployment.priceSnapshot !== null);
  let result: RelayResult;
  try {
    result = await relay(
      {
        endpoint: call.route.endpoint,
        deployment,
        body: call.body,
        wishes: call.wishes,
        budgetMs,
        requestId: request.id,
        responseHeaders: reply.getHeaders() as Record<string, string>,
        forwardHeaders: call.forwardHeaders,
        res: reply.raw,
        // From here on the relay writes to the socket itself; Fastify must not touch the reply.
        startStream: () => reply.hijack(),
      },
      {
        sendJson(status, payload, headers) {
          if (headers) reply.headers(headers);
          reply.code(status).header('content-type', 'application/json').send(payload);
        },
        beforeSend: session && ((usage) => session.settleForHeaders(usage)),
        costOf: session && ((usage) => formatYuan(session.cost(usage))),
      },
    );
  } catch (err) {
    // Failed before an answer: nothing the client received was generated, nothing is billed.
    if (session !== undefined) await settleOrReport(deps.logger, request.id, session.settle(undefined, reply.raw.destroyed ? 'aborted' : 'error', toGatewayError(err).status, null));
    throw err;
  }
  if (session !== undefined) await settleOrReport(deps.logger, request.id, session.settle(result.usage, STREAM_END_STATUS[result.end], result.status, result.firstByteMs));
  return result;
}

/**
 * A request that named no output cap gets the one its hold assumed where it is held at a price;
 * a free deployment (an account's own engine, say) keeps the engine's own limit. The body is
 * shared by the attempts, so a cap set for a priced attempt is taken back for a free one.
 */
function capOutput(call: AttemptRequest, held: boolean): void {
  if (call.impliedOutputCap === undefined) return;
  if (held) call.body.max_tokens = call.impliedOutputCap;
  else delete call.body.max_tokens;
}

/**
 * A settlement that fails (the store is unreachable or full) must not turn an answer the client
 * already has into an error: its hold stays open, the request stays billable, and the next
 * start's recovery charges it at the held amount. That is worth an operator's attention.
 */
async function settleOrReport(logger: Logger, requestId: string, settlement: Promise<unknown>): Promise<void> {
  try {
    await settlement;
  } catch (err) {
    logger.error({ err, reqId: requestId }, 'settlement failed: the hold stays open and is charged at its held amount when the gateway next starts');
  }
}

function recordFailure(logger: Logger, deployment: Deployment, kind: 'transient' | 'auth', err: unknown, requestId: string): void {
  const before = deployment.health.state;
  const reason = failureReason(err);
  deployment.health.failed(kind, reason, Date.now());
  const after = deployment.health.state;
  if (after !== before) logger.warn({ deployment: deployment.id, state: after, reason, reqId: requestId }, 'deployment health changed');
}

/**
 * The answer when every attempt failed: the last upstream error as it was, except that a 429
 * is only reported when all attempts were rate limited (otherwise 502: the platform failed,
 * not the caller's quota).
 */
function exhausted(last: GatewayError | undefined, allRateLimited: boolean, tried: number): GatewayError {
  if (last === undefined) return new GatewayError('upstream_timeout', 'The request ran out of time before any deployment answered.');
  if (last.code === 'rate_limit_exceeded' && !allRateLimited) {
    return new UpstreamError('upstream_error', `All ${tried} deployments failed; the last one was rate limited: ${last.message}`);
  }
  return last;
}
