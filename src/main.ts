import { ConfigError } from './config/errors.ts';
import { startGateway } from './gateway/start.ts';

/** Process entry: start, and drain on SIGTERM/SIGINT. */
try {
  const gateway = await startGateway(process.env);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    gateway.logger.info({ signal }, 'shutting down: draining in-flight requests');
    gateway.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        gateway.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  const message = err instanceof ConfigError ? `configuration error: ${err.message}` : (err as Error).stack ?? String(err);
  process.stderr.write(`maas: ${message}\n`);
  process.exit(1);
}
