import type { Logger } from '../../observability/logger.ts';
import type { BillingStore } from '../../billing/types.ts';
import type { Dialect } from '../../store/db.ts';

/** Beyond the longest call: time to place the hold before it and settle after it. */
const SETTLE_SLACK_MS = 60_000;
const SWEEP_INTERVAL_MS = 60_000;

/**
 * Holds a stopped process left open (it died between hold and settlement) are charged by the
 * documented rule: at the held amount, status `unsettled`. On SQLite the gateway is the store's
 * only process, so every hold open at start is such a leftover. On PostgreSQL other gateways'
 * requests are in flight in the same table, so only holds older than the longest a request can
 * run are leftovers; they are swept at start and then every minute, so the holds of a process
 * that crashed are charged by the ones still running, restarted or not.
 */
export async function startHoldRecovery(
  billing: BillingStore,
  options: { readonly dialect: Dialect; readonly longestRequestMs: number; readonly logger: Logger },
): Promise<{ stop(): void }> {
  const minAgeMs = options.dialect === 'sqlite' ? 0 : options.longestRequestMs + SETTLE_SLACK_MS;
  const sweep = async (): Promise<void> => {
    const recovered = await billing.recoverOpenHolds(Date.now(), minAgeMs);
    if (recovered > 0) options.logger.warn({ recovered }, 'settled holds left open by a stopped gateway at their held amount (status unsettled)');
  };
  await sweep();
  if (options.dialect === 'sqlite') return { stop: () => undefined };
  const timer = setInterval(() => {
    sweep().catch((err: unknown) => options.logger.warn({ err }, 'open-hold recovery failed; retried in a minute'));
  }, SWEEP_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
