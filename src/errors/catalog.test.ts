import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CATALOG } from './catalog.ts';

test('docs/errors.md lists exactly the catalog, with the same status and type', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map<string, { status: number; type: string }>();
  for (const match of doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| `([a-z_]+)` \|/gm)) {
    rows.set(match[1]!, { status: Number(match[2]), type: match[3]! });
  }
  assert.deepEqual(Object.fromEntries(rows), ERROR_CATALOG);
});
