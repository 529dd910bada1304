import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type HookHandlerDoneFunction } from 'fastify';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config/load.ts';
import { GatewayError } from './errors/gateway-error.ts';
import { serializeError, toGatewayError } from './errors/to-openai.ts';
import type { Authenticator } from './gateway/admission/authenticator.ts';
import { extractApiKey } from './gateway/admission/credentials.ts';
import { requestIdOf } from './gateway/request-id.ts';
import type { Principal } from './gateway/admission/principal.ts';
import { inferenceHandler } from './gateway/routes/inference.ts';
import { billingOn } from './gateway/settlement/billing-session.ts';
import type { BillingStore } from './billing/types.ts';
import { modelRoutes } from './gateway/routes/models.ts';
import type { Router } from './gateway/routing/router.ts';
import type { Limiter } from './limits/limiter.ts';
import { rateLimitHeaders } from './limits/headers.ts';
import type { Tenancy } from './admin/tenancy.ts';
import { registerAdminRoutes, registerOwnerRoutes } from './admin/routes.ts';
import { registerBillingRoutes } from './admin/billing-routes.ts';
import { registerDeploymentRoutes } from './admin/deployment-routes.ts';
import type { PrivateDeployments } from './gateway/routing/private-deployments.ts';
import { answerClientError } from './http/client-errors.ts';
import { EMPTY_BODY, UNPARSABLE_BODY } from './protocol/validate/validate.ts';
import type { InFlight } from './gateway/in-flight.ts';
import { CorsPolicy } from './http/cors.ts';
import { WrongMethods } from './http/wrong-method.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

export interface ServerDeps {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly router: Router;
  readonly authenticator: Authenticator;
  readonly limiter: Limiter;
  readonly tenancy: Tenancy;
  /** Undefined when billing is switched off. */
  readonly billing: BillingStore | undefined;
  /** Accounts' own engines (/maas/v1/deployments) and the admin view of all deployments. */
  readonly privateDeployments?: PrivateDeployments;
  /** Inference calls running (shutdown waits for them). */
  readonly inFlight: InFlight;
}

/** Path prefixes of the OpenAI-compatible API: OpenAI's own and Infini-AI's `/maas/v1`. */
export const API_PREFIXES = ['/v1', '/maas/v1'] as const;

const INFERENCE_PATHS = [
  ['/chat/completions', 'chat'],
  ['/completions', 'completions'],
  ['/embeddings', 'embeddings'],
] as const;

/** Builds the Fastify instance and registers the planes; no business logic lives here. */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Fastify's own per-request lines are off: the access log (opt-in) is one line we control.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.config.server.bodyLimit,
    requestIdHeader: false,
    genReqId: requestIdOf,
    // Our own 503 while draining (below): Fastify's has neither our error shape nor x-request-id.
    return503OnClosing: false,
    keepAliveTimeout: 75_000,
    routerOptions: { ignoreTrailingSlash: true },
    // One logger for all requests: a pino child per request costs an allocation on the hot
    // path, and every log call here names the request id itself.
    childLoggerFactory: (logger) => logger,
    clientErrorHandler: answerClientError,
    // A URL that cannot be decoded (`%ZZ`) never reaches a route or a hook.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id);
      renderError(error, request, reply);
    },
  });
  const cors = new CorsPolicy(deps.config.server.corsOrigins);
  const wrongMethods = new WrongMethods(app);
  app.decorateRequest('principal', undefined);
  installJsonParser(app);
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // Hooks on every request take `done` rather than returning a promise: no promise and no
  // microtask hop per hook on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    const origin = request.headers.origin;
    if (origin !== undefined) cors.decorate(origin, reply);
    if (!closing) return done();
    // A request that came on a kept-alive connection while in-flight work drains.
    reply.header('connection', 'close');
    done(new GatewayError('service_unavailable', 'The gateway is shutting down; retry (another instance will answer).', { retryAfter: 1 }));
  });
  app.setErrorHandler(renderError);
  app.setNotFoundHandler((request, reply) => {
    renderError(new GatewayError('not_found', `Unknown request URL: ${request.method} ${request.url.split('?')[0]}.`), request, reply);
  });
  if (deps.config.server.accessLog) installAccessLog(app);

  app.register(async (api) => {
    api.addHook('onRequest', identify(deps.authenticator, deps.limiter));
    const models = modelRoutes(deps.router);
    const inference = { router: deps.router, limiter: deps.limiter, billing: deps.billing && billingOn(deps.billing), attempts: deps.config.routing.attempts, logger: deps.logger, inFlight: deps.inFlight };
    registerOwnerRoutes(api, deps.tenancy, '/maas/v1');
    registerAdminRoutes(api, deps.tenancy);
    if (deps.billing !== undefined) registerBillingRoutes(api, deps.billing, deps.tenancy);
    if (deps.privateDeployments !== undefined) registerDeploymentRoutes(api, { router: deps.router, deployments: deps.privateDeployments });
    for (const prefix of API_PREFIXES) {
      api.post(`${prefix}/chat/completions`, inferenceHandler(inference, 'chat'));
      api.post(`${prefix}/completions`, inferenceHandler(inference, 'completions'));
      api.post(`${prefix}/embeddings`, inferenceHandler(inference, 'embeddings'));
      api.get(`${prefix}/models`, models.list);
      api.get(`${prefix}/models/*`, models.retrieve);
    }
    for (const [path, endpoint] of INFERENCE_PATHS) {
      // Seed 002's M×N route (one model on one chip) and a single deployment, by id.
      api.post(`/maas/:model/:chip${path}`, inferenceHandler(inference, endpoint, 'chip'));
      api.post(`/maas/deployment/:id${path}`, inferenceHandler(inference, endpoint, 'deployment'));
    }
  });
  app.get('/health', async (_request, reply) => {
    reply.header('content-type', 'application/json').send('{"status":"ok"}');
  });
  wrongMethods.seal(app, (request, reply, allow) => cors.preflight(request, reply, allow));
  return app;
}

