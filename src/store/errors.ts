/**
 * The store's typed errors. Callers (admin API, CLI) map these to HTTP answers without knowing
 * which driver produced the failure; raw driver errors never leave a repository for the cases
 * below.
 */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** A write the data forbids (duplicate, a balance that would go below what is held); the admin API answers 400. */
export class StoreConflictError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreConflictError';
  }
}

/**
 * A write referred to a row that does not exist (a key for an unknown account). `entity` and
 * `id` say which, so the caller can answer 404 for a path id or 400 naming a body field.
 */
export class StoreNotFoundError extends StoreError {
  readonly entity: 'account' | 'key';
  readonly id: string;

  constructor(entity: 'account' | 'key', id: string, options?: { cause?: unknown }) {
    super(`unknown ${entity} '${id}'`, options);
    this.name = 'StoreNotFoundError';
    this.entity = entity;
    this.id = id;
  }
}
