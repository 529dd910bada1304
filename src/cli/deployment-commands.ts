import { parseArgs } from 'node:util';
import { presentAdminDeployment, viewOfDeployment, viewOfRecord, type HealthUnknown } from '../admin/deployment-view.ts';
import { loadConfig } from '../config/load.ts';
import { buildCatalog } from '../gateway/routing/catalog.ts';
import { DEFAULT_HEALTH_POLICY } from '../gateway/routing/health.ts';
import type { ProviderAdapter } from '../providers/adapter.ts';
import { openStore } from '../store/db.ts';
import { createRepositories } from '../store/index.ts';
import { CliError, httpBackend, type Json } from './admin-backend.ts';
import { renderTable } from './table.ts';

const USAGE = `usage:
  maas deployments list                every deployment: the config's and accounts' private (mif-…) ones
  maas deployments show ID
  maas deployments restore ID          put a down or cooling deployment back in service (needs --url)
  maas deployments delete ID           delete an account's private deployment

options: --json (machine-readable output)
  --url URL --admin-key KEY   ask a running gateway (or MAAS_URL / MAAS_ADMIN_KEY): with live health,
                              in flight and engine load, as that process sees them
  without --url               read the local store and MAAS_CONFIG: no health (it lives in the
                              gateway processes' memory), state 'unknown'
`;

const COLUMNS = ['id', 'model', 'owner', 'provider', 'chip', 'price', 'in_flight', 'state', 'cooldown_until', 'error_rate', 'latency_ms', 'waiting', 'kv_cache'] as const;

const LOCAL_HEALTH: HealthUnknown = { state: 'unknown', reason: 'read from the local store; pass --url to see a running gateway’s health' };

/** What the commands act on: a gateway's admin API, or the local store and config (read and delete only). */
interface DeploymentSource {
  list(): Promise<Json[]>;
  show(id: string): Promise<Json>;
  restore(id: string): Promise<Json>;
  delete(id: string): Promise<Json>;
  close(): Promise<void>;
}

export async function runDeployments(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { url: { type: 'string' }, 'admin-key': { type: 'string' }, json: { type: 'boolean' } },
  });
  const [action, id] = positionals;
  if (!['list', 'show', 'restore', 'delete'].includes(action ?? '')) throw new CliError(`unknown action '${action ?? ''}'\n\n${USAGE}`);
  if (action !== 'list' && id === undefined) throw new CliError(`missing ID\n\n${USAGE}`);
  const source = await sourceFor(values);
  try {
    switch (action) {
      case 'list':
        return output(await source.list(), values.json);
      case 'show':
        return output([await source.show(id!)], values.json, true);
      case 'restore':
        return output([await source.restore(id!)], values.json, true);
      default: {
        const deleted = await source.delete(id!);
        process.stdout.write(values.json ? `${JSON.stringify(deleted, null, 2)}\n` : `deleted ${String(deleted.id)}\n`);
      }
    }
  } finally {
    await source.close();
  }
}

async function sourceFor(values: { url?: string; 'admin-key'?: string }): Promise<DeploymentSource> {
  const url = values.url || process.env.MAAS_URL || undefined;
  if (url === undefined) return localSource(process.env);
  const key = values['admin-key'] || process.env.MAAS_ADMIN_KEY || undefined;
  if (key === undefined) throw new CliError('--url needs --admin-key (or MAAS_ADMIN_KEY)');
  const api = httpBackend(url, key);
  const path = (id: string) => `/admin/v1/deployments/${encodeURIComponent(id)}`;
  return {
    list: async () => (await api.call('GET', '/admin/v1/deployments')).data as Json[],
    show: (id) => api.call('GET', path(id)),
    restore: (id) => api.call('POST', `${path(id)}/restore`),
    delete: (id) => api.call('DELETE', path(id)),
    close: () => api.close(),
  };
}

/**
 * The config's deployments (built by the gateway's own catalog code, so ids and defaults match)
 * and the store's private ones, in the admin API's shape. Health, in-flight counts and engine
 * load exist only inside running gateways: state 'unknown' here.
 */
async function localSource(env: NodeJS.ProcessEnv): Promise<DeploymentSource> {
  const config = loadConfig(env);
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const repos = createRepositories(store);
  const adapters = new Map(Object.entries(config.providers).map(([name, p]) => [name, describedProvider(name, p.type)]));
  const configured = [...buildCatalog(config, adapters, DEFAULT_HEALTH_POLICY).values()].flatMap((entry) => entry.deployments);
  const unknown = { health: null, inFlight: null, engine: null, healthUnknownBecause: LOCAL_HEALTH };
  const configRows = configured.map((d) => presentAdminDeployment({ ...viewOfDeployment(d, undefined), ...unknown }));
  const privateRows = async () => (await repos.deployments.list()).map((r) => presentAdminDeployment(viewOfRecord(r, LOCAL_HEALTH)));
  return {
    list: async () => [...configRows, ...(await privateRows())],
    async show(id) {
      const found = [...configRows, ...(await privateRows())].find((row) => row.id === id);
      if (found === undefined) throw new CliError(`404: No deployment with id '${id}'. (id)`);
      return found;
    },
    async restore() {
      throw new CliError('restore acts on the health a running gateway keeps in memory: pass --url and --admin-key (or MAAS_URL / MAAS_ADMIN_KEY)');
    },
    async delete(id) {
      if (configRows.some((row) => row.id === id)) throw new CliError(`400: Deployment '${id}' comes from the config file; change it there. (id)`);
      const deleted = await repos.deployments.softDelete(id);
      if (deleted === undefined) throw new CliError(`404: No deployment with id '${id}'. (id)`);
      return { id: deleted.id, object: 'deployment', deleted: true };
    },
    close: () => store.close(),
  };
}

/** Enough of an adapter for the catalog to describe a deployment; the CLI never sends anything. */
function describedProvider(name: string, type: string): ProviderAdapter {
  return {
    name,
    type,
    capabilities: new Set(),
    send: () => Promise.reject(new Error('the CLI does not call upstreams')),
    close: async () => {},
  };
}

function output(rows: Json[], json: boolean | undefined, single = false): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(single ? rows[0] : { object: 'list', data: rows }, null, 2)}\n`);
    return;
  }
  process.stdout.write(renderTable(rows.map(displayRow), COLUMNS));
}

function displayRow(row: Json): Json {
  const price = row.price as { input: string; output: string } | null;
  const engine = row.engine as { waiting: number; kv_cache_usage: number } | null;
  return {
    ...row,
    owner: row.owner ?? 'platform',
    price: price === null ? 'free' : `${price.input}/${price.output}`,
    waiting: engine?.waiting ?? null,
    kv_cache: engine?.kv_cache_usage ?? null,
  };
}
