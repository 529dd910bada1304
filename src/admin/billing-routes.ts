import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { formatYuan, MAX_BALANCE, parseYuan } from '../billing/money.ts';
import { integerParam, singleValued } from './query.ts';
import type { BillingStore, LedgerEntry, UsageGroup, UsageQuery } from '../billing/types.ts';
import { GatewayError, invalidRequest } from '../errors/gateway-error.ts';
import { validateBody } from '../protocol/validate/validate.ts';
import { StoreConflictError } from '../store/errors.ts';
import { list, parseExpiry } from './present.ts';
import type { Tenancy } from './tenancy.ts';

const CreditBody = Type.Object(
  {
    amount: Type.String({ minLength: 1, description: 'yuan, decimal string' }),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    kind: Type.Optional(Type.Union([Type.Literal('topup'), Type.Literal('refund'), Type.Literal('adjustment')])),
  },
  { additionalProperties: false },
);
const checkCredit = TypeCompiler.Compile(CreditBody);

const GROUPS = ['day', 'hour', 'model', 'chip', 'key'] as const;
type Group = (typeof GROUPS)[number];

function json(reply: FastifyReply, status: number, body: unknown): void {
  reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
}

export function presentLedgerEntry(e: LedgerEntry): Record<string, unknown> {
  return {
    id: e.id,
    object: 'ledger_entry',
    account_id: e.accountId,
    kind: e.kind,
    amount: formatYuan(e.amount),
    balance_after: formatYuan(e.balanceAfter),
    reason: e.reason,
    request_id: e.requestId,
    created_at: Math.floor(e.createdAt / 1000),
  };
}

function presentGroup(g: UsageGroup): Record<string, unknown> {
  return {
    ...g.group,
    requests: g.requests,
    prompt_tokens: g.promptTokens,
    completion_tokens: g.completionTokens,
    cached_tokens: g.cachedTokens,
    total_tokens: g.promptTokens + g.completionTokens,
    cost: formatYuan(g.cost),
  };
}

type UsageParams = { from?: string; to?: string; key_id?: string; model?: string; chip?: string; account_id?: string; group_by?: string; format?: string };

/** Query string → UsageQuery; times are RFC 3339 or Unix seconds, 400 naming the parameter otherwise. */
export function usageQuery(q: UsageParams, accountId: string | undefined): UsageQuery {
  const groupBy = (q.group_by ?? '').split(',').filter((g) => g.length > 0);
  for (const g of groupBy) {
    if (!(GROUPS as readonly string[]).includes(g)) throw invalidRequest(`'group_by' must be some of ${GROUPS.join(', ')}; got '${g}'.`, 'group_by');
  }
  const time = (value: string | undefined, name: string): number | undefined => {
    if (value === undefined) return undefined;
    try {
      return parseExpiry(value) ?? undefined;
    } catch {
      throw invalidRequest(`'${name}' must be an RFC 3339 date-time or Unix seconds, got '${value}'.`, name);
    }
  };
  return {
    accountId,
    keyId: q.key_id,
    model: q.model,
    chip: q.chip,
    from: time(q.from, 'from'),
    to: time(q.to, 'to'),
    groupBy: groupBy as Group[],
  };
}

async function sendUsage(billing: BillingStore, reply: FastifyReply, query: UsageQuery, format: string | undefined): Promise<void> {
  const rows = (await billing.usage(query)).map(presentGroup);
  const totals = (await billing.usage({ ...query, groupBy: [] })).map(presentGroup)[0] ?? presentGroup({ group: {}, requests: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, cost: 0n });
  if (format === 'csv') {
    reply.header('content-type', 'text/csv; charset=utf-8').send(toCsv([...(query.groupBy ?? []), ...USAGE_COLUMNS], rows));
    return;
  }
  json(reply, 200, { ...list(rows), totals });
}

const USAGE_COLUMNS = ['requests', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'total_tokens', 'cost'] as const;

/** The header row always names every column, also for an empty period, so importers see one shape. */
function toCsv(columns: readonly string[], rows: Array<Record<string, unknown>>): string {
  const cell = (v: unknown): string => {
    let text = String(v ?? '');
    // Tenants name their own models and chips: text a spreadsheet would run as a formula is
    // neutralised with a leading quote (numbers, negative ones included, stay numbers).
    if (/^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

/** Credits, ledger and usage for the operator (/admin/v1) and usage for account owners (/maas/v1). */
export function registerBillingRoutes(app: FastifyInstance, billing: BillingStore, tenancy: Tenancy): void {
  app.register(async (admin) => {
    admin.addHook('preHandler', async (request: FastifyRequest) => {
      if (request.principal?.role !== 'admin') throw new GatewayError('permission_denied', 'This endpoint needs the admin key (MAAS_ADMIN_KEY).');
    });
    admin.post<{ Params: { id: string } }>('/admin/v1/accounts/:id/credits', async (request, reply) => {
      const body = validateBody<Static<typeof CreditBody>>(checkCredit, request.body);
      const amount = parseYuan(body.amount);
      if (amount === undefined) throw invalidRequest(`'amount' must be a decimal number of yuan with at most 9 decimals, got '${body.amount}'.`, 'amount');
      if (amount > MAX_BALANCE || amount < -MAX_BALANCE) throw invalidRequest(`'amount' may be at most ${formatYuan(MAX_BALANCE)} yuan either way.`, 'amount');
      const kind = body.kind ?? 'topup';
      if (amount <= 0n && kind !== 'adjustment') throw invalidRequest(`'amount' must be positive for a ${kind}.`, 'amount');
      if (amount === 0n) throw invalidRequest("'amount' of an adjustment may not be 0: it would change nothing.", 'amount');
      await tenancy.getAccount(request.params.id);
      try {
        const { balance } = await billing.credit(request.params.id, amount, kind, body.reason);
        json(reply, 200, { account_id: request.params.id, balance: formatYuan(balance) });
      } catch (err) {
        if (err instanceof StoreConflictError) throw invalidRequest(err.message, 'amount');
        throw err;
      }
    });
    admin.get<{ Params: { id: string }; Querystring: { limit?: string } }>('/admin/v1/accounts/:id/ledger', async (request, reply) => {
      await tenancy.getAccount(request.params.id);
      const limit = integerParam(singleValued(request.query).limit, 'limit', 1, 10_000) ?? 100;
      json(reply, 200, list((await billing.ledger(request.params.id, { limit })).map(presentLedgerEntry)));
    });
    admin.get<{ Querystring: UsageParams }>('/admin/v1/usage', async (request, reply) => {
      const query = singleValued(request.query);
      await sendUsage(billing, reply, usageQuery(query, query.account_id), query.format);
    });
    admin.get('/admin/v1/ledger/verify', async (_request, reply) => {
      const reports = await billing.verify();
      json(reply, 200, {
        ok: reports.every((r) => r.ok),
        accounts: reports.map((r) => ({
          account_id: r.accountId,
          balance: formatYuan(r.balance),
          ledger_sum: formatYuan(r.ledgerSum),
          held: formatYuan(r.held),
          open_holds: formatYuan(r.openHolds),
          ok: r.ok,
        })),
      });
    });
  });

  app.get<{ Querystring: UsageParams }>('/maas/v1/usage', async (request, reply) => {
    const principal = request.principal;
    if (principal?.role !== 'user' || principal.accountId === undefined) throw new GatewayError('permission_denied', 'Usage needs an account key.');
    const query = singleValued(request.query);
    await sendUsage(billing, reply, usageQuery(query, principal.accountId), query.format);
  });
}
