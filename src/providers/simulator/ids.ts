import { randomUUID } from 'node:crypto';

/** 32 random hex digits. randomUUID draws from a cached entropy pool: no syscall per id. */
export function randomHex(): string {
  return randomUUID().replaceAll('-', '');
}

/** Unix seconds, as OpenAI's `created`. */
export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
