import { boolean, integerIn, nonNegativeInteger, nonNegativeNumber, oneOf, parseFields, plainObject, positiveInteger, string } from './checks.ts';
import { ERROR_FORMATS, SimRequestError, type ErrorFormat } from './errors.ts';
import { REASONING_FIELDS, type ReasoningField } from './options.ts';

/**
 * Faults a test can inject: per request through an extra body field `sim` (the gateway passes
 * unknown fields through), or server-wide through POST /sim/faults, optionally for the next
 * `count` requests only. Per-request fields win over server-wide ones.
 */
export interface SimFaults {
  /** Answer with this HTTP status (400..599) instead of generating. */
  readonly status?: number;
  readonly message?: string;
  readonly error_format?: ErrorFormat;
  /**
   * Send the error body with this HTTP status instead of `status`: `200` plays a platform that
   * wraps failures in `{"code","msg"}` and answers HTTP 200.
   */
  readonly http_status?: number;
  /** Wait this long before the response headers. */
  readonly delay_ms?: number;
  /** Streaming: cut the connection after N tokens. Non-streaming: cut it without answering. */
  readonly drop_after_tokens?: number;
  readonly ttft_ms?: number;
  readonly tokens_per_second?: number;
  readonly output_tokens?: number;
  readonly omit_usage?: boolean;
  /** Put the last token in the finish chunk, as vLLM does. */
  readonly finish_with_content?: boolean;
  /** Streams: only the token deltas, no role chunk and no finish chunk (then usage and [DONE]). */
  readonly bare_stream?: boolean;
  readonly reasoning_field?: ReasoningField;
}

export interface ServerFaults extends SimFaults {
  /** Apply to the next N inference requests only; absent = until cleared. */
  readonly count?: number;
}

export const NO_FAULTS: SimFaults = Object.freeze({});

const FAULT_FIELDS = {
  status: integerIn(400, 599),
  message: string,
  error_format: oneOf(ERROR_FORMATS),
  http_status: integerIn(200, 599),
  delay_ms: nonNegativeNumber,
  drop_after_tokens: nonNegativeInteger,
  ttft_ms: nonNegativeNumber,
  tokens_per_second: nonNegativeNumber,
  output_tokens: nonNegativeInteger,
  omit_usage: boolean,
  finish_with_content: boolean,
  bare_stream: boolean,
  reasoning_field: oneOf(REASONING_FIELDS),
} as const;

const SERVER_FAULT_FIELDS = { ...FAULT_FIELDS, count: positiveInteger } as const;

/** Parses a fault object; a bad field is the client's mistake, so it becomes a 400. */
function parseWith<T extends typeof FAULT_FIELDS | typeof SERVER_FAULT_FIELDS>(raw: unknown, table: T, where: string): ServerFaults {
  try {
    return Object.freeze(parseFields(plainObject(raw, where), table, where, 'simulator fault field'));
  } catch (error) {
    throw new SimRequestError(400, (error as Error).message, where);
  }
}

export function parseRequestFaults(raw: unknown): SimFaults {
  return raw === undefined || raw === null ? NO_FAULTS : parseWith(raw, FAULT_FIELDS, 'sim');
}

/** Server-wide faults, set by POST /sim/faults. */
export class FaultState {
  #faults: SimFaults = NO_FAULTS;
  /** Requests left before the faults clear themselves; undefined = no limit. */
  #remaining: number | undefined;

  /** Replaces the faults; `{}` clears them. */
  set(raw: unknown): void {
    const { count, ...faults } = parseWith(raw, SERVER_FAULT_FIELDS, 'faults');
    this.#faults = Object.keys(faults).length === 0 ? NO_FAULTS : Object.freeze(faults);
    this.#remaining = count;
  }

  clear(): void {
    this.#faults = NO_FAULTS;
    this.#remaining = undefined;
  }

  current(): ServerFaults {
    return this.#remaining === undefined ? this.#faults : { ...this.#faults, count: this.#remaining };
  }

  /** The faults for one inference request: server-wide ones (consuming one `count`) under its own. */
  take(perRequest: SimFaults): SimFaults {
    const server = this.#faults;
    if (server !== NO_FAULTS && this.#remaining !== undefined && --this.#remaining === 0) this.clear();
    if (server === NO_FAULTS) return perRequest;
    return perRequest === NO_FAULTS ? server : { ...server, ...perRequest };
  }
}
