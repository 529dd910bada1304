#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript, run by Node's type stripping (Node >= 24, pinned by the
// `node` dependency, whose binary npm puts first on PATH for `npx maas` and npm scripts).
await import('../src/cli/main.ts');
