import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { Router } from '../routing/router.ts';
import { mayUseModel, type Principal } from '../admission/principal.ts';

/**
 * `GET /models` and `GET /models/{id}`. The list is serialised once at start-up. Ids may contain
 * '/', which the SDKs send as %2F; the unencoded multi-segment form is accepted too.
 */
export function modelRoutes(router: Router) {
  const entries = [...router.models.values()];
  const everything = `{"object":"list","data":[${entries.map((m) => m.json).join(',')}]}`;
  const visibleTo = (principal: Principal | undefined): string =>
    principal?.models === undefined
      ? everything
      : `{"object":"list","data":[${entries.filter((m) => mayUseModel(principal, m.id)).map((m) => m.json).join(',')}]}`;
  return {
    list(request: FastifyRequest, reply: FastifyReply): void {
      reply.header('content-type', 'application/json').send(visibleTo(request.principal));
    },
    retrieve(request: FastifyRequest, reply: FastifyReply): void {
      const raw = (request.params as { '*': string })['*'];
      let id: string;
      try {
        id = decodeURIComponent(raw);
      } catch {
        id = raw;
      }
      const entry = router.models.get(id);
      if (entry === undefined || (request.principal !== undefined && !mayUseModel(request.principal, id))) {
        throw new GatewayError('model_not_found', `The model '${id}' does not exist or you do not have access to it.`, { param: 'model' });
      }
      reply.header('content-type', 'application/json').send(entry.json);
    },
  };
}
