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
  const ms = typeof value === 'number' || /^\d+$/.test(value) ? Number(value) * 1000 : parseDate(value);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0 || ms > LAST_MS) {
    throw invalidRequest(`'expires_at' must be an RFC 3339 date-time (with its offset, or a date) or Unix seconds up to the year 9999, got '${value}'.`, 'expires_at');
  }
  return ms;
}

/** 9999-12-31T23:59:59.999Z: what every store and date formatter here can hold. */
const LAST_MS = 253_402_300_799_999;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** A date (UTC midnight) or a date-time with its offset; an impossible day (02-30) is undefined, not March. */
function parseDate(text: string): number | undefined {
  const match = RFC3339.exec(text);
  if (match === null) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const midnight = new Date(Date.UTC(year, month - 1, day));
  if (midnight.getUTCFullYear() !== year || midnight.getUTCMonth() !== month - 1 || midnight.getUTCDate() !== day) return undefined;
  const ms = Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
  return Number.isNaN(ms) ? undefined : ms;
}
