import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SecretBox, SecretBoxError, sealedFingerprint } from './secret-box.ts';

const box = new SecretBox(randomBytes(32));

function rejects(fn: () => unknown, reason: SecretBoxError['reason']): void {
  assert.throws(fn, (err: unknown) => err instanceof SecretBoxError && err.reason === reason);
}

test('round trip: what is sealed opens to the same text, unicode included', () => {
  for (const secret of ['sk-upstream-0123456789', '', '密钥-🔑', 'x'.repeat(4096)]) {
    assert.equal(box.open(box.seal(secret, 'mif-a'), 'mif-a'), secret);
  }
});

test('the sealed form carries neither the secret nor a repeatable ciphertext', () => {
  const secret = 'sk-upstream-do-not-leak';
  const a = box.seal(secret, 'mif-a');
  const b = box.seal(secret, 'mif-a');
  assert.notEqual(a, b, 'a fresh nonce per seal');
  assert.ok(!a.includes(secret) && !a.includes(Buffer.from(secret).toString('base64')));
  assert.match(a, /^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$/);
  assert.equal(sealedFingerprint(a), box.fingerprint);
});

test('tampering with any byte of the data is detected', () => {
  const sealed = box.seal('sk-upstream', 'mif-a');
  const [version, fingerprint, payload] = sealed.split('.') as [string, string, string];
  const data = Buffer.from(payload, 'base64url');
  for (const position of [0, 12, 28, data.length - 1]) {
    const altered = Buffer.from(data);
    altered[position]! ^= 0x01;
    rejects(() => box.open(`${version}.${fingerprint}.${altered.toString('base64url')}`, 'mif-a'), 'tampered');
  }
  rejects(() => box.open(`${version}.${fingerprint}.${data.subarray(0, 20).toString('base64url')}`, 'mif-a'), 'format');
});

test('a sealed value moved to another row (another context) does not open', () => {
  rejects(() => box.open(box.seal('sk-upstream', 'mif-a'), 'mif-b'), 'tampered');
});

test('a different key says so, naming both fingerprints', () => {
  const other = new SecretBox(randomBytes(32));
  assert.notEqual(other.fingerprint, box.fingerprint);
  assert.throws(
    () => other.open(box.seal('sk-upstream', 'mif-a'), 'mif-a'),
    (err: unknown) => err instanceof SecretBoxError && err.reason === 'wrong_key' && err.message.includes(box.fingerprint) && err.message.includes(other.fingerprint),
  );
});

test('malformed input and keys of the wrong size are refused', () => {
  rejects(() => box.open('sk-plaintext', 'mif-a'), 'format');
  rejects(() => box.open('v2.abcdef01.AAAA', 'mif-a'), 'format');
  assert.throws(() => new SecretBox(randomBytes(16)), RangeError);
});

test('the same key gives the same fingerprint (processes sharing a key recognise each other)', () => {
  const key = randomBytes(32);
  assert.equal(new SecretBox(key).fingerprint, new SecretBox(Buffer.from(key)).fingerprint);
  assert.equal(new SecretBox(key).open(new SecretBox(key).seal('s', 'c'), 'c'), 's');
});
