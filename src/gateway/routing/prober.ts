import type { Logger } from '../../observability/logger.ts';
import type { ProviderAdapter } from '../../providers/adapter.ts';
import { ProbeError } from '../../providers/probe-error.ts';
import type { Deployment } from './catalog.ts';
import { PeriodicTask } from './periodic-task.ts';
import { runBounded } from './run-bounded.ts';

export interface ProberOptions {
  readonly intervalMs: number;
  readonly logger: Logger;
}

/** A probe is one small GET; an upstream that cannot answer it in this long is not healthy. */
const PROBE_TIMEOUT_MS = 5_000;
const PROBE_CONCURRENCY = 8;
/** Deployment ids listed in one log line at most (a provider may carry hundreds). */
const LOGGED_IDS = 20;

/** What one probe says about every deployment on its provider. */
type ProbeOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'auth' | 'transient'; readonly reason: string }
  /** The upstream answered, but not to this question (e.g. 404: no /models route): no evidence either way. */
  | { readonly kind: 'inconclusive'; readonly reason: string };

/**
 * Active health probes. Every `probeIntervalMs`, each provider that can be probed is asked one
 * cheap question (`ProviderAdapter.probe`: GET /models with its credentials), once per adapter
 * however many deployments share it, a few providers at a time, each with a timeout. Every
 * provider is probed every round, healthy or not: one small request per provider per interval
 * costs nothing next to traffic, and it is the only way to notice a revoked key or a dead
 * engine on a deployment that carries no traffic right now (traffic already reports itself).
 *
 * The answer is applied to each of the provider's deployments:
 * - success: a deployment that is `down` (auth) is restored; one whose cooldown has run out
 *   becomes half-open with its backoff kept (its next request is the trial: an answered
 *   GET /models does not prove that inference works again); others are left alone;
 * - 401/403: the deployment is taken out (`down`) until a later probe succeeds or an operator
 *   restores it; logged with the status, never with the credentials;
 * - connection errors, timeouts, 408, 429, 5xx: a transient failure, counted by the breaker like
 *   a failed request;
 * - any other status: inconclusive, nothing is recorded.
 */
export class HealthProber {
  readonly #deployments: () => Iterable<Deployment>;
  readonly #logger: Logger;
  readonly #task: PeriodicTask;
  /** Providers whose probes are inconclusive, logged once. */
  readonly #inconclusive = new Set<string>();

  constructor(deployments: () => Iterable<Deployment>, options: ProberOptions) {
    this.#deployments = deployments;
    this.#logger = options.logger;
    this.#task = new PeriodicTask(options.intervalMs, (signal) => this.probeOnce(signal), (err) => this.#logger.error({ err }, 'health probe round failed'));
  }

  start(): void {
    this.#task.start();
  }

  /** An extra round now, e.g. right after a deployment was registered, so its health shows at once. */
  probeSoon(): void {
    this.#task.runSoon();
  }

  stop(): Promise<void> {
    return this.#task.stop();
  }

  /** One round over every probeable provider. */
  async probeOnce(signal: AbortSignal = new AbortController().signal): Promise<void> {
    const byProvider = new Map<ProviderAdapter, Deployment[]>();
    for (const d of this.#deployments()) {
      if (d.provider.probe === undefined) continue;
      const list = byProvider.get(d.provider);
      if (list === undefined) byProvider.set(d.provider, [d]);
      else list.push(d);
    }
    await runBounded([...byProvider], PROBE_CONCURRENCY, async ([provider, deployments]) => {
      const outcome = await probe(provider, signal);
      // A probe cut short by shutdown says nothing about the upstream.
      if (!signal.aborted) this.#apply(provider, deployments, outcome, Date.now());
    });
  }

  #apply(provider: ProviderAdapter, deployments: readonly Deployment[], outcome: ProbeOutcome, now: number): void {
    if (outcome.kind === 'inconclusive') {
      if (!this.#inconclusive.has(provider.name)) {
        this.#inconclusive.add(provider.name);
        this.#logger.info({ provider: provider.name, reason: outcome.reason }, 'health probes cannot tell this provider\'s health; only traffic will');
      }
      return;
    }
    this.#inconclusive.delete(provider.name);
    const changed: Deployment[] = [];
    for (const d of deployments) {
      const health = d.health;
      const before = health.state;
      if (outcome.kind === 'ok') {
        health.probeSucceeded(now);
      } else {
        health.failed(outcome.kind, outcome.reason, now);
      }
      if (health.state !== before) changed.push(d);
    }
    if (changed.length === 0) return;
    const ids = changed.slice(0, LOGGED_IDS).map((d) => d.id);
    const fields = { provider: provider.name, deployments: ids, count: changed.length, state: changed[0]!.health.state };
    if (outcome.kind === 'ok') this.#logger.info(fields, 'deployments back in service after a successful health probe');
    else this.#logger.warn({ ...fields, reason: outcome.reason }, outcome.kind === 'auth' ? 'deployments taken out of service: the upstream refused the credentials' : 'health probes failing: deployments cooling down');
  }
}

async function probe(provider: ProviderAdapter, stopSignal: AbortSignal): Promise<ProbeOutcome> {
  try {
    await provider.probe!(AbortSignal.any([stopSignal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]));
    return { kind: 'ok' };
  } catch (err) {
    return classify(err);
  }
}

function classify(err: unknown): ProbeOutcome {
  if (err instanceof ProbeError) {
    const reason = `health probe: ${err.message}`;
    if (err.status === 401 || err.status === 403) return { kind: 'auth', reason };
    if (err.status === 408 || err.status === 429 || err.status >= 500) return { kind: 'transient', reason };
    return { kind: 'inconclusive', reason };
  }
  if (err instanceof Error && err.name === 'TimeoutError') return { kind: 'transient', reason: `health probe: no answer within ${PROBE_TIMEOUT_MS} ms` };
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const detail = typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
  return { kind: 'transient', reason: `health probe failed: ${detail}` };
}
