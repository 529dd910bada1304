import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { Router } from '../routing/router.ts';

/**
 * `GET /models` and `GET /models/{id}`. The list is serialised once at start-up. Ids may contain
 * '/', which the SDKs send as %2F; the unencoded multi-segment form is accepted too.
 */
export function modelRoutes(router: Router) {
  const list = `{"object":"list","data":[${[...router.models.values()].map((m) => m.json).join(',')}]}`;
  return {
    list(_request: FastifyRequest, reply: FastifyReply): void {
      reply.header('content-type', 'application/json').send(list);
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
      if (entry === undefined) {
        throw new GatewayError('model_not_found', `The model '${id}' does not exist or you do not have access to it.`, { param: 'model' });
      }
      reply.header('content-type', 'application/json').send(entry.json);
    },
  };
}
