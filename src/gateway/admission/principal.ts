import type { LimitPolicy } from '../../limits/limiter.ts';

/** Who is calling, as admission established it. Later phases read it; they never re-authenticate. */
export interface Principal {
  readonly role: 'admin' | 'user';
  readonly keyId: string;
  /** The tenant; undefined for the operator's admin key. */
  readonly accountId: string | undefined;
  /** Models this key may use (key allowlist ∩ plan); undefined = every model. */
  readonly models: ReadonlySet<string> | undefined;
  /** The key's effective limits: its plan, with the key's own overrides. */
  readonly policy: LimitPolicy;
}

export const ADMIN_PRINCIPAL: Principal = Object.freeze({
  role: 'admin',
  keyId: 'admin',
  accountId: undefined,
  models: undefined,
  policy: Object.freeze({ rpm: 0, tpm: 0, concurrency: 0 }),
});

export function mayUseModel(principal: Principal, model: string): boolean {
  return principal.models === undefined || principal.models.has(model);
}