/**
 * Who is calling: the key is checked before the body is read, and every response to an account
 * key carries its rate-limit state, as OpenAI's do (inference routes overwrite it with the state
 * after their own admission). The key table and the limiter answer synchronously from memory;
 * a promise only when they must ask the store (an unknown key) or another process.
 */
function identify(authenticator: Authenticator, limiter: Limiter) {
  return function identifyCaller(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const key = extractApiKey(request.headers);
    if (key === undefined) {
      return done(new GatewayError('invalid_token', 'Missing API key. Send it as "Authorization: Bearer <key>" or "X-API-Key: <key>".'));
    }
    let principal: Principal | Promise<Principal>;
    try {
      principal = authenticator.authenticate(key);
    } catch (err) {
      return done(err as Error);
    }
    if (principal instanceof Promise) principal.then((known) => withLimits(known, request, reply, limiter, done), done);
    else withLimits(principal, request, reply, limiter, done);
  };
}

function withLimits(principal: Principal, request: FastifyRequest, reply: FastifyReply, limiter: Limiter, done: HookHandlerDoneFunction): void {
  request.principal = principal;
  if (principal.role !== 'user') return done();
  const state = limiter.peek(principal.keyId, principal.policy);
  if (!(state instanceof Promise)) {
    reply.headers(rateLimitHeaders(state));
    return done();
  }
  state.then((known) => {
    reply.headers(rateLimitHeaders(known));
    done();
  }, done);
}

/**
 * JSON bodies for every content type: curl's `-d` sends form-urlencoded by default, and a
 * gateway that answers 415 to that only annoys. Plain JSON.parse: bodies are passed through,
 * never merged into objects, so prototype-poisoning keys are inert here.
 */
function installJsonParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, text, done) => {
    if ((text as string).length === 0) return done(null, EMPTY_BODY);
    try {
      done(null, JSON.parse(text as string));
    } catch {
      // The body was read whole; the 400 comes from the route's validation, on an open connection.
      done(null, UNPARSABLE_BODY);
    }
  });
}

export function renderError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const err = toGatewayError(error);
  if (err.status >= 500) request.log.warn({ err: error, code: err.code, reqId: request.id }, 'request failed');
  if (reply.sent || reply.raw.headersSent) return;
  reply.code(err.status);
  if (err.retryAfter !== undefined) {
    reply.header('retry-after', String(err.retryAfter));
    // The SDKs prefer the millisecond form; a more precise one in err.headers wins below.
    reply.header('retry-after-ms', String(err.retryAfter * 1000));
  }
  if (err.headers) reply.headers(err.headers);
  reply.header('content-type', 'application/json').send(serializeError(err));
}

function installAccessLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { reqId: request.id, method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 },
      'request',
    );
  });
}
