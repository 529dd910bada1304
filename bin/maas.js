#!/usr/bin/env -S node --max-semi-space-size=16
// Thin launcher: the CLI is TypeScript, run by Node's type stripping (Node >= 24, pinned by the
// `node` dependency, whose binary npm puts first on PATH for `npx maas` and npm scripts).
//
// Memory, measured in bench/README.md ("Memory"): the compile cache keeps the stripped
// JavaScript (and V8's code cache) on disk, so after the first start the TypeScript stripper —
// a WebAssembly module of ~17 MB resident — is never loaded; and a young generation capped at
// 2 × 16 MB instead of V8's default 2 × 64 MB takes ~90 MB off the resident set under load for
// no measurable throughput. NODE_OPTIONS can override either.
import { enableCompileCache } from 'node:module';

enableCompileCache();
await import('../src/cli/main.ts');
