import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Response headers a browser app may read. CORS hides every header but a handful unless it is
 * listed here, and the SDKs read these (request id, rate limits, retry hints) when they run in
 * a browser.
 */
const EXPOSED_HEADERS = [
  'x-request-id',
  'x-ratelimit-limit-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-requests',
  'x-ratelimit-reset-tokens',
  'retry-after',
  'retry-after-ms',
  'x-should-retry',
  'x-maas-cost',
  'x-maas-balance',
  'x-maas-deployment',
].join(', ');

/** Browsers cap it (Chromium at 2 h); one preflight per URL per session is the point. */
const PREFLIGHT_MAX_AGE_SECONDS = '7200';
/** When a preflight names no headers: what the official SDKs send. */
const DEFAULT_ALLOWED_HEADERS = 'authorization, content-type, x-api-key, x-request-id, x-ai-provider';

/**
 * Which web origins may call the API from a browser (`server.cors_origins`, `MAAS_CORS_ORIGINS`).
 * Keys travel in headers, never in cookies, so `*` exposes nothing a page could not already
 * send with the key it holds; that is also what OpenAI's API answers. An empty list turns CORS
 * off: browsers then refuse to hand responses to other origins' pages.
 */
export class CorsPolicy {
  readonly #anyOrigin: boolean;
  readonly #origins: ReadonlySet<string>;

  constructor(origins: readonly string[]) {
    this.#anyOrigin = origins.includes('*');
    this.#origins = new Set(origins);
  }

  /** Adds the CORS headers an ordinary response to a page of `origin` needs. */
  decorate(origin: string, reply: FastifyReply): void {
    // With a list, the answer depends on the Origin (granted or not): caches must key on it.
    if (!this.#anyOrigin) reply.header('vary', 'Origin');
    const allowed = this.#allowOrigin(origin);
    if (allowed === undefined) return;
    reply.header('access-control-allow-origin', allowed);
    reply.header('access-control-expose-headers', EXPOSED_HEADERS);
  }

  /**
   * Answers OPTIONS on a known URL (`allow`: its methods): a browser's preflight from an allowed
   * origin also gets the methods and headers it may use; anything else just the `Allow` list.
   */
  preflight(request: FastifyRequest, reply: FastifyReply, allow: string): void {
    const origin = request.headers.origin;
    const allowed = origin === undefined ? undefined : this.#allowOrigin(origin);
    if (allowed !== undefined && request.headers['access-control-request-method'] !== undefined) {
      const asked = request.headers['access-control-request-headers'];
      reply.header('access-control-allow-origin', allowed);
      reply.header('access-control-allow-methods', allow);
      reply.header('access-control-allow-headers', typeof asked === 'string' && asked.length > 0 ? asked : DEFAULT_ALLOWED_HEADERS);
      reply.header('access-control-max-age', PREFLIGHT_MAX_AGE_SECONDS);
    }
    if (origin !== undefined && !this.#anyOrigin) reply.header('vary', 'Origin');
    reply.header('allow', allow).code(204).send();
  }

  #allowOrigin(origin: string): string | undefined {
    if (this.#anyOrigin) return '*';
    return this.#origins.has(origin) ? origin : undefined;
  }
}
