import { createHash } from 'node:crypto';
import type { Principal } from './principal.ts';

/**
 * Resolves a presented key to a principal. Synchronous by contract: the hot path reads an
 * in-memory table; a store-backed implementation keeps its cache warm and invalidates it itself.
 */
export interface Authenticator {
  authenticate(key: string): Principal | undefined;
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/**
 * Keys from the environment (MAAS_API_KEYS, MAAS_ADMIN_KEY): the stop-gap until the key store.
 * Keys are held only as SHA-256 digests; looking a digest up leaks nothing about the key.
 */
export class StaticKeyAuthenticator implements Authenticator {
  readonly #byDigest = new Map<string, Principal>();

  constructor(apiKeys: readonly string[], adminKey: string | undefined) {
    apiKeys.forEach((key, i) => this.#add(key, { keyId: `env-${i}`, role: 'user' }));
    if (adminKey !== undefined) this.#add(adminKey, { keyId: 'admin', role: 'admin' });
  }

  #add(key: string, principal: Principal): void {
    this.#byDigest.set(digest(key).toString('base64'), principal);
  }

  authenticate(key: string): Principal | undefined {
    return this.#byDigest.get(digest(key).toString('base64'));
  }
}
