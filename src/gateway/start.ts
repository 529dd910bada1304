import type { FastifyInstance } from 'fastify';
import { loadConfig, type GatewayConfig } from '../config/load.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import type { ProviderAdapter } from '../providers/adapter.ts';
import { createAdapter } from '../providers/registry.ts';
import { buildServer } from '../server.ts';
import { StaticKeyAuthenticator } from './admission/authenticator.ts';
import { loadOrCreateQuickstartKey } from './admission/quickstart-key.ts';
import { buildCatalog } from './routing/catalog.ts';
import { Router } from './routing/router.ts';

export interface RunningGateway {
  readonly app: FastifyInstance;
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish (bounded), closes upstream pools. */
  stop(): Promise<void>;
}

/** Wires the gateway from its configuration and starts listening. */
export async function startGateway(env: NodeJS.ProcessEnv): Promise<RunningGateway> {
  const config = loadConfig(env);
  const logger = createLogger(config.logLevel);
  const adapters = new Map<string, ProviderAdapter>();
  for (const [name, provider] of Object.entries(config.providers)) adapters.set(name, createAdapter(name, provider));
  const router = new Router(buildCatalog(config, adapters), adapters.keys());
  const app = buildServer({ config, logger, router, authenticator: authenticatorFor(config) });

  await app.listen({ host: config.server.host, port: config.server.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port;
  const url = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
  logger.info({ url, config: config.source, models: router.models.size, providers: adapters.size }, 'maas gateway listening');
  process.stdout.write(`maas gateway listening on ${url}\n`);

  return {
    app,
    config,
    logger,
    url,
    async stop() {
      await drain(app, config.server.shutdownTimeoutMs);
      await Promise.allSettled([...adapters.values()].map((a) => a.close()));
    },
  };
}

function authenticatorFor(config: GatewayConfig): StaticKeyAuthenticator {
  if (config.apiKeys.length > 0 || config.adminKey !== undefined) {
    return new StaticKeyAuthenticator(config.apiKeys, config.adminKey);
  }
  const quickstart = loadOrCreateQuickstartKey(config.dataDir);
  // Shown on the terminal once, at creation; never written to the log stream.
  process.stdout.write(
    quickstart.created
      ? `maas: no MAAS_API_KEYS set; generated a development API key (saved in ${quickstart.path}):\n  ${quickstart.key}\n`
      : `maas: no MAAS_API_KEYS set; using the development API key in ${quickstart.path}\n`,
  );
  return new StaticKeyAuthenticator([quickstart.key], undefined);
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
