import type { FastifyInstance } from 'fastify';
import { Tenancy } from '../admin/tenancy.ts';
import { formatYuan, NANOS_PER_YUAN } from '../billing/money.ts';
import { loadConfig, type GatewayConfig } from '../config/load.ts';
import { MemoryLimiter } from '../limits/memory.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import type { ProviderAdapter } from '../providers/adapter.ts';
import { createAdapter } from '../providers/registry.ts';
import { buildServer } from '../server.ts';
import { openStore } from '../store/db.ts';
import { createRepositories, type Repositories } from '../store/index.ts';
import { generateApiKey, hashApiKey } from '../store/repositories/api-keys.ts';
import { loadSecretKey } from '../store/secret-key.ts';
import { KeyDirectory } from './admission/key-directory.ts';
import { buildCatalog } from './routing/catalog.ts';
import { healthPolicy } from './routing/health.ts';
import { Router } from './routing/router.ts';
import { HealthProber } from './routing/prober.ts';
import { EngineMetricsScraper } from './routing/engine-metrics.ts';
import { PrivateDeployments } from './routing/private-deployments.ts';
import { DEFAULT_TIMEOUTS } from './routing/timeouts.ts';
import { InFlight } from './in-flight.ts';
import { startHoldRecovery } from './settlement/hold-recovery.ts';

export interface RunningGateway {
  readonly app: FastifyInstance;
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish (bounded), closes upstream pools and the store. */
  stop(): Promise<void>;
}

const ADMIN_KEY_SETTING = 'admin_key_hash';
/** Credit the first account starts with, so the quickstart can call priced models at once. */
const QUICKSTART_CREDIT = 100n * NANOS_PER_YUAN;
/** How long shutdown waits, after cutting the last connections, for their calls to settle. */
const CUT_CALLS_SETTLE_MS = 5_000;
/** How stale another process's key or account change may be here (this process's own: never). */
const KEY_REFRESH_INTERVAL_MS = 2_000;

