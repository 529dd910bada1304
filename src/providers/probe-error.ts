/**
 * A health probe the upstream answered with something other than success. The status is what
 * the prober classifies by (401/403: credentials refused; 5xx, 408, 429: transient), so it
 * travels with the error; the message names the request but never the credentials.
 */
export class ProbeError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ProbeError';
    this.status = status;
  }
}
