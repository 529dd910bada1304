import type { RoutingSettings } from '../../config/load.ts';

/**
 * A deployment's health as the router sees it: a windowed circuit breaker for transient
 * failures, a hard "down" for failures only an operator or a successful probe can clear, and
 * recent error rate and latency for the admin view. All state is in memory and per process:
 * each gateway process learns about its upstreams from its own traffic and probes.
 */

export interface HealthPolicy {
  /** Transient failures within `windowMs` that open the breaker. */
  readonly failureThreshold: number;
  readonly windowMs: number;
  /** First cooldown; each consecutive trip doubles it, up to `maxCooldownMs`. */
  readonly cooldownMs: number;
  readonly maxCooldownMs: number;
}

export const DEFAULT_HEALTH_POLICY: HealthPolicy = Object.freeze({
  failureThreshold: 3,
  windowMs: 30_000,
  cooldownMs: 5_000,
  maxCooldownMs: 300_000,
});

/** The breaker settings of `routing:` in the config. */
export function healthPolicy(config: { readonly routing: RoutingSettings }): HealthPolicy {
  const r = config.routing;
  return Object.freeze({ failureThreshold: r.failureThreshold, windowMs: r.failureWindowMs, cooldownMs: r.cooldownMs, maxCooldownMs: r.maxCooldownMs });
}

/** What a failed call says about the deployment (client errors say nothing and are not recorded). */
export type FailureKind = 'transient' | 'auth';

export type HealthState = 'healthy' | 'cooling_down' | 'half_open' | 'down';

export interface HealthView {
  readonly state: HealthState;
  /** Epoch ms the cooldown ends (cooling_down only). */
  readonly cooldownUntil: number | null;
  /** Why the deployment is down or cooling, in words an operator can act on. */
  readonly reason: string | null;
  /** Exponentially weighted share of recent calls that failed (0–1). */
  readonly errorRate: number;
  /** Exponentially weighted latency of recent successful calls, ms. */
  readonly latencyMs: number | null;
}

/** Weight of the newest observation in the moving averages: about the last 20 calls. */
const EWMA_ALPHA = 0.05;

export class DeploymentHealth {
  readonly #policy: HealthPolicy;
  /** Times of the most recent transient failures, oldest first; never longer than the threshold. */
  readonly #failures: number[] = [];
  #state: HealthState = 'healthy';
  #cooldownUntil = 0;
  #trips = 0;
  #trialInFlight = false;
  #reason: string | null = null;
  #errorRate = 0;
  #latencyMs: number | null = null;

  constructor(policy: HealthPolicy = DEFAULT_HEALTH_POLICY) {
    this.#policy = policy;
  }

  get state(): HealthState {
    return this.#state;
  }

  /**
   * Whether the router may send a request now. A cooldown that has run out lets exactly one
   * request through as the half-open trial; its outcome closes or re-opens the breaker.
   */
  available(now: number): boolean {
    switch (this.#state) {
      case 'healthy':
        return true;
      case 'down':
        return false;
      case 'cooling_down':
        if (now < this.#cooldownUntil) return false;
        this.#state = 'half_open';
        this.#trialInFlight = false;
        return true;
      case 'half_open':
        return !this.#trialInFlight;
    }
  }

  /** Called when a request is actually sent; in half-open state it becomes the one trial. */
  dispatched(): void {
    if (this.#state === 'half_open') this.#trialInFlight = true;
  }

  /**
   * The half-open trial ended. If its outcome said nothing about the deployment — the client
   * left, the request was the client's fault, its hold was refused — it is still half-open and
   * the next request becomes the trial; otherwise the deployment would wait for a trial that
   * never reports, out of service for good.
   */
  trialEnded(): void {
    if (this.#state === 'half_open') this.#trialInFlight = false;
  }

  /** Milliseconds until the cooldown ends (0 when not cooling down). */
  retryAfterMs(now: number): number {
    return this.#state === 'cooling_down' ? Math.max(0, this.#cooldownUntil - now) : 0;
  }

  succeeded(latencyMs: number): void {
    this.#errorRate *= 1 - EWMA_ALPHA;
    this.#latencyMs = this.#latencyMs === null ? latencyMs : this.#latencyMs + EWMA_ALPHA * (latencyMs - this.#latencyMs);
    if (this.#state !== 'healthy') this.restore();
    this.#failures.length = 0;
  }

  failed(kind: FailureKind, reason: string, now: number): void {
    this.#errorRate += EWMA_ALPHA * (1 - this.#errorRate);
    if (kind === 'auth') {
      this.#state = 'down';
      this.#reason = reason;
      return;
    }
    if (this.#state === 'down') return;
    if (this.#state === 'half_open') {
      this.#open(now, reason);
      return;
    }
    const failures = this.#failures;
    failures.push(now);
    if (failures.length > this.#policy.failureThreshold) failures.shift();
    if (failures.length === this.#policy.failureThreshold && now - failures[0]! <= this.#policy.windowMs) this.#open(now, reason);
  }

  /**
   * A health probe was answered. That restores a deployment taken out for its credentials; one
   * whose cooldown has run out becomes half-open — the next request is its trial — but keeps its
   * backoff, since an answered GET /models does not prove that inference works again.
   */
  probeSucceeded(now: number): void {
    if (this.#state === 'down') this.restore();
    else if (this.#state === 'cooling_down' && now >= this.#cooldownUntil) {
      this.#state = 'half_open';
      this.#trialInFlight = false;
    }
  }

  /** Back in service: after a successful call, or by an operator. */
  restore(): void {
    this.#state = 'healthy';
    this.#reason = null;
    this.#trips = 0;
    this.#trialInFlight = false;
    this.#failures.length = 0;
  }

  view(): HealthView {
    return {
      state: this.#state,
      cooldownUntil: this.#state === 'cooling_down' ? this.#cooldownUntil : null,
      reason: this.#reason,
      errorRate: Math.round(this.#errorRate * 1000) / 1000,
      latencyMs: this.#latencyMs === null ? null : Math.round(this.#latencyMs * 10) / 10,
    };
  }

  #open(now: number, reason: string): void {
    const cooldown = Math.min(this.#policy.maxCooldownMs, this.#policy.cooldownMs * 2 ** this.#trips);
    this.#trips++;
    this.#state = 'cooling_down';
    this.#cooldownUntil = now + cooldown;
    this.#reason = reason;
    this.#trialInFlight = false;
    this.#failures.length = 0;
  }
}
