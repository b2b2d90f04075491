#!/usr/bin/env node
// The `outpost` command. It runs the CLI compiled to JavaScript (dist/, see build.js), rebuilt
// first when anything under src/ is newer, so there is no build step to forget and no stale code.
// Compiled, not through the tsx loader: tsx's loader thread and esbuild service cost the server
// ~30 MiB of RSS and every start a TypeScript transform. If the build cannot be made (dist/ not
// writable, a syntax error in src/, esbuild missing) it falls back to tsx, which reports errors.
import { build, isFresh } from './build.js';

process.setSourceMapsEnabled(true); // stack traces point at src/ lines

let compiled = true;
try {
  if (!isFresh()) await build();
} catch {
  compiled = false;
}
if (!compiled) {
  const { register } = await import('tsx/esm/api');
  register();
}
const { main } = compiled
  ? await import('../dist/outpost.mjs')
  : await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
