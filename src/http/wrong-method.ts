import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/gateway-error.ts';

/** Methods a 405 is registered for; OPTIONS is answered with the URL's methods (and CORS preflights). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Answers OPTIONS on a known URL; `allow` lists its methods. */
export type OptionsAnswer = (request: FastifyRequest, reply: FastifyReply, allow: string) => void;

/**
 * A known URL called with the wrong method gets 405 `method_not_allowed` with an `Allow` header,
 * not the 404 a router gives for "no route for this method", and OPTIONS on it is answered with
 * its methods. The routes are collected as they are registered; `seal()` is called after every
 * plugin with routes: its own plugin loads last and adds, per URL, one route for the other
 * methods and one for OPTIONS. An unknown URL stays a 404, whatever the method.
 */
export class WrongMethods {
  readonly #byUrl = new Map<string, Set<string>>();
  #sealed = false;

  constructor(app: FastifyInstance) {
    app.addHook('onRoute', (route) => {
      if (this.#sealed) return;
      let methods = this.#byUrl.get(route.url);
      if (methods === undefined) this.#byUrl.set(route.url, (methods = new Set()));
      for (const method of [route.method].flat()) methods.add(method);
      if (methods.has('GET')) methods.add('HEAD'); // Fastify answers HEAD for every GET route
    });
  }

  seal(app: FastifyInstance, answerOptions: OptionsAnswer): void {
    app.register(async (scope) => {
      this.#sealed = true;
      for (const [url, methods] of this.#byUrl) {
        const allow = [...methods, 'OPTIONS'].join(', ');
        const others = METHODS.filter((m) => !methods.has(m));
        if (others.length > 0) scope.route({ method: others, url, handler: rejectWith(allow) });
        if (!methods.has('OPTIONS')) scope.route({ method: 'OPTIONS', url, handler: (request, reply) => answerOptions(request, reply, allow) });
      }
    });
  }
}

function rejectWith(allow: string) {
  return function wrongMethod(request: FastifyRequest, reply: FastifyReply): never {
    reply.header('allow', allow);
    const path = request.url.split('?')[0];
    throw new GatewayError('method_not_allowed', `${request.method} is not allowed on ${path}; it accepts ${allow}.`);
  };
}
