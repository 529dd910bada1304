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

test('rejects what is not an exact decimal', () => {
  for (const bad of ['', 'abc', '1e3', '0.0000000001', '1.2.3', '.5']) assert.equal(parseYuan(bad), undefined, bad);
});
