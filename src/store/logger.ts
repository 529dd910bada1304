/**
 * The little the store logs through. Structurally a subset of pino's `Logger`, so the gateway
 * passes its own logger and tests pass nothing; the store never imports the logging stack.
 */
export interface StoreLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
