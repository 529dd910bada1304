import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/errors.ts';
import type { Dialect } from './db.ts';
import { SECRET_KEY_BYTES, SecretBox } from './secret-box.ts';

/** The generated key's file in the data dir, beside (never inside) the SQLite database. */
export const SECRET_KEY_FILE = 'secret.key';

export type SecretKeySource = 'env' | 'file' | 'generated';

export interface LoadedSecretKey {
  readonly box: SecretBox;
  readonly source: SecretKeySource;
}

export interface SecretKeyOptions {
  /** MAAS_SECRET_KEY. */
  readonly value: string | undefined;
  readonly dataDir: string;
  readonly dialect: Dialect;
}

/**
 * The key that seals upstream api keys in the store (docs/deployments.md):
 * - MAAS_SECRET_KEY when set (32 bytes, hex or base64);
 * - otherwise, on SQLite, `$MAAS_DATA_DIR/secret.key`, generated at first start with mode 0600:
 *   every process on that store shares the data dir and so the key;
 * - otherwise (PostgreSQL) none: processes on other hosts would each generate a different key
 *   and could not open each other's secrets. The caller then refuses to seal anything, and the
 *   start fails only if the store already holds sealed secrets (see PrivateDeployments.load).
 */
export function loadSecretKey(options: SecretKeyOptions): LoadedSecretKey | undefined {
  if (options.value !== undefined && options.value.trim() !== '') return { box: new SecretBox(parseSecretKey(options.value)), source: 'env' };
  if (options.dialect === 'postgres') return undefined;
  mkdirSync(options.dataDir, { recursive: true });
  const path = join(options.dataDir, SECRET_KEY_FILE);
  const generated = createKeyFile(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, `cannot read the secret key file: ${(err as Error).message}`);
  }
  try {
    return { box: new SecretBox(parseSecretKey(text)), source: generated ? 'generated' : 'file' };
  } catch {
    throw new ConfigError(path, 'is not a 32-byte key in hex or base64; restore it from a backup, or set MAAS_SECRET_KEY');
  }
}

/**
 * Writes a fresh key to `path` unless one is there; true when this call created it. The key is
 * written whole to a private temporary file and then hard-linked into place, which fails if the
 * file exists: two processes starting together agree on one key, and neither reads a half-written file.
 */
function createKeyFile(path: string): boolean {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, `${randomBytes(SECRET_KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(temporary);
  }
}

/** 32 bytes as 64 hex characters or as base64 (standard or URL-safe), e.g. `openssl rand -base64 32`. */
export function parseSecretKey(text: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed, 'base64');
    if (key.length === SECRET_KEY_BYTES) return key;
  }
  throw new ConfigError('MAAS_SECRET_KEY', `must be ${SECRET_KEY_BYTES} bytes written as 64 hex characters or as base64 (generate one with: openssl rand -base64 32)`);
}
