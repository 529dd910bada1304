/**
 * Admission cost per request, in-process: key lookup (SHA-256 + the key directory's table) and
 * the three limits (concurrency, sliding-window RPM, TPM reserve + correct on release), over a
 * warm table of many keys with traffic spread across them. Prints ns per admission.
 *
 *   node bench/admission.ts [--keys 10000] [--ops 2000000]
 */
import { parseArgs } from 'node:util';
import { KeyDirectory, type KeyRow } from '../src/gateway/admission/key-directory.ts';
import { hashApiKey } from '../src/store/repositories/api-keys.ts';
import { MemoryLimiter } from '../src/limits/memory.ts';

const { values } = parseArgs({ options: { keys: { type: 'string', default: '10000' }, ops: { type: 'string', default: '2000000' } } });
const keyCount = Number(values.keys);
const ops = Number(values.ops);

const secrets = Array.from({ length: keyCount }, (_, i) => `sk-bench-${i.toString().padStart(44, '0')}`);
const rows: KeyRow[] = secrets.map((s, i) => ({
  id: `key_${i}`,
  keyHash: hashApiKey(s),
  models: null,
  limits: null,
  expiresAt: null,
  revokedAt: null,
  account: { id: `acct_${i}`, status: 'active', plan: 'enterprise' },
}));
const plans = { enterprise: { rpm: 1_000_000, tpm: 1_000_000_000, concurrency: 64 } };
const directory = new KeyDirectory(
  { findByHash: async () => undefined, listActive: async () => rows, changedSince: async () => [] },
  plans,
  undefined,
);
await directory.warm();
const limiter = new MemoryLimiter();

function admitOnce(i: number): void {
  const principal = directory.authenticate(secrets[i % keyCount]!);
  if (principal instanceof Promise) throw new Error('cold key in a warm benchmark');
  const decision = limiter.acquire(principal.keyId, principal.policy, 300);
  if (!decision.ok) throw new Error(`rejected: ${decision.limit}`);
  decision.release(120);
}

function measure(label: string, n: number, fn: (i: number) => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - start) / n;
  process.stdout.write(`${label.padEnd(38)} ${ns.toFixed(0).padStart(6)} ns/op\n`);
  return ns;
}

measure('warm-up', Math.min(ops, 200_000), admitOnce);
measure('sha256 of the key alone', ops, (i) => hashApiKey(secrets[i % keyCount]!));
measure(`admission (${keyCount} keys, 3 limits)`, ops, admitOnce);
const rss = process.memoryUsage().rss / 1048576;
process.stdout.write(`rss ${rss.toFixed(0)} MB, limiter keys tracked: ${limiter.size}\n`);
