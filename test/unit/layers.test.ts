// Keeps the layer rule true: imports only point down (cli → server | runner | web | mcp →
// store | sdk → protocol | lib), and code that may run in a browser imports no node:* module.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, posix, relative, sep } from 'node:path';
import ts from 'typescript';

const SRC = join(import.meta.dirname, '../../src');
const LOWER = ['protocol', 'lib'];
/** What each layer may import besides itself; web/ and mcp/ are listed before they exist. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  protocol: [],
  lib: [],
  store: LOWER,
  sdk: LOWER,
  server: ['store', ...LOWER],
  runner: ['sdk', ...LOWER],
  web: ['sdk', ...LOWER],
  mcp: ['sdk', ...LOWER],
  cli: ['server', 'runner', 'web', 'mcp', 'store', 'sdk', ...LOWER],
};
/** Layers the dashboard may load in a browser, or that must stay pure. */
const NO_NODE = new Set(['protocol', 'lib', 'sdk', 'web']);

/** Why `file` (posix, relative to src/) may not import `specifier`, or undefined if it may. */
function wrongEdge(file: string, specifier: string): string | undefined {
  const from = file.split('/')[0]!;
  const allowed = ALLOWED[from];
  if (!allowed || !file.includes('/')) return `${file} is not inside a known layer`;
  if (isBuiltin(specifier)) {
    return NO_NODE.has(from) ? `${from}/ may not import ${specifier} (${file})` : undefined;
  }
  if (!specifier.startsWith('.')) return undefined; // a package: layers constrain our own code
  const target = posix.normalize(posix.join(posix.dirname(file), specifier));
  const to = target.split('/')[0]!;
  if (to === from || allowed.includes(to)) return undefined;
  return `${from}/ may not import ${to === '..' ? 'outside src/' : `${to}/`} (${file} → ${specifier})`;
}

function sourceFiles(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((path) => /\.(ts|tsx|mts)$/.test(path))
    .map((path) => path.split(sep).join('/'));
}

/** Import and export specifiers, static and dynamic, as TypeScript's own scanner finds them. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  return ts.preProcessFile(text, true, true).importedFiles.map((ref) => ref.fileName);
}

describe('layers', () => {
  it('the rule refuses wrong edges and allows downward ones', () => {
    assert.match(
      wrongEdge('runner/loop.ts', '../store/types.ts') ?? '',
      /runner\/ may not import store/,
    );
    assert.match(wrongEdge('server/app.ts', '../runner/x.ts') ?? '', /server\/ may not/);
    assert.match(wrongEdge('sdk/client.ts', 'node:http') ?? '', /sdk\/ may not import node:http/);
    assert.match(wrongEdge('lib/ids.ts', 'crypto') ?? '', /lib\/ may not import crypto/);
    assert.match(wrongEdge('protocol/x.ts', '../lib/ids.ts') ?? '', /protocol\/ may not/);
    assert.match(wrongEdge('store/a.ts', '../../test/x.ts') ?? '', /outside src/);
    assert.match(wrongEdge('index.ts', './cli/main.ts') ?? '', /not inside a known layer/);
    assert.equal(wrongEdge('server/routes/tasks.ts', '../../store/types.ts'), undefined);
    assert.equal(wrongEdge('runner/executors/shell.ts', 'node:child_process'), undefined);
    assert.equal(wrongEdge('cli/commands/serve.ts', '../../server/create-app.ts'), undefined);
    assert.equal(wrongEdge('protocol/tasks.ts', 'typebox'), undefined);
  });

  it('every import under src/ points down', () => {
    const files = sourceFiles();
    assert.ok(files.length > 0, `no .ts files found under ${relative(process.cwd(), SRC)}`);
    const wrong = files.flatMap((file) =>
      importsOf(file).flatMap((specifier) => wrongEdge(file, specifier) ?? []),
    );
    assert.deepEqual(wrong, []);
  });
});
