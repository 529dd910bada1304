import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { StoreError } from './errors.ts';

/** AES-256: the key is 32 bytes. */
export const SECRET_KEY_BYTES = 32;
/** GCM's standard 96-bit nonce, random per seal: 2^32 seals under one key stay far from a collision. */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1';

export type SecretBoxFailure = 'format' | 'wrong_key' | 'tampered';

/** A sealed secret that cannot be opened; `reason` tells a misconfigured key from damaged data. */
export class SecretBoxError extends StoreError {
  readonly reason: SecretBoxFailure;

  constructor(reason: SecretBoxFailure, message: string) {
    super(message);
    this.name = 'SecretBoxError';
    this.reason = reason;
  }
}

/**
 * Seals short secrets (upstream api keys) for the store with AES-256-GCM. A sealed value is
 * `v1.<key fingerprint>.<base64url(iv | tag | ciphertext)>`: the fingerprint (an HMAC of a fixed
 * label under the key, so it says nothing about the key) lets a process with a different key
 * say exactly that instead of "corrupt data". `context` (the row id) is authenticated too, so a
 * sealed value copied onto another row does not open.
 */
export class SecretBox {
  readonly #key: Buffer;
  /** 8 hex characters identifying the key, safe to log and to store. */
  readonly fingerprint: string;

  constructor(key: Buffer) {
    if (key.length !== SECRET_KEY_BYTES) throw new RangeError(`a secret key is ${SECRET_KEY_BYTES} bytes, got ${key.length}`);
    this.#key = Buffer.from(key);
    this.fingerprint = createHmac('sha256', this.#key).update('maas secret key fingerprint').digest('hex').slice(0, 8);
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const payload = Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
    return `${VERSION}.${this.fingerprint}.${payload}`;
  }

  open(sealed: string, context: string): string {
    const [version, fingerprint, payload, ...rest] = sealed.split('.');
    if (version !== VERSION || fingerprint === undefined || payload === undefined || rest.length > 0) {
      throw new SecretBoxError('format', 'not a sealed secret (expected v1.<fingerprint>.<data>)');
    }
    if (fingerprint !== this.fingerprint) {
      throw new SecretBoxError('wrong_key', `sealed with the secret key ${fingerprint}, but this process has the key ${this.fingerprint}`);
    }
    const data = Buffer.from(payload, 'base64url');
    if (data.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError('format', 'sealed secret is truncated');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, data.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(data.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(data.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('tampered', 'sealed secret failed authentication: it was altered, or belongs to another row');
    }
  }
}

/** The fingerprint in a sealed value, without opening it (to say which key a store was sealed with). */
export function sealedFingerprint(sealed: string): string | undefined {
  const [version, fingerprint] = sealed.split('.');
  return version === VERSION ? fingerprint : undefined;
}
