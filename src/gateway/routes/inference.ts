import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, invalidRequest, modelNotFound } from '../../errors/gateway-error.ts';
import { rateLimitHeaders } from '../../limits/headers.ts';
import type { Admitted, Limiter } from '../../limits/limiter.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Endpoint } from '../../providers/adapter.ts';
import { validateRequest } from '../../protocol/validate/validate.ts';
import { admit, estimatePromptTokens, impliedOutputCap, maxOutputTokens } from '../admission/limits.ts';
import { mayUseModel, type Principal } from '../admission/principal.ts';
import { clientWishes } from '../relay/relay.ts';
import { billingIdOf } from '../request-id.ts';
import type { Billing } from '../settlement/billing-session.ts';
import type { Route, Router } from '../routing/router.ts';
import { relayWithFailover } from './failover.ts';
import { providerHint } from './provider-hint.ts';
import type { InFlight } from '../in-flight.ts';

export interface InferenceDeps {
  readonly router: Router;
  readonly limiter: Limiter;
  /** Undefined when billing is switched off (benchmarks, free deployments). */
  readonly billing: Billing | undefined;
  /** Deployments tried per request, the first included. */
  readonly attempts: number;
  readonly logger: Logger;
  /** Calls running, which shutdown waits for (in-flight.ts). */
  readonly inFlight: InFlight;
}

const ENDPOINT_KIND: Readonly<Record<Endpoint, 'chat' | 'embedding'>> = { chat: 'chat', completions: 'chat', embeddings: 'embedding' };

/** Client headers meant for the upstream; everything else (keys, X-AI-Provider) stays here. */
const FORWARDED_HEADERS = ['x-failover-enabled'] as const;

/** Which URL shape the request came by: the model from the body, from `/maas/{model}/{chip}/…`, or `/maas/deployment/{id}/…`. */
export type RouteShape = 'model' | 'chip' | 'deployment';

/**
 * The data-plane pipeline of one inference call, in lifecycle order: validate → resolve the
 * route → admit (model access, limits) → attempts (pick, hold, relay, settle, release; failover
 * between them) → release the admission. The key itself was checked in the onRequest hook
 * before the body was read; a rejected request never reaches an upstream.
 */
export function inferenceHandler(deps: InferenceDeps, endpoint: Endpoint, shape: RouteShape = 'model') {
  return async function handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    deps.inFlight.enter();
    let admission: Admitted | undefined;
    let usedTokens = 0;
    try {
      const principal = dataPlanePrincipal(request);
      const params = request.params as { model?: string; chip?: string; id?: string };
      // The path names the model (or deployment); a body may omit it or name it differently.
      if (shape !== 'model' && isObject(request.body)) request.body.model = shape === 'chip' ? params.model : params.id;
      const body = validateRequest(endpoint, request.body);
      const route = deps.router.resolve({
        model: body.model as string,
        endpoint,
        provider: providerHint(request),
        chip: shape === 'chip' ? params.chip : undefined,
        deploymentId: shape === 'deployment' ? params.id : undefined,
        accountId: principal.accountId!,
      });
      checkModelAccess(principal, route, endpoint);
      const bodyBytes = bodyLength(request);
      const modelCap = route.entry?.maxOutputTokens;
      const wishes = clientWishes(endpoint, body);
      const promptTokens = estimatePromptTokens(endpoint, body, bodyBytes);
      const outputTokens = maxOutputTokens(endpoint, body, modelCap);
      admission = await admit(deps.limiter, principal, promptTokens + outputTokens);
      reply.headers(rateLimitHeaders(admission.state));
      const result = await relayWithFailover(deps, {
        request,
        reply,
        route,
        body,
        wishes,
        accountId: principal.accountId!,
        keyId: principal.keyId,
        billingId: billingIdOf(request),
        estimatedPromptTokens: promptTokens,
        maxOutputTokens: outputTokens,
        impliedOutputCap: impliedOutputCap(endpoint, body, modelCap),
        forwardHeaders: forwardedHeaders(request),
      });
      usedTokens = result.usage === undefined ? 0 : result.usage.promptTokens + result.usage.completionTokens;
    } finally {
      admission?.release(usedTokens);
      deps.inFlight.leave();
    }
  };
}

/** Plan and key allowlists govern the platform's models; an account's own deployment is always its own to call. */
function checkModelAccess(principal: Principal, route: Route, endpoint: Endpoint): void {
  const entry = route.entry;
  if (entry === undefined) return;
  if (!mayUseModel(principal, entry.id)) throw modelNotFound(entry.id);
  if (entry.kind !== ENDPOINT_KIND[endpoint]) {
    throw invalidRequest(`The model '${entry.id}' is ${entry.kind === 'chat' ? 'a chat' : 'an embedding'} model and does not support this endpoint.`, 'model');
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function dataPlanePrincipal(request: FastifyRequest): Principal {
  const principal = request.principal;
  if (principal === undefined || principal.role !== 'user') {
    throw new GatewayError('permission_denied', 'The admin key manages the gateway; call the API with an account key.');
  }
  return principal;
}

/** The body's size: its Content-Length, or, sent chunked without one, measured (rare: the SDKs send it). */
function bodyLength(request: FastifyRequest): number {
  const declared = request.headers['content-length'];
  return declared !== undefined ? Number(declared) : Buffer.byteLength(JSON.stringify(request.body));
}

function forwardedHeaders(request: FastifyRequest): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const name of FORWARDED_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string') (out ??= {})[name] = value;
  }
  return out;
}
