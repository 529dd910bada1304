import { formatYuan } from '../../billing/money.ts';
import { costOf, maxCost } from '../../billing/pricing.ts';
import type { BillingStore, UsageStatus } from '../../billing/types.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { Usage } from '../../protocol/usage.ts';
import type { Deployment } from '../routing/catalog.ts';
import { BalanceProjection } from './balance-projection.ts';

const NO_USAGE: Usage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, reported: false };

/** The data plane's billing: the store, and the balances projected for answers that leave before their settlement commits. */
export interface Billing {
  readonly store: BillingStore;
  readonly balances: BalanceProjection;
}

export function billingOn(store: BillingStore): Billing {
  return { store, balances: new BalanceProjection() };
}

export interface HoldContext {
  readonly requestId: string;
  readonly accountId: string;
  readonly keyId: string;
  readonly deployment: Deployment;
  readonly estimatedPromptTokens: number;
  readonly maxOutputTokens: number;
}

/**
 * One request's money: a hold of its maximum cost placed (durably) before dispatch, and exactly
 * one settlement with the real usage afterwards — on success, abort, upstream failure or cut
 * stream alike. A crash between the two leaves the hold for recovery at the next start.
 */
export class BillingSession {
  readonly #billing: Billing;
  readonly #deployment: Deployment;
  readonly #requestId: string;
  readonly #accountId: string;
  readonly #started = performance.now();
  #settlement: Promise<{ readonly balance: bigint }> | undefined;
  /** What the settlement charged. */
  #charged = 0n;
  /** The account's balance once this settlement and the others in flight commit. */
  #projectedBalance: bigint | undefined;

  private constructor(billing: Billing, ctx: HoldContext) {
    this.#billing = billing;
    this.#deployment = ctx.deployment;
    this.#requestId = ctx.requestId;
    this.#accountId = ctx.accountId;
  }

  /** Places the hold, or throws 403 insufficient_quota before anything reaches an upstream. */
  static async open(billing: Billing, ctx: HoldContext): Promise<BillingSession> {
    const amount = maxCost(ctx.deployment.priceSnapshot, ctx.estimatedPromptTokens, ctx.maxOutputTokens);
    const result = await billing.store.placeHold({
      requestId: ctx.requestId,
      accountId: ctx.accountId,
      keyId: ctx.keyId,
      model: ctx.deployment.model,
      chip: ctx.deployment.chip,
      deploymentId: ctx.deployment.id,
      provider: ctx.deployment.provider.name,
      amount,
      price: ctx.deployment.priceSnapshot,
      startedAt: Date.now(),
    });
    if (!result.ok) {
      throw new GatewayError(
        'insufficient_quota',
        `Insufficient balance: this request may cost up to ${formatYuan(amount)} yuan and ${formatYuan(result.available > 0n ? result.available : 0n)} yuan is available. Top up the account or lower max_tokens.`,
        { headers: { 'x-should-retry': 'false' } },
      );
    }
    billing.balances.opened(ctx.accountId, result.balance);
    return new BillingSession(billing, ctx);
  }

  cost(usage: Usage): bigint {
    return costOf(this.#deployment.priceSnapshot, usage);
  }

  /** Settles once; later calls return the first settlement. Resolves after it is durable. */
  settle(usage: Usage | undefined, status: UsageStatus, httpStatus: number, ttftMs: number | null): Promise<{ readonly balance: bigint }> {
    if (this.#settlement !== undefined) return this.#settlement;
    const cost = this.cost(usage ?? NO_USAGE);
    this.#charged = cost;
    const { store, balances } = this.#billing;
    const accountId = this.#accountId;
    this.#projectedBalance = balances.charging(accountId, cost);
    this.#settlement = store.settle({
      requestId: this.#requestId,
      promptTokens: usage?.promptTokens ?? 0,
      completionTokens: usage?.completionTokens ?? 0,
      cachedTokens: usage?.cachedTokens ?? 0,
      cost,
      status,
      httpStatus,
      latencyMs: Math.round(performance.now() - this.#started),
      ttftMs: ttftMs === null ? null : Math.round(ttftMs),
      endedAt: Date.now(),
    });
    this.#settlement.then(
      ({ balance }) => balances.charged(accountId, cost, balance),
      () => balances.charged(accountId, cost, undefined),
    );
    return this.#settlement;
  }

  /**
   * Settles a complete non-streaming answer and returns its headers at once: what it cost and
   * the balance once it is charged. The answer does not wait for the settlement's commit — the
   * durable hold already guarantees the request is billed, crash or not.
   */
  settleForHeaders(usage: Usage): Record<string, string> {
    void this.settle(usage, 'ok', 200, null).catch(() => {});
    const headers: Record<string, string> = { 'x-maas-cost': formatYuan(this.#charged) };
    if (this.#projectedBalance !== undefined) headers['x-maas-balance'] = formatYuan(this.#projectedBalance);
    return headers;
  }
}