/** Wires the gateway from its configuration and starts listening. */
export async function startGateway(env: NodeJS.ProcessEnv): Promise<RunningGateway> {
  const config = loadConfig(env);
  const logger = createLogger(config.logLevel);
  // The store logs migrations it applied and PostgreSQL connections it lost through our logger.
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger, backgroundCheckpoints: true });
  const repos = createRepositories(store);
  const adminHash = await adminKeyHash(config, repos);

  const adapters = new Map<string, ProviderAdapter>();
  for (const [name, provider] of Object.entries(config.providers)) adapters.set(name, createAdapter(name, provider));
  const router = new Router(buildCatalog(config, adapters, healthPolicy(config)), adapters.keys());
  const directory = new KeyDirectory(repos.apiKeys, config.plans, adminHash);
  const tenancy = new Tenancy({ ...repos, plans: config.plans, models: new Set(router.models.keys()), directory });
  await bootstrapFirstAccount(tenancy, repos);
  await directory.warm();
  // Requests a crash left between hold and settlement are billed by the documented rule now,
  // before any new request can touch those accounts (on PostgreSQL: those of stopped gateways).
  const holdRecovery = await startHoldRecovery(repos.billing, { dialect: store.dialect, longestRequestMs: longestRequestMs(router), logger });
  const refresher = setInterval(() => {
    directory.refresh(repos.accounts).catch((err: unknown) => logger.warn({ err }, 'key cache refresh failed'));
  }, KEY_REFRESH_INTERVAL_MS);
  refresher.unref();
  // Accounts' own engines (mif-…): their upstream api keys are sealed in the store (docs/deployments.md).
  const secretKey = loadSecretKey({ value: env.MAAS_SECRET_KEY, dataDir: config.dataDir, dialect: store.dialect });
  if (secretKey?.source === 'generated') logger.info({ fingerprint: secretKey.box.fingerprint }, 'generated the secret key for upstream api keys in the data dir (secret.key); back it up with the database');
  const privateDeployments = new PrivateDeployments({ repo: repos.deployments, router, box: secretKey?.box, policy: healthPolicy(config), logger });
  await privateDeployments.load();
  privateDeployments.startRefreshing();
  // Active probes and engine metrics run in the background over every deployment, private ones too;
  // the request path only reads what they write.
  const prober = new HealthProber(() => router.deployments(), { intervalMs: config.routing.probeIntervalMs, logger });
  const engineMetrics = new EngineMetricsScraper(() => router.deployments(), { intervalMs: config.routing.metricsIntervalMs, logger });
  prober.start();
  // A deployment an account just registered is probed at once, so its health shows without waiting a round.
  privateDeployments.whenAdded(() => prober.probeSoon());
  engineMetrics.start();

  const billing = config.server.billing ? repos.billing : undefined;
  const inFlight = new InFlight();
  const app = buildServer({ config, logger, router, authenticator: directory, limiter: new MemoryLimiter(), tenancy, billing, privateDeployments, inFlight });
  await app.listen({ host: config.server.host, port: config.server.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port;
  const url = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
  logger.info({ url, config: config.source, store: store.dialect, models: router.models.size, providers: adapters.size }, 'maas gateway listening');
  process.stdout.write(`maas gateway listening on ${url}\n`);

  return {
    app,
    config,
    logger,
    url,
    async stop() {
      clearInterval(refresher);
      holdRecovery.stop();
      await Promise.all([prober.stop(), engineMetrics.stop()]);
      await drain(app, config.server.shutdownTimeoutMs);
      // Calls cut at the deadline notice it a moment later and settle what was really sent.
      await inFlight.idle(CUT_CALLS_SETTLE_MS);
      // Answers leave before their settlement commits: let the last ones land before the store closes.
      await repos.billing.settled();
      await privateDeployments.close();
      await Promise.allSettled([...adapters.values()].map((a) => a.close()));
      await store.close();
    },
  };
}

/** The longest any request may run: the largest total timeout of a deployment (private ones get the default). */
function longestRequestMs(router: Router): number {
  let longest = DEFAULT_TIMEOUTS.totalMs;
  for (const entry of router.models.values()) for (const d of entry.deployments) longest = Math.max(longest, d.timeouts.totalMs);
  return longest;
}

/**
 * MAAS_ADMIN_KEY when set; otherwise a key generated at first start, whose hash is stored and
 * which is shown once on the terminal (never in the log stream).
 */
async function adminKeyHash(config: GatewayConfig, repos: Repositories): Promise<string> {
  if (config.adminKey !== undefined) return hashApiKey(config.adminKey);
  const stored = await repos.settings.get(ADMIN_KEY_SETTING);
  if (stored !== undefined) return stored;
  const key = generateApiKey();
  const hash = hashApiKey(key);
  await repos.settings.set(ADMIN_KEY_SETTING, hash);
  process.stdout.write(`maas: generated the admin key (shown once; set MAAS_ADMIN_KEY to choose your own):\n  admin key: ${key}\n`);
  return hash;
}

/**
 * A fresh store gets one account and one key, so `npm start` is usable at once with any OpenAI
 * SDK. Shown once on the terminal, like the admin key.
 */
async function bootstrapFirstAccount(tenancy: Tenancy, repos: Repositories): Promise<void> {
  if ((await repos.accounts.list({ limit: 1 })).length > 0) return;
  const account = await tenancy.createAccount({ name: 'default', plan: 'enterprise' });
  const { secret } = await tenancy.createKey({ accountId: account.id, name: 'quickstart' });
  await repos.billing.credit(account.id, QUICKSTART_CREDIT, 'topup', 'quickstart credit');
  process.stdout.write(
    `maas: created account 'default' (${account.id}, plan enterprise, ${formatYuan(QUICKSTART_CREDIT)} yuan of credit) with an API key (shown once):\n  api key: ${secret}\n`,
  );
}

/**
 * Fastify's close stops listening and waits for in-flight requests and streams. A keep-alive
 * socket that goes idle after its last response would hold the close open until the client
 * drops it, so idle sockets are swept while draining. Past the bound, every socket is cut.
 */
async function drain(app: FastifyInstance, timeoutMs: number): Promise<void> {
  const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      app.server.closeAllConnections();
      resolve();
    }, timeoutMs);
  });
  try {
    await Promise.race([app.close(), deadline]);
  } finally {
    clearInterval(sweep);
    clearTimeout(timer);
  }
}
