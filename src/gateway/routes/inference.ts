import type { FastifyReply, FastifyRequest } from 'fastify';
import { formatYuan } from '../../billing/money.ts';
import type { BillingStore, UsageStatus } from '../../billing/types.ts';
import { GatewayError, invalidRequest, modelNotFound } from '../../errors/gateway-error.ts';
import { toGatewayError } from '../../errors/to-openai.ts';
import { rateLimitHeaders } from '../../limits/headers.ts';
import type { Limiter } from '../../limits/limiter.ts';
import type { Endpoint } from '../../providers/adapter.ts';
import { estimateTokensFromBytes } from '../../protocol/tokens.ts';
import { validateRequest, type JsonObject } from '../../protocol/validate/validate.ts';
import { admit, estimateRequestTokens, maxOutputTokens } from '../admission/limits.ts';
import { mayUseModel, type Principal } from '../admission/principal.ts';
import { relay, type RelayResult } from '../relay/relay.ts';
import type { Deployment } from '../routing/catalog.ts';
import type { Router } from '../routing/router.ts';
import { BillingSession } from '../settlement/billing-session.ts';

export interface InferenceDeps {
  readonly router: Router;
  readonly limiter: Limiter;
  /** Undefined when billing is switched off (benchmarks, free deployments). */
  readonly billing: BillingStore | undefined;
}

const ENDPOINT_KIND: Readonly<Record<Endpoint, 'chat' | 'embedding'>> = { chat: 'chat', completions: 'chat', embeddings: 'embedding' };

/** Client headers meant for the upstream; everything else (keys, X-AI-Provider) stays here. */
const FORWARDED_HEADERS = ['x-failover-enabled'] as const;

/**
 * The data-plane pipeline of one inference call, in lifecycle order: validate → admit (model
 * access, limits) → route → hold → relay → settle → release. The key itself was checked in the
 * onRequest hook before the body was read; a rejected request never reaches an upstream.
 */
export function inferenceHandler(deps: InferenceDeps, endpoint: Endpoint) {
  return async function handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const principal = dataPlanePrincipal(request);
    const body = validateRequest(endpoint, request.body);
    const model = body.model as string;
    const entry = deps.router.models.get(model);
    if (entry === undefined || !mayUseModel(principal, model)) throw modelNotFound(model);
    if (entry.kind !== ENDPOINT_KIND[endpoint]) {
      throw invalidRequest(`The model '${model}' is an ${entry.kind} model and does not support this endpoint.`, 'model');
    }
    const provider = providerHint(request);
    deps.router.checkProvider(provider);
    const bodyBytes = Number(request.headers['content-length'] ?? 0);
    const admission = await admit(deps.limiter, principal, estimateRequestTokens(body, bodyBytes, entry.maxOutputTokens));
    let usedTokens = 0;
    const deployment = deps.router.pick({ model, endpoint, provider });
    try {
      reply.headers(rateLimitHeaders(admission.state));
      const session = deps.billing === undefined ? undefined : await BillingSession.open(deps.billing, {
        requestId: request.id,
        accountId: principal.accountId!,
        keyId: principal.keyId,
        deployment,
        estimatedPromptTokens: estimateTokensFromBytes(bodyBytes),
        maxOutputTokens: maxOutputTokens(body, entry.maxOutputTokens),
      });
      const result = await relayAndSettle(endpoint, request, reply, body, deployment, session);
      usedTokens = result.usage === undefined ? 0 : result.usage.promptTokens + result.usage.completionTokens;
    } finally {
      deps.router.release(deployment);
      admission.release(usedTokens);
    }
  };
}

function dataPlanePrincipal(request: FastifyRequest): Principal {
  const principal = request.principal;
  if (principal === undefined || principal.role !== 'user') {
    throw new GatewayError('permission_denied', 'The admin key manages the gateway; call the API with an account key.');
  }
  return principal;
}

const STREAM_END_STATUS: Readonly<Record<RelayResult['end'], UsageStatus>> = { complete: 'ok', client_aborted: 'aborted', upstream_failed: 'cut' };

/** Relays, then settles exactly once: billed for what was generated, nothing when nothing was. */
async function relayAndSettle(
  endpoint: Endpoint,
  request: FastifyRequest,
  reply: FastifyReply,
  body: JsonObject,
  deployment: Deployment,
  session: BillingSession | undefined,
): Promise<RelayResult> {
  let result: RelayResult;
  try {
    result = await relay(
      {
        endpoint,
        deployment,
        body,
        requestId: request.id,
        responseHeaders: reply.getHeaders() as Record<string, string>,
        forwardHeaders: forwardedHeaders(request),
        res: reply.raw,
        // From here on the relay writes to the socket itself; Fastify must not touch the reply.
        startStream: () => reply.hijack(),
      },
      {
        sendJson(status, payload, headers) {
          if (headers) reply.headers(headers);
          reply.code(status).header('content-type', 'application/json').send(payload);
        },
        beforeSend: session && ((usage) => session.settleForHeaders(usage).catch(() => undefined)),
        costOf: session && ((usage) => formatYuan(session.cost(usage))),
      },
    );
  } catch (err) {
    // Failed before an answer: nothing was generated that the client received, nothing is billed.
    await session?.settle(undefined, reply.raw.destroyed ? 'aborted' : 'error', toGatewayError(err).status, null).catch(() => undefined);
    throw err;
  }
  await session?.settle(result.usage, STREAM_END_STATUS[result.end], result.status, result.firstByteMs);
  return result;
}

function providerHint(request: FastifyRequest): string | undefined {
  const value = request.headers['x-ai-provider'];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function forwardedHeaders(request: FastifyRequest): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const name of FORWARDED_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string') (out ??= {})[name] = value;
  }
  return out;
}
