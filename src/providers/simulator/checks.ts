/**
 * Tiny value checkers shared by the option parser and the fault parser. Each throws an Error
 * whose message starts with the full field path, so a bad config line is found at once.
 */
export type Checker<T> = (value: unknown, field: string) => T;

export const nonNegativeNumber: Checker<number> = (value, field) => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`${field} must be a non-negative number`);
  return value;
};

export const nonNegativeInteger: Checker<number> = (value, field) => {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new Error(`${field} must be a non-negative integer`);
  return value as number;
};

export const positiveInteger: Checker<number> = (value, field) => {
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw new Error(`${field} must be a positive integer`);
  return value as number;
};

export const boolean: Checker<boolean> = (value, field) => {
  if (typeof value !== 'boolean') throw new Error(`${field} must be true or false`);
  return value;
};

export const string: Checker<string> = (value, field) => {
  if (typeof value !== 'string') throw new Error(`${field} must be a string`);
  return value;
};

export function integerIn(min: number, max: number): Checker<number> {
  return (value, field) => {
    if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
      throw new Error(`${field} must be an integer from ${min} to ${max}`);
    }
    return value as number;
  };
}

export function oneOf<T extends string>(allowed: readonly T[]): Checker<T> {
  return (value, field) => {
    if (!allowed.includes(value as T)) throw new Error(`${field} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
    return value as T;
  };
}

export function plainObject(value: unknown, field: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${field} must be an object`);
  return value as Record<string, unknown>;
}

export type Parsed<T extends Record<string, Checker<unknown>>> = { -readonly [K in keyof T]?: ReturnType<T[K]> };

/**
 * Checks every key of `obj` against `table`: unknown keys are errors (so a typo such as
 * `ttft: 100` is not silently ignored), null and undefined mean "not set".
 */
export function parseFields<T extends Record<string, Checker<unknown>>>(obj: Record<string, unknown>, table: T, where: string, what: string): Parsed<T> {
  const out: Parsed<T> = {};
  for (const [key, value] of Object.entries(obj)) {
    const check = Object.hasOwn(table, key) ? table[key] : undefined;
    if (check === undefined) throw new Error(`${where}.${key} is not a ${what} (known: ${Object.keys(table).join(', ')})`);
    if (value !== undefined && value !== null) out[key as keyof T] = check(value, `${where}.${key}`) as ReturnType<T[keyof T]>;
  }
  return out;
}
