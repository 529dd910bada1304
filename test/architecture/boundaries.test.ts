import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = sourceFiles(SRC).map((path) => ({ path: relative(SRC, path), text: readFileSync(path, 'utf8') }));

function importsOf(text: string): string[] {
  return [...text.matchAll(/^\s*import\s[^'"]*['"]([^'"]+)['"]/gm), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
}

test('providers import only the protocol, errors, config types and their own folder', () => {
  for (const file of files.filter((f) => f.path.startsWith('providers/'))) {
    for (const spec of importsOf(file.text)) {
      assert.ok(!/\/gateway\/|\/store\/|\/billing\/|\/limits\/|\/admin\//.test(spec), `${file.path} imports ${spec}`);
      assert.notEqual(spec, 'fastify', `${file.path} imports fastify`);
    }
  }
});

test('only the CLI writes to the console; everything else logs through pino', () => {
  for (const file of files.filter((f) => !f.path.startsWith('cli/'))) {
    assert.ok(!/\bconsole\.(log|error|warn|info|debug)\(/.test(file.text), `${file.path} uses console.*`);
  }
});

test('files stay small (400 lines)', () => {
  for (const file of files) {
    const lines = file.text.split('\n').length;
    assert.ok(lines <= 400, `${file.path} has ${lines} lines`);
  }
});

test('every provider folder is registered, and every registered factory has a folder', () => {
  const registry = readFileSync(join(SRC, 'providers/registry.ts'), 'utf8');
  const folders = readdirSync(join(SRC, 'providers')).filter((name) => statSync(join(SRC, 'providers', name)).isDirectory());
  for (const folder of folders) assert.ok(registry.includes(`./${folder}/`), `providers/${folder} is not in registry.ts`);
  for (const spec of importsOf(registry).filter((s) => s.startsWith('./') && s.split('/').length > 2)) {
    assert.ok(folders.includes(spec.split('/')[1]!), `registry.ts imports ${spec}, which has no folder`);
  }
});

test('no TypeScript syntax that type stripping cannot run (enums, namespaces)', () => {
  for (const file of files) {
    assert.ok(!/^\s*(export\s+)?(const\s+)?enum\s/m.test(file.text), `${file.path} declares an enum`);
    assert.ok(!/^\s*(export\s+)?namespace\s/m.test(file.text), `${file.path} declares a namespace`);
  }
});
