import { invalidRequest } from '../errors/gateway-error.ts';

/**
 * Each query parameter once: Fastify hands a repeated one (`?model=a&model=b`) over as an
 * array, which the handlers here do not read — a 400 naming it, rather than a failed query.
 */
export function singleValued<T extends object>(query: T): T {
  for (const [name, value] of Object.entries(query)) {
    if (typeof value !== 'string') throw invalidRequest(`'${name}' may be given only once.`, name);
  }
  return query;
}

/** An integer query parameter within bounds; undefined when absent, 400 naming it otherwise. */
export function integerParam(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalidRequest(`'${name}' must be an integer from ${min} to ${max}, got '${value}'.`, name);
  return n;
}
