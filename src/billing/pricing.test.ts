import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatYuan, parseYuan } from './money.ts';
import { costOf, maxCost, priceSnapshot } from './pricing.ts';

test("seed 002: 1,000k tokens on chip A at X plus 500k on chip B at Y cost exactly 1000·X + 500·Y", () => {
  const chipA = priceSnapshot({ input: '0.004', output: '0.004' });
  const chipB = priceSnapshot({ input: '0.0025', output: '0.0025' });
  const onA = costOf(chipA, { promptTokens: 400_000, completionTokens: 600_000, cachedTokens: 0 });
  const onB = costOf(chipB, { promptTokens: 100_000, completionTokens: 400_000, cachedTokens: 0 });
  assert.equal(onA, parseYuan('4')); // 1000 × 0.004
  assert.equal(onB, parseYuan('1.25')); // 500 × 0.0025
  assert.equal(formatYuan(onA + onB), '5.25');
});

test('cached prompt tokens are priced at cached_input, or at input when none is set', () => {
  const withCache = priceSnapshot({ input: '0.002', output: '0.008', cached_input: '0.0005' });
  assert.equal(costOf(withCache, { promptTokens: 1000, completionTokens: 0, cachedTokens: 800 }), parseYuan('0.0008'));
  const noCache = priceSnapshot({ input: '0.002', output: '0.008' });
  assert.equal(costOf(noCache, { promptTokens: 1000, completionTokens: 0, cachedTokens: 800 }), parseYuan('0.002'));
});

test('a cost is rounded up to the nano-yuan; free deployments cost nothing', () => {
  const price = priceSnapshot({ input: '0.000000001', output: '0' });
  assert.equal(costOf(price, { promptTokens: 1, completionTokens: 0, cachedTokens: 0 }), 1n);
  assert.equal(costOf(null, { promptTokens: 1e6, completionTokens: 1e6, cachedTokens: 0 }), 0n);
  assert.equal(maxCost(priceSnapshot({ input: '0.004', output: '0.016' }), 100, 1000), parseYuan('0.0164'));
});
