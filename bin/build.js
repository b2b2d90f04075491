// Compiles the CLI (src/cli/main.ts) to JavaScript in dist/ with esbuild, for bin/outpost.js.
// `node bin/build.js` (npm run build; prepare, so npm ci leaves a fresh build) empties dist/ first.
//
// dist/outpost.mjs is a one-line module re-exporting the real entry, outpost-<hash>.mjs. Every
// other file's name carries a hash of its content, so concurrent builds (tests start many processes
// at once) write the same bytes to the same names; each file is written to a temp file and renamed,
// outpost.mjs last, so a process never imports a half-written build or one with chunks missing.
// Code splitting keeps the CLI's lazy imports lazy: a client command does not load Fastify, SQLite
// or pg, and a runner loads no server code.
import {
  existsSync,
  readdirSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
const SELF = fileURLToPath(import.meta.url);
/** What bin/outpost.js imports. */
export const ENTRY = join(DIST, 'outpost.mjs');

/** Whether dist/outpost.mjs exists and is newer than src/ and this file (the build options). */
export function isFresh() {
  let built;
  try {
    built = statSync(ENTRY).mtimeMs;
  } catch {
    return false;
  }
  return newestMtime(join(ROOT, 'src')) <= built && statSync(SELF).mtimeMs <= built;
}

/** Newest mtime under dir, directories included (adding or deleting a file changes its directory's). */
function newestMtime(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

/** Builds dist/; throws if esbuild is not installed or the build fails. */
export async function build() {
  const esbuild = await import('esbuild');
  // The build's mtime is when it started: a source saved during the build makes it stale.
  const started = Date.now();
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { outpost: 'src/cli/main.ts' },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    sourcesContent: false, // node only needs the mappings for stack traces; the map stays small
    outdir: DIST,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  mkdirSync(DIST, { recursive: true });
  for (const file of result.outputFiles) {
    if (!existsSync(file.path)) writeAtomically(file.path, file.contents);
  }
  // Lazily imported modules are entry points too in the metafile: pick the CLI's own by its source.
  const [main] = Object.entries(result.metafile.outputs).find(
    ([, out]) => out.entryPoint === 'src/cli/main.ts',
  );
  writeAtomically(ENTRY, `export * from './${basename(main)}';\n`, started);
}

function writeAtomically(path, contents, mtimeMs) {
  const tmp = `${path}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, contents);
  if (mtimeMs !== undefined) utimesSync(tmp, new Date(), new Date(mtimeMs));
  renameSync(tmp, path);
}

if (process.argv[1] === SELF) {
  rmSync(DIST, { recursive: true, force: true });
  await build();
}
