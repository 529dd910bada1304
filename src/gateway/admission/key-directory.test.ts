import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../errors/gateway-error.ts';
import { hashApiKey } from '../../store/repositories/api-keys.ts';
import { KeyDirectory, type KeyRow, type KeySource } from './key-directory.ts';

const PLANS = { basic: { rpm: 60, tpm: 10_000, concurrency: 4, models: ['a', 'b'] } };

function row(secret: string, over: Partial<KeyRow> = {}): KeyRow & { updatedAt: number } {
  return {
    id: `key_${secret}`,
    keyHash: hashApiKey(secret),
    models: null,
    limits: null,
    expiresAt: null,
    revokedAt: null,
    account: { id: 'acct_1', status: 'active', plan: 'basic' },
    updatedAt: 0,
    ...over,
  };
}

function source(rows: Array<KeyRow & { updatedAt: number }>): KeySource & { lookups: number } {
  const s = {
    lookups: 0,
    async findByHash(hash: string) {
      s.lookups++;
      return rows.find((r) => r.keyHash === hash);
    },
    async listActive() {
      return rows.filter((r) => r.revokedAt === null);
    },
    async changedSince() {
      return rows;
    },
  };
  return s;
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as GatewayError).code;
  }
  return undefined;
}

test('warm keys answer synchronously with the plan merged with key overrides', async () => {
  const dir = new KeyDirectory(source([row('s1', { limits: { rpm: 5 }, models: ['a', 'z'] })]), PLANS, undefined);
  await dir.warm();
  const principal = dir.authenticate('s1');
  assert.ok(!(principal instanceof Promise));
  assert.deepEqual(principal.policy, { rpm: 5, tpm: 10_000, concurrency: 4 });
  assert.deepEqual([...principal.models!], ['a'], 'key allowlist ∩ plan models');
});

test('revoked, expired, suspended and plan-less keys are refused with the right code', async () => {
  let now = 1_000;
  const dir = new KeyDirectory(source([]), PLANS, undefined, () => now);
  dir.upsertKey(row('rev', { revokedAt: 5 }));
  dir.upsertKey(row('exp', { expiresAt: 2_000 }));
  dir.upsertKey(row('sus', { account: { id: 'acct_2', status: 'suspended', plan: 'basic' } }));
  dir.upsertKey(row('gold', { account: { id: 'acct_3', status: 'active', plan: 'gold' } }));
  assert.equal(code(() => dir.authenticate('rev')), 'invalid_token');
  assert.equal(code(() => dir.authenticate('exp')), undefined);
  now = 2_000;
  assert.equal(code(() => dir.authenticate('exp')), 'invalid_token');
  assert.equal(code(() => dir.authenticate('sus')), 'permission_denied');
  assert.equal(code(() => dir.authenticate('gold')), 'permission_denied', 'an unknown plan fails closed');
  dir.updateAccount({ id: 'acct_2', status: 'active', plan: 'basic' });
  assert.equal(code(() => dir.authenticate('sus')), undefined);
});

test('unknown keys cost one lookup, then are remembered briefly', async () => {
  let now = 0;
  const src = source([]);
  const dir = new KeyDirectory(src, PLANS, undefined, () => now);
  await assert.rejects(async () => dir.authenticate('nope'), GatewayError);
  assert.equal(code(() => dir.authenticate('nope')), 'invalid_token');
  assert.equal(src.lookups, 1);
  now = 10_000;
  await assert.rejects(async () => dir.authenticate('nope'), GatewayError);
  assert.equal(src.lookups, 2);
});

test('the admin key is recognised by its hash', () => {
  const dir = new KeyDirectory(source([]), PLANS, hashApiKey('root'));
  const p = dir.authenticate('root');
  assert.ok(!(p instanceof Promise) && p.role === 'admin');
});

test('a refresh that fails is retried from the same point: a revocation made meanwhile is not skipped', async () => {
  let now = 10_000;
  const rows = [row('k')];
  let failNext = false;
  const src: KeySource = {
    async findByHash(hash: string) {
      return rows.find((r) => r.keyHash === hash);
    },
    async listActive() {
      return rows.filter((r) => r.revokedAt === null);
    },
    async changedSince(since: number) {
      if (failNext) {
        failNext = false;
        throw new Error('store briefly unreachable');
      }
      return rows.filter((r) => r.updatedAt >= since);
    },
  };
  const accounts = { changedSince: async () => [] };
  const dir = new KeyDirectory(src, PLANS, undefined, () => now);
  await dir.warm();
  assert.equal(code(() => dir.authenticate('k')), undefined);
  rows[0] = { ...row('k', { revokedAt: 10_500 }), updatedAt: 10_500 }; // another process revokes it
  now = 12_000;
  failNext = true;
  await assert.rejects(dir.refresh(accounts), /briefly unreachable/);
  now = 20_000; // long past the overlap window of the failed attempt
  await dir.refresh(accounts);
  assert.equal(code(() => dir.authenticate('k')), 'invalid_token');
});
