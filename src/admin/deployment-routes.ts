import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { GatewayError, invalidRequest } from '../errors/gateway-error.ts';
import type { PrivateDeployments } from '../gateway/routing/private-deployments.ts';
import type { Router } from '../gateway/routing/router.ts';
import { validateBody } from '../protocol/validate/validate.ts';
import type { DeploymentRecord } from '../store/repositories/deployments.ts';
import { presentAdminDeployment, presentOwnDeployment, viewOfDeployment, viewOfRecord, type DeploymentView } from './deployment-view.ts';
import { list } from './present.ts';

/** `POST /maas/v1/deployments`: an account registers its own OpenAI-compatible engine. Strict: a typo is an error. */
const CreateDeploymentBody = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 200 }),
    base_url: Type.String({ minLength: 1, maxLength: 2000 }),
    api_key: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 4096 }), Type.Null()])),
    upstream_model: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()])),
    chip: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
  },
  { additionalProperties: false },
);
const checkCreate = TypeCompiler.Compile(CreateDeploymentBody);

/**
 * These end up in upstream request headers (the api key), in logs, tables and CSV exports: a
 * line break or another control character in them is refused now rather than failing every call.
 */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function requirePrintable(body: Static<typeof CreateDeploymentBody>): void {
  for (const field of ['model', 'base_url', 'api_key', 'upstream_model', 'chip'] as const) {
    const value = body[field];
    if (typeof value === 'string' && hasControlCharacter(value)) {
      throw invalidRequest(`'${field}' may not contain line breaks or other control characters.`, field);
    }
  }
}

export interface DeploymentRouteDeps {
  readonly router: Router;
  readonly deployments: PrivateDeployments;
}

type Params = { id: string };

function json(reply: FastifyReply, status: number, body: unknown): void {
  reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
}

function notFound(id: string): GatewayError {
  return new GatewayError('not_found', `No deployment with id '${id}'.`, { param: 'id' });
}

/** Private deployments with an account key (/maas/v1/deployments) and every deployment with the admin key (/admin/v1/deployments). */
export function registerDeploymentRoutes(app: FastifyInstance, deps: DeploymentRouteDeps): void {
  registerOwnerRoutes(app, deps);
  app.register(async (admin) => {
    admin.addHook('preHandler', async (request) => {
      if (request.principal?.role !== 'admin') throw new GatewayError('permission_denied', 'This endpoint needs the admin key (MAAS_ADMIN_KEY).');
    });
    registerAdminRoutes(admin, deps);
  });
}

function registerOwnerRoutes(app: FastifyInstance, deps: DeploymentRouteDeps): void {
  const { deployments } = deps;
  app.post('/maas/v1/deployments', async (request, reply) => {
    const accountId = ownerOf(request);
    const body = validateBody<Static<typeof CreateDeploymentBody>>(checkCreate, request.body);
    requirePrintable(body);
    const record = await deployments.create({
      accountId,
      model: body.model,
      baseUrl: body.base_url,
      apiKey: body.api_key ?? null,
      upstreamModel: body.upstream_model ?? null,
      chip: body.chip ?? null,
    });
    json(reply, 201, presentOwnDeployment(viewOf(deps, record)));
  });
  app.get('/maas/v1/deployments', async (request, reply) => {
    const records = await deployments.list(ownerOf(request));
    json(reply, 200, list(records.map((r) => presentOwnDeployment(viewOf(deps, r)))));
  });
  app.get<{ Params: Params }>('/maas/v1/deployments/:id', async (request, reply) => {
    const record = await deployments.get(request.params.id, ownerOf(request));
    if (record === undefined) throw notFound(request.params.id);
    json(reply, 200, presentOwnDeployment(viewOf(deps, record)));
  });
  app.delete<{ Params: Params }>('/maas/v1/deployments/:id', async (request, reply) => {
    const record = await deployments.delete(request.params.id, ownerOf(request));
    if (record === undefined) throw notFound(request.params.id);
    json(reply, 200, { id: record.id, object: 'deployment', deleted: true });
  });
}

function registerAdminRoutes(admin: FastifyInstance, deps: DeploymentRouteDeps): void {
  const { router, deployments } = deps;
  admin.get('/admin/v1/deployments', async (_request, reply) => {
    const records = new Map((await deployments.list()).map((r) => [r.id, r]));
    const views: DeploymentView[] = [];
    for (const d of router.deployments()) {
      views.push(viewOfDeployment(d, records.get(d.id)));
      records.delete(d.id);
    }
    // Live in the store but not in this process's router: shown, with the reason.
    for (const record of records.values()) views.push(viewOf(deps, record));
    json(reply, 200, list(views.map(presentAdminDeployment)));
  });
  admin.get<{ Params: Params }>('/admin/v1/deployments/:id', async (request, reply) => {
    json(reply, 200, presentAdminDeployment(await adminView(deps, request.params.id)));
  });
  admin.post<{ Params: Params }>('/admin/v1/deployments/:id/restore', async (request, reply) => {
    const id = request.params.id;
    const deployment = router.deployment(id);
    if (deployment === undefined) {
      const view = await adminView(deps, id);
      throw invalidRequest(`Deployment '${id}' is not loaded in this gateway process, so there is no health to restore: ${view.healthUnknownBecause?.reason ?? ''}`, 'id');
    }
    // Health is per process: this puts the deployment back in service here (docs/deployments.md).
    deployment.health.restore();
    request.log.info({ deployment: id, reqId: request.id }, 'deployment restored by the operator');
    json(reply, 200, presentAdminDeployment(await adminView(deps, id)));
  });
  admin.delete<{ Params: Params }>('/admin/v1/deployments/:id', async (request, reply) => {
    const id = request.params.id;
    if (router.deployment(id)?.owner === null) {
      throw invalidRequest(`Deployment '${id}' comes from the config file; change it there.`, 'id');
    }
    const record = await deployments.delete(id);
    if (record === undefined) throw notFound(id);
    json(reply, 200, { id: record.id, object: 'deployment', deleted: true });
  });
}

/** The caller's account; management of private deployments needs an account key. */
function ownerOf(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal?.role !== 'user' || principal.accountId === undefined) {
    throw new GatewayError('permission_denied', 'Private deployments are managed with an account key; the operator sees them at /admin/v1/deployments.');
  }
  return principal.accountId;
}

/** A private deployment as this process routes it, or as the store has it when it is not loaded here. */
function viewOf(deps: DeploymentRouteDeps, record: DeploymentRecord): DeploymentView {
  const deployment = deps.router.deployment(record.id);
  if (deployment !== undefined) return viewOfDeployment(deployment, record);
  const reason = deps.deployments.unloadableReason(record.id) ?? 'created through another gateway process; it is loaded here within seconds';
  return viewOfRecord(record, { state: 'not_loaded', reason });
}

async function adminView(deps: DeploymentRouteDeps, id: string): Promise<DeploymentView> {
  const deployment = deps.router.deployment(id);
  const record = deployment === undefined || deployment.owner !== null ? await deps.deployments.get(id) : undefined;
  if (deployment !== undefined) return viewOfDeployment(deployment, record);
  if (record === undefined) throw notFound(id);
  return viewOf(deps, record);
}
