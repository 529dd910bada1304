import type { RawTimeouts } from '../../config/schema.ts';

/** The phases of one upstream call the gateway times, each with its own limit. */
export interface DeploymentTimeouts {
  /** Until the response headers; for a non-streaming call that is the whole generation. */
  readonly headersMs: number;
  /** Streams: from the headers to the first event. */
  readonly firstTokenMs: number;
  /** The longest silence between two reads of the body. */
  readonly idleMs: number;
  /** The whole call. */
  readonly totalMs: number;
}

export type TimeoutPhase = 'headers' | 'first_token' | 'idle' | 'total';

/**
 * Generous defaults: a non-streaming answer of a large model can take minutes before its headers.
 * (`connect_ms` is not a call's: the provider's connection pool enforces it, with its own default.)
 */
export const DEFAULT_TIMEOUTS: DeploymentTimeouts = Object.freeze({
  headersMs: 600_000,
  firstTokenMs: 600_000,
  idleMs: 300_000,
  totalMs: 600_000,
});

/** The deployment's own values over its provider's over the defaults. */
export function resolveTimeouts(provider: RawTimeouts | undefined, deployment: RawTimeouts | undefined): DeploymentTimeouts {
  const pick = (field: keyof RawTimeouts, fallback: number): number => deployment?.[field] ?? provider?.[field] ?? fallback;
  return Object.freeze({
    headersMs: pick('headers_ms', DEFAULT_TIMEOUTS.headersMs),
    firstTokenMs: pick('first_token_ms', DEFAULT_TIMEOUTS.firstTokenMs),
    idleMs: pick('idle_ms', DEFAULT_TIMEOUTS.idleMs),
    totalMs: pick('total_ms', DEFAULT_TIMEOUTS.totalMs),
  });
}

/** Why the gateway aborted an upstream call itself (as opposed to the client leaving). */
export class UpstreamTimeout extends Error {
  readonly phase: TimeoutPhase;
  readonly ms: number;

  constructor(phase: TimeoutPhase, ms: number) {
    super(`upstream ${phase} timeout (${ms} ms)`);
    this.name = 'UpstreamTimeout';
    this.phase = phase;
    this.ms = ms;
  }
}

const PHASE_WORDS: Readonly<Record<TimeoutPhase, string>> = {
  headers: 'did not answer',
  first_token: 'did not send the first token',
  idle: 'sent nothing',
  total: 'did not finish',
};

export function describeTimeout(timeout: UpstreamTimeout, provider: string): string {
  return `The upstream provider '${provider}' ${PHASE_WORDS[timeout.phase]} within ${timeout.ms} ms (${timeout.phase}_ms timeout).`;
}

/**
 * The timers of one call on a single abort controller: the total deadline runs throughout; the
 * phase timer is re-armed as the call moves on (headers → first token → idle) and refreshed on
 * every read, which costs a timer refresh, not an allocation.
 */
export class CallTimers {
  readonly #abort: AbortController;
  readonly #timeouts: DeploymentTimeouts;
  readonly #total: NodeJS.Timeout;
  #phase: NodeJS.Timeout | undefined;
  #stopped = false;

  /** `budgetMs`: what is left of the request's overall deadline, when that is shorter than the deployment's total. */
  constructor(abort: AbortController, timeouts: DeploymentTimeouts, budgetMs = timeouts.totalMs) {
    this.#abort = abort;
    this.#timeouts = timeouts;
    const totalMs = Math.max(1, Math.min(budgetMs, timeouts.totalMs));
    this.#total = setTimeout(() => abort.abort(new UpstreamTimeout('total', totalMs)), totalMs);
    this.arm('headers');
  }

  arm(phase: 'headers' | 'first_token' | 'idle'): void {
    clearTimeout(this.#phase);
    if (this.#stopped) return; // a late resume after the call ended must not start a timer
    const ms = phase === 'headers' ? this.#timeouts.headersMs : phase === 'first_token' ? this.#timeouts.firstTokenMs : this.#timeouts.idleMs;
    this.#phase = setTimeout(() => this.#abort.abort(new UpstreamTimeout(phase, ms)), ms);
  }

  /** No phase timer until the next `arm` (the total still runs): the wait is not the upstream's. */
  suspend(): void {
    clearTimeout(this.#phase);
    this.#phase = undefined;
  }

  /** Data arrived: the idle (or first-token) clock starts over. */
  touch(): void {
    this.#phase?.refresh();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#total);
    clearTimeout(this.#phase);
  }
}
