import type { Principal } from './principal.ts';

/**
 * Resolves a presented key to a principal, or throws a GatewayError (401 for unknown, revoked
 * or expired keys; 403 for a suspended account). Hits are answered synchronously from memory;
 * only a key this process has not seen yet costs a store lookup.
 */
export interface Authenticator {
  authenticate(key: string): Principal | Promise<Principal>;
}
