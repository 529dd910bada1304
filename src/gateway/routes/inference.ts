import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, invalidRequest, modelNotFound } from '../../errors/gateway-error.ts';
import { rateLimitHeaders } from '../../limits/headers.ts';
import type { Limiter } from '../../limits/limiter.ts';
import type { Endpoint } from '../../providers/adapter.ts';
import { validateRequest } from '../../protocol/validate/validate.ts';
import { relay, type RelayResult } from '../relay/relay.ts';
import type { Router } from '../routing/router.ts';
import { admit, estimateRequestTokens } from '../admission/limits.ts';
import { mayUseModel, type Principal } from '../admission/principal.ts';

export interface InferenceDeps {
  readonly router: Router;
  readonly limiter: Limiter;
  /** Called once per request that reached an upstream; billing plugs in here. */
  readonly onSettled?: (request: FastifyRequest, result: RelayResult) => void;
}

const ENDPOINT_KIND: Readonly<Record<Endpoint, 'chat' | 'embedding'>> = { chat: 'chat', completions: 'chat', embeddings: 'embedding' };

/** Client headers meant for the upstream; everything else (keys, X-AI-Provider) stays here. */
const FORWARDED_HEADERS = ['x-failover-enabled'] as const;

/**
 * The data-plane pipeline of one inference call, in lifecycle order: validate → admit (model
 * access, limits) → route → relay → release. The key itself was checked in the onRequest hook
 * before the body was read; a rejected request never reaches routing or an upstream.
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
    deps.router.checkProvider(providerHint(request));
    const bodyBytes = Number(request.headers['content-length'] ?? 0);
    const admission = await admit(deps.limiter, principal, estimateRequestTokens(body, bodyBytes, entry.maxOutputTokens));
    let usedTokens = 0;
    try {
      reply.headers(rateLimitHeaders(admission.state));
      usedTokens = await dispatchAndRelay(deps, endpoint, request, reply, body, model);
    } finally {
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

/** Route, relay, report; returns the tokens the request really used (0 if none were billed). */
async function dispatchAndRelay(
  deps: InferenceDeps,
  endpoint: Endpoint,
  request: FastifyRequest,
  reply: FastifyReply,
  body: Record<string, unknown>,
  model: string,
): Promise<number> {
  const deployment = deps.router.pick({ model, endpoint, provider: providerHint(request) });
  try {
    const result = await relay(
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
      (status, payload) => {
        reply.code(status).header('content-type', 'application/json').send(payload);
      },
    );
    deps.onSettled?.(request, result);
    return result.usage === undefined ? 0 : result.usage.promptTokens + result.usage.completionTokens;
  } finally {
    deps.router.release(deployment);
  }
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
