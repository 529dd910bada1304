import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * Uniform random characters from `alphabet` out of the CSPRNG. Bytes at or above the largest
 * multiple of the alphabet size are rejected, so `byte % size` has no modulo bias.
 */
export function randomString(length: number, alphabet: string): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit && out.length < length) out += alphabet.charAt(byte % alphabet.length);
    }
  }
  return out;
}

/** `acct_…`, `key_…`: 20 base36 characters, about 103 bits. */
export function newId(prefix: string): string {
  return `${prefix}_${randomString(20, BASE36)}`;
}

/** An API key: `sk-` and 48 base62 characters (about 285 bits) from the CSPRNG. */
export function generateApiKey(): string {
  return `sk-${randomString(48, BASE62)}`;
}

/** A private deployment: `mif-` and 16 lowercase letters and digits (about 82 bits), as Infini-AI's GenStudio names them. */
export function newDeploymentId(): string {
  return `mif-${randomString(16, BASE36)}`;
}
