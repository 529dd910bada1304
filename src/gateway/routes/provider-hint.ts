import type { FastifyRequest } from 'fastify';

/** `X-AI-Provider`: the provider the caller wants served by (seed 003), when it names one. */
export function providerHint(request: FastifyRequest): string | undefined {
  const value = request.headers['x-ai-provider'];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
