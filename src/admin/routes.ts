import { integerParam, singleValued } from './query.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, invalidRequest } from '../errors/gateway-error.ts';
import type { Principal } from '../gateway/admission/principal.ts';
import { validateBody } from '../protocol/validate/validate.ts';
import { list, parseExpiry, presentAccount, presentKey } from './present.ts';
import { checks, type CreateAccountInput, type CreateKeyInput, type CreateOwnKeyInput, type UpdateAccountInput } from './schemas.ts';
import type { Tenancy } from './tenancy.ts';

type Params = { id: string };

function json(reply: FastifyReply, status: number, body: unknown): void {
  reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
}

function requireAdmin(request: FastifyRequest): void {
  if (request.principal?.role !== 'admin') {
    throw new GatewayError('permission_denied', 'This endpoint needs the admin key (MAAS_ADMIN_KEY).');
  }
}

function requireOwner(request: FastifyRequest): Principal & { accountId: string } {
  const principal = request.principal;
  if (principal?.role !== 'user' || principal.accountId === undefined) {
    throw new GatewayError('permission_denied', 'This endpoint is about your own account: call it with one of its API keys (the admin key belongs to no account).');
  }
  return principal as Principal & { accountId: string };
}

/** Accounts per page of `GET /admin/v1/accounts`; `offset` pages on (`has_more` says when). */
const MAX_PAGE = 1000;

/** The operator's API under /admin/v1: accounts and keys of every tenant. */
export function registerAdminRoutes(app: FastifyInstance, tenancy: Tenancy): void {
  app.register(async (admin) => {
    admin.addHook('preHandler', async (request) => requireAdmin(request));

    admin.post('/admin/v1/accounts', async (request, reply) => {
      const body = validateBody<CreateAccountInput>(checks.createAccount, request.body);
      json(reply, 201, presentAccount(await tenancy.createAccount(body)));
    });
    admin.get<{ Querystring: { limit?: string; offset?: string } }>('/admin/v1/accounts', async (request, reply) => {
      const query = singleValued(request.query);
      const limit = integerParam(query.limit, 'limit', 1, MAX_PAGE) ?? MAX_PAGE;
      const offset = integerParam(query.offset, 'offset', 0, Number.MAX_SAFE_INTEGER) ?? 0;
      // One more than asked says whether another page follows.
      const rows = await tenancy.listAccounts({ limit: limit + 1, offset });
      json(reply, 200, { ...list(rows.slice(0, limit).map(presentAccount)), has_more: rows.length > limit });
    });
    admin.get<{ Params: Params }>('/admin/v1/accounts/:id', async (request, reply) => {
      json(reply, 200, presentAccount(await tenancy.getAccount(request.params.id)));
    });
    admin.patch<{ Params: Params }>('/admin/v1/accounts/:id', async (request, reply) => {
      const body = validateBody<UpdateAccountInput>(checks.updateAccount, request.body);
      if (Object.keys(body).length === 0) throw invalidRequest("Nothing to change: send 'name', 'plan' or 'status'.");
      json(reply, 200, presentAccount(await tenancy.updateAccount(request.params.id, body)));
    });

    admin.post('/admin/v1/keys', async (request, reply) => {
      const body = validateBody<CreateKeyInput>(checks.createKey, request.body);
      const { record, secret } = await tenancy.createKey({
        accountId: body.account_id,
        name: body.name,
        models: body.models,
        expiresAt: parseExpiry(body.expires_at),
        limits: body.limits,
      });
      json(reply, 201, presentKey(record, secret));
    });
    admin.get<{ Querystring: { account_id?: string } }>('/admin/v1/keys', async (request, reply) => {
      json(reply, 200, list((await tenancy.listKeys(singleValued(request.query).account_id)).map((k) => presentKey(k))));
    });
    admin.delete<{ Params: Params }>('/admin/v1/keys/:id', async (request, reply) => {
      json(reply, 200, presentKey(await tenancy.revokeKey(request.params.id)));
    });
  });
}

/** What an account key may see and do about its own account (its balance and plan, its keys); every call is scoped to it. */
export function registerOwnerRoutes(app: FastifyInstance, tenancy: Tenancy, prefix: string): void {
  app.get(`${prefix}/account`, async (request, reply) => {
    const owner = requireOwner(request);
    json(reply, 200, presentAccount(await tenancy.getAccount(owner.accountId)));
  });
  app.get(`${prefix}/keys`, async (request, reply) => {
    const owner = requireOwner(request);
    json(reply, 200, list((await tenancy.listKeys(owner.accountId)).map((k) => presentKey(k))));
  });
  app.post(`${prefix}/keys`, async (request, reply) => {
    const owner = requireOwner(request);
    await tenancy.requireKeyManager(owner.keyId);
    const body = validateBody<CreateOwnKeyInput>(checks.createOwnKey, request.body);
    const input = { accountId: owner.accountId, name: body.name, models: body.models, expiresAt: parseExpiry(body.expires_at), limits: body.limits };
    const { record, secret } = await tenancy.createKey(input, true);
    json(reply, 201, presentKey(record, secret));
  });
  app.delete<{ Params: Params }>(`${prefix}/keys/:id`, async (request, reply) => {
    const owner = requireOwner(request);
    await tenancy.requireKeyManager(owner.keyId);
    json(reply, 200, presentKey(await tenancy.revokeKey(request.params.id, owner.accountId)));
  });
}
