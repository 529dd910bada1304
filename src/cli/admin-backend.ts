import Fastify from 'fastify';
import { registerAdminRoutes } from '../admin/routes.ts';
import { registerBillingRoutes } from '../admin/billing-routes.ts';
import { Tenancy } from '../admin/tenancy.ts';
import { loadConfig } from '../config/load.ts';
import { ADMIN_PRINCIPAL } from '../gateway/admission/principal.ts';
import { renderError } from '../server.ts';
import { openStore } from '../store/db.ts';
import { createRepositories } from '../store/index.ts';
import { cliStoreLogger } from './store-logger.ts';

export type Json = Record<string, unknown>;
export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/**
 * What the CLI's account and key commands talk to: the admin API of a running gateway over
 * HTTP, or the very same routes run in-process on the local store (Fastify's `inject`), so both
 * modes validate and answer identically.
 */
export interface AdminBackend {
  call(method: Method, path: string, body?: Json): Promise<Json>;
  /** A GET whose answer is not JSON (CSV exports). */
  text(path: string): Promise<string>;
  close(): Promise<void>;
}

export class CliError extends Error {}

function fail(status: number, json: Json): never {
  const error = json.error as { message?: string; param?: string | null } | undefined;
  throw new CliError(`${status}: ${error?.message ?? 'request failed'}${error?.param ? ` (${error.param})` : ''}`);
}

export function httpBackend(url: string, adminKey: string): AdminBackend {
  const base = url.replace(/\/+$/, '');
  return {
    async call(method, path, body) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = (await res.json().catch(() => ({}))) as Json;
      if (!res.ok) fail(res.status, json);
      return json;
    },
    async text(path) {
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${adminKey}` } });
      const text = await res.text();
      if (!res.ok) fail(res.status, JSON.parse(text) as Json);
      return text;
    },
    async close() {},
  };
}

/** The admin routes on MAAS_DATA_DIR / MAAS_DATABASE_URL, with MAAS_CONFIG's plans and models. */
export async function localBackend(env: NodeJS.ProcessEnv): Promise<AdminBackend> {
  const config = loadConfig(env);
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger: cliStoreLogger });
  const repos = createRepositories(store);
  const tenancy = new Tenancy({ ...repos, plans: config.plans, models: new Set(Object.keys(config.models)) });
  const app = Fastify();
  app.decorateRequest('principal', undefined);
  // Whoever can read the data dir is the operator already.
  app.addHook('onRequest', async (request) => {
    request.principal = ADMIN_PRINCIPAL;
  });
  app.setErrorHandler(renderError);
  registerAdminRoutes(app, tenancy);
  registerBillingRoutes(app, repos.billing, tenancy);
  await app.ready();
  return {
    async call(method, path, body) {
      const res = await app.inject({ method, url: path, ...(body ? { payload: body } : {}) });
      const json = res.json() as Json;
      if (res.statusCode >= 400) fail(res.statusCode, json);
      return json;
    },
    async text(path) {
      const res = await app.inject({ method: 'GET', url: path });
      if (res.statusCode >= 400) fail(res.statusCode, res.json() as Json);
      return res.body;
    },
    async close() {
      await app.close();
      await store.close();
    },
  };
}
