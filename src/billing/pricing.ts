import type { Price } from '../config/schema.ts';
import { parseYuan } from './money.ts';
import type { PriceSnapshot } from './types.ts';

/** A deployment's price (decimal yuan per 1K tokens) as integers; undefined → null (free). */
export function priceSnapshot(price: Price | undefined): PriceSnapshot | null {
  if (price === undefined) return null;
  const parse = (text: string): bigint => {
    const value = parseYuan(text);
    if (value === undefined || value < 0n) throw new RangeError(`price '${text}' is not a non-negative decimal with at most 9 decimals`);
    return value;
  };
  return {
    input: parse(price.input),
    output: parse(price.output),
    cachedInput: price.cached_input === undefined ? null : parse(price.cached_input),
  };
}

export interface BillableTokens {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
}

/**
 * (input × uncached prompt + cached_input × cached prompt + output × completion) / 1000, in
 * nano-yuan, rounded up: the per-1K prices make the division the only inexact step.
 */
export function costOf(price: PriceSnapshot | null, tokens: BillableTokens): bigint {
  if (price === null) return 0n;
  const cached = BigInt(Math.min(tokens.cachedTokens, tokens.promptTokens));
  const uncached = BigInt(tokens.promptTokens) - cached;
  const total = price.input * uncached + (price.cachedInput ?? price.input) * cached + price.output * BigInt(tokens.completionTokens);
  return (total + 999n) / 1000n;
}

/** The hold: the most a request may cost, its prompt estimated and its output at the cap. */
export function maxCost(price: PriceSnapshot | null, estimatedPromptTokens: number, maxOutputTokens: number): bigint {
  return costOf(price, { promptTokens: estimatedPromptTokens, completionTokens: maxOutputTokens, cachedTokens: 0 });
}
