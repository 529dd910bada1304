import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { ModelEntry } from '../routing/catalog.ts';
import type { Router } from '../routing/router.ts';
import { providerHint } from './provider-hint.ts';
import { mayUseModel } from '../admission/principal.ts';

/**
 * `GET /models` and `GET /models/{id}`. The list is serialised once at start-up. Ids may contain
 * '/', which the SDKs send as %2F; the unencoded multi-segment form is accepted too. With
 * `X-AI-Provider`, only the models that provider serves (an unknown provider is a 400, as on
 * the inference routes).
 */
export function modelRoutes(router: Router) {
  const entries = [...router.models.values()];
  const listOf = (list: readonly ModelEntry[]): string => `{"object":"list","data":[${list.map((m) => m.json).join(',')}]}`;
  const everything = listOf(entries);
  const byProvider = new Map<string, ModelEntry[]>();
  for (const entry of entries) {
    for (const name of new Set(entry.deployments.map((d) => d.provider.name))) byProvider.set(name, [...(byProvider.get(name) ?? []), entry]);
  }
  const visible = (request: FastifyRequest): string => {
    const provider = providerHint(request);
    router.checkProvider(provider);
    const principal = request.principal;
    if (provider === undefined && principal?.models === undefined) return everything;
    const pool = provider === undefined ? entries : (byProvider.get(provider) ?? []);
    return listOf(principal === undefined ? pool : pool.filter((m) => mayUseModel(principal, m.id)));
  };
  return {
    list(request: FastifyRequest, reply: FastifyReply): void {
      reply.header('content-type', 'application/json').send(visible(request));
    },
    retrieve(request: FastifyRequest, reply: FastifyReply): void {
      const raw = (request.params as { '*': string })['*'];
      let id: string;
      try {
        id = decodeURIComponent(raw);
      } catch {
        id = raw;
      }
      const provider = providerHint(request);
      router.checkProvider(provider);
      const entry = router.models.get(id);
      const served = entry !== undefined && (provider === undefined || entry.deployments.some((d) => d.provider.name === provider));
      if (!served || (request.principal !== undefined && !mayUseModel(request.principal, id))) {
        throw new GatewayError('model_not_found', `The model '${id}' does not exist or you do not have access to it.`, { param: 'model' });
      }
      reply.header('content-type', 'application/json').send(entry.json);
    },
  };
}
