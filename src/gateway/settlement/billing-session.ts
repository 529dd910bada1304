import { formatYuan } from '../../billing/money.ts';
import { costOf, maxCost } from '../../billing/pricing.ts';
import type { BillingStore, UsageStatus } from '../../billing/types.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { Usage } from '../../protocol/usage.ts';
import type { Deployment } from '../routing/catalog.ts';

const NO_USAGE: Usage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, reported: false };

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
  readonly #store: BillingStore;
  readonly #deployment: Deployment;
  readonly #requestId: string;
  readonly #started = performance.now();
  #settlement: Promise<{ readonly balance: bigint }> | undefined;

  private constructor(store: BillingStore, ctx: HoldContext) {
    this.#store = store;
    this.#deployment = ctx.deployment;
    this.#requestId = ctx.requestId;
  }

  /** Places the hold, or throws 403 insufficient_quota before anything reaches an upstream. */
  static async open(store: BillingStore, ctx: HoldContext): Promise<BillingSession> {
    const amount = maxCost(ctx.deployment.priceSnapshot, ctx.estimatedPromptTokens, ctx.maxOutputTokens);
    const result = await store.placeHold({
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
    return new BillingSession(store, ctx);
  }

  cost(usage: Usage): bigint {
    return costOf(this.#deployment.priceSnapshot, usage);
  }

  /** Settles once; later calls return the first settlement. Resolves after it is durable. */
  settle(usage: Usage | undefined, status: UsageStatus, httpStatus: number, ttftMs: number | null): Promise<{ readonly balance: bigint }> {
    this.#settlement ??= this.#store.settle({
      requestId: this.#requestId,
      promptTokens: usage?.promptTokens ?? 0,
      completionTokens: usage?.completionTokens ?? 0,
      cachedTokens: usage?.cachedTokens ?? 0,
      cost: this.cost(usage ?? NO_USAGE),
      status,
      httpStatus,
      latencyMs: Math.round(performance.now() - this.#started),
      ttftMs: ttftMs === null ? null : Math.round(ttftMs),
      endedAt: Date.now(),
    });
    return this.#settlement;
  }

  /** Headers of a settled non-streaming answer: what it cost and what is left. */
  async settleForHeaders(usage: Usage): Promise<Record<string, string>> {
    const { balance } = await this.settle(usage, 'ok', 200, null);
    return { 'x-maas-cost': formatYuan(this.cost(usage)), 'x-maas-balance': formatYuan(balance) };
  }
}
