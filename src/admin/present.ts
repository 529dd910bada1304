import { formatYuan } from '../billing/money.ts';
import { invalidRequest } from '../errors/gateway-error.ts';
import type { Account } from '../store/repositories/accounts.ts';
import type { ApiKeyRecord } from '../store/repositories/api-keys.ts';

/** Wire shapes of the control plane: snake_case, Unix seconds, money as decimal strings. */
export function presentAccount(a: Account): Record<string, unknown> {
  return {
    id: a.id,
    object: 'account',
    name: a.name,
    plan: a.plan,
    balance: formatYuan(a.balance),
    held: formatYuan(a.held),
    status: a.status,
    created_at: seconds(a.createdAt),
    updated_at: seconds(a.updatedAt),
  };
}

export function presentKey(k: ApiKeyRecord, secret?: string): Record<string, unknown> {
  return {
    id: k.id,
    object: 'api_key',
    ...(secret === undefined ? {} : { key: secret }),
    prefix: k.prefix,
    account_id: k.accountId,
    name: k.name,
    models: k.models,
    limits: k.limits,
    expires_at: k.expiresAt === null ? null : seconds(k.expiresAt),
    revoked_at: k.revokedAt === null ? null : seconds(k.revokedAt),
    created_at: seconds(k.createdAt),
  };
}

export function list(data: unknown[]): { object: 'list'; data: unknown[] } {
  return { object: 'list', data };
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** `expires_at` as RFC 3339 text or Unix seconds → epoch ms; 400 naming the field otherwise. */
export function parseExpiry(value: string | number | null | undefined): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') return value * 1000;
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(value)) {
    throw invalidRequest(`'expires_at' must be an RFC 3339 date-time or Unix seconds, got '${value}'.`, 'expires_at');
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw invalidRequest(`'expires_at' is not a valid date: '${value}'.`, 'expires_at');
  return ms;
}
