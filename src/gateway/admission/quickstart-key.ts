import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `sk-` + 48 base62 characters from the CSPRNG (rejection sampling keeps them uniform). */
export function generateApiKey(length = 48): string {
  let out = 'sk-';
  while (out.length < length + 3) {
    for (const byte of randomBytes(length)) {
      if (byte < 248 && out.length < length + 3) out += BASE62[byte % 62];
    }
  }
  return out;
}

export interface QuickstartKey {
  readonly key: string;
  readonly path: string;
  readonly created: boolean;
}

/**
 * With no keys configured, `npm start` would answer 401 to everything. Instead a development key
 * is generated once into the data dir (mode 0600) and reused on later starts.
 */
export function loadOrCreateQuickstartKey(dataDir: string): QuickstartKey {
  const path = join(dataDir, 'quickstart.key');
  try {
    const key = readFileSync(path, 'utf8').trim();
    if (key.length > 0) return { key, path, created: false };
  } catch {
    // not there yet: create it below
  }
  mkdirSync(dataDir, { recursive: true });
  const key = generateApiKey();
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  return { key, path, created: true };
}
