import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatYuan, parseYuan } from './money.ts';

test('decimal strings round-trip exactly through nano-yuan', () => {
  for (const text of ['0', '12.345678', '0.000000001', '9999999999.5', '-3.25']) {
    assert.equal(formatYuan(parseYuan(text)!), text);
  }
  assert.equal(parseYuan('0.0003'), 300_000n);
  assert.equal(formatYuan(2n ** 63n - 1n), '9223372036.854775807');
});

test('formatting: whole yuan without a point, no trailing zeros, signs and tiny amounts', () => {
  const cases: Array<[bigint, string]> = [
    [0n, '0'],
    [1n, '0.000000001'],
    [-1n, '-0.000000001'],
    [1_000_000_000n, '1'],
    [10n ** 12n, '1000'],
    [1_500_000_000n, '1.5'],
    [-20_050_000_000n, '-20.05'],
    [120_000n, '0.00012'],
  ];
  for (const [nanos, text] of cases) assert.equal(formatYuan(nanos), text, String(nanos));
  // Any amount survives format → parse unchanged (deterministic pseudo-random spread of sizes).
  let x = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < 2000; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
    const nanos = (x >> BigInt(i % 60)) * (i % 3 === 0 ? -1n : 1n);
    assert.equal(parseYuan(formatYuan(nanos)), nanos, String(nanos));
  }
});

test('rejects what is not an exact decimal', () => {
  for (const bad of ['', 'abc', '1e3', '0.0000000001', '1.2.3', '.5']) assert.equal(parseYuan(bad), undefined, bad);
});
