import type { StoreLogger } from '../store/logger.ts';

/**
 * What the store has to say when a CLI command opens it (migrations applied to a fresh or older
 * store, a lost PostgreSQL connection), as one plain line on stderr: stdout stays the command's
 * own output, which scripts parse (`--json`, `--csv`).
 */
export const cliStoreLogger: StoreLogger = {
  info: (obj, msg) => writeLine(msg, obj),
  error: (obj, msg) => writeLine(msg, obj),
};

function writeLine(msg: string, obj: object): void {
  const details = Object.entries(obj).map(([name, value]) => `${name}: ${describe(value)}`);
  process.stderr.write(`maas: ${msg}${details.length > 0 ? ` (${details.join('; ')})` : ''}\n`);
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (Array.isArray(value)) return value.map(String).join(', ');
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}
