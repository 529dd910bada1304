import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DB_MODULE = new URL('../../src/store/db.ts', import.meta.url).href;

test('a store on the embedded default never loads the PostgreSQL driver', () => {
  const dir = mkdtempSync(join(tmpdir(), 'maas-footprint-'));
  try {
    const script = `
      import { createRequire } from 'node:module';
      import { openStore } from ${JSON.stringify(DB_MODULE)};
      const store = await openStore({ dataDir: ${JSON.stringify(dir)} });
      await store.close();
      const pgModules = () => Object.keys(createRequire(import.meta.url).cache).filter((p) => /node_modules\\/pg\\//.test(p));
      const before = pgModules();
      await import('pg'); // the control: the probe does see the driver once something loads it
      process.stdout.write(JSON.stringify({ before, after: pgModules().length }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { before: string[]; after: number };
    assert.deepEqual(out.before, []);
    assert.ok(out.after > 0, 'loading pg shows up in the probe');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
