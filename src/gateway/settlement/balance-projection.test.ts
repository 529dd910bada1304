import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BalanceProjection } from './balance-projection.ts';

test('a charge counts every other charge of the account still in flight, and commits replace the estimate', () => {
  const p = new BalanceProjection();
  p.opened('a', 100n);
  p.opened('a', 100n);
  assert.equal(p.charging('a', 5n), 95n);
  assert.equal(p.charging('a', 3n), 92n, 'the first charge is not committed yet but counts');
  p.charged('a', 5n, 95n);
  p.charged('a', 3n, 92n);
  assert.equal(p.charging('a', 1n), undefined, 'no session open: nothing kept');
});

test('a session that opened before another settled still sees that settlement', () => {
  const p = new BalanceProjection();
  p.opened('a', 100n); // X
  p.opened('a', 100n); // Y
  p.charging('a', 5n); // Y
  p.charged('a', 5n, 95n);
  assert.equal(p.charging('a', 3n), 92n, 'X: 100 at its hold, 95 after Y');
});

test('a failed settlement leaves the committed balance; another process\'s charge shows at the next commit', () => {
  const p = new BalanceProjection();
  p.opened('a', 100n);
  p.opened('a', 100n);
  p.charging('a', 5n);
  p.charged('a', 5n, undefined);
  p.opened('a', 80n); // elsewhere 20 was charged
  assert.equal(p.charging('a', 1n), 79n);
  assert.equal(p.charging('b', 1n), undefined, 'another account is not mixed in');
});
