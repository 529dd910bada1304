import { Agent } from 'undici';
import type { Logger } from '../../observability/logger.ts';
import type { ProviderAdapter } from '../../providers/adapter.ts';
import type { Deployment } from './catalog.ts';
import { engineReading, parseEngineGauges } from './engine-metrics-parse.ts';
import { PeriodicTask } from './periodic-task.ts';
import { runBounded } from './run-bounded.ts';

export interface EngineMetricsOptions {
  readonly intervalMs: number;
  readonly logger: Logger;
}

/** A scrape slower than this is abandoned: the sample would be stale by the time it arrived. */
const SCRAPE_TIMEOUT_MS = 1_000;
/** A vLLM /metrics page is tens to a few hundred kB (histograms); anything far larger is not one. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const SCRAPE_CONCURRENCY = 16;

/** One place metrics come from, and the deployments that read their load there. */
interface Source {
  /** For logs: origin and path of the URL (never userinfo), or the in-process provider's name. */
  readonly label: string;
  read(signal: AbortSignal): Promise<string>;
  readonly deployments: Deployment[];
}

/**
 * Engine-aware balancing's eyes: every `metricsIntervalMs`, reads each self-hosted engine's
 * Prometheus metrics (once per URL, however many deployments share it), and writes the queue
 * length and KV-cache usage into `Deployment.engine`, which the router reads on its hot path.
 * A failed scrape leaves the old sample in place to age out (the router ignores samples older
 * than 10 s), so a dead metrics endpoint degrades to plain least-outstanding balancing.
 */
export class EngineMetricsScraper {
  readonly #deployments: () => Iterable<Deployment>;
  readonly #logger: Logger;
  readonly #task: PeriodicTask;
  // Its own small pool: scrapes must not queue behind inference on the providers' pools.
  readonly #agent = new Agent({ connections: 2, keepAliveTimeout: 30_000, headersTimeout: SCRAPE_TIMEOUT_MS, bodyTimeout: SCRAPE_TIMEOUT_MS });
  /** Sources whose last scrape failed: their failure is logged once, their recovery too. */
  readonly #failing = new Set<string>();

  constructor(deployments: () => Iterable<Deployment>, options: EngineMetricsOptions) {
    this.#deployments = deployments;
    this.#logger = options.logger;
    this.#task = new PeriodicTask(options.intervalMs, (signal) => this.scrapeOnce(signal), (err) => this.#logger.error({ err }, 'engine metrics round failed'));
  }

  start(): void {
    this.#task.start();
  }

  async stop(): Promise<void> {
    await this.#task.stop();
    await this.#agent.close();
  }

  /** One round over every source; each source's failure is its own. */
  async scrapeOnce(signal: AbortSignal = new AbortController().signal): Promise<void> {
    await runBounded(this.#sources(), SCRAPE_CONCURRENCY, (source) => this.#scrape(source, signal));
  }

  /** Grouped per round: private deployments come and go at run time. */
  #sources(): Source[] {
    const sources = new Map<string | ProviderAdapter, Source>();
    for (const d of this.#deployments()) {
      const key = d.metricsUrl ?? (d.provider.metricsText === undefined ? undefined : d.provider);
      if (key === undefined) continue;
      let source = sources.get(key);
      if (source === undefined) {
        source = typeof key === 'string' ? this.#urlSource(key) : providerSource(key);
        sources.set(key, source);
      }
      source.deployments.push(d);
    }
    return [...sources.values()];
  }

  #urlSource(href: string): Source {
    const url = new URL(href);
    const label = url.origin + url.pathname;
    return { label, deployments: [], read: (signal) => fetchMetrics(this.#agent, url, signal) };
  }

  async #scrape(source: Source, stopSignal: AbortSignal): Promise<void> {
    let text: string;
    try {
      text = await source.read(AbortSignal.any([stopSignal, AbortSignal.timeout(SCRAPE_TIMEOUT_MS)]));
    } catch (err) {
      if (stopSignal.aborted) return;
      if (!this.#failing.has(source.label)) {
        this.#failing.add(source.label);
        this.#logger.warn({ source: source.label, reason: describe(err) }, 'engine metrics unavailable; balancing there falls back to in-flight counts');
      }
      return;
    }
    if (this.#failing.delete(source.label)) this.#logger.info({ source: source.label }, 'engine metrics readable again');
    const samples = parseEngineGauges(text);
    const now = Date.now();
    for (const d of source.deployments) {
      const reading = engineReading(samples, d.upstreamModel);
      if (reading === undefined) continue;
      // Three plain writes in one tick: the router never sees a half-updated sample.
      d.engine.waiting = reading.waiting;
      d.engine.kvCacheUsage = reading.kvCacheUsage;
      d.engine.sampledAt = now;
    }
  }
}

function providerSource(provider: ProviderAdapter): Source {
  return { label: `provider ${provider.name}`, deployments: [], read: (signal) => provider.metricsText!(signal) };
}

async function fetchMetrics(agent: Agent, url: URL, signal: AbortSignal): Promise<string> {
  // text/plain asks prometheus_client for the classic format rather than OpenMetrics.
  const res = await agent.request({ origin: url.origin, path: url.pathname + url.search, method: 'GET', headers: { accept: 'text/plain' }, signal });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`answered ${res.statusCode}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      res.body.destroy();
      throw new Error(`more than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describe(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return `no answer within ${SCRAPE_TIMEOUT_MS} ms`;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${(err as Error).message}` : err instanceof Error ? err.message : String(err);
}
