/**
 * Recognises constraint violations from either driver, so repositories can turn them into
 * typed store errors instead of leaking driver details. Both shapes are stable, documented codes:
 * PostgreSQL SQLSTATE on `code`, SQLite extended result codes on `errcode` (node:sqlite).
 */
export type ConstraintViolation = 'foreign_key' | 'unique';

const POSTGRES: Readonly<Record<string, ConstraintViolation>> = {
  '23503': 'foreign_key',
  '23505': 'unique',
};

const SQLITE: Readonly<Record<number, ConstraintViolation>> = {
  787: 'foreign_key', // SQLITE_CONSTRAINT_FOREIGNKEY
  2067: 'unique', // SQLITE_CONSTRAINT_UNIQUE
  1555: 'unique', // SQLITE_CONSTRAINT_PRIMARYKEY
};

export function constraintViolation(err: unknown): ConstraintViolation | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, errcode } = err as { code?: unknown; errcode?: unknown };
  if (typeof errcode === 'number') return SQLITE[errcode];
  if (typeof code === 'string') return POSTGRES[code];
  return undefined;
}
