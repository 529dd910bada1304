/** A write the data forbids (unknown account, duplicate); the admin API answers 400. */
export class StoreConflictError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreConflictError';
  }
}
