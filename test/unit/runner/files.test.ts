// The file kinds against a real temp root: atomic writes that keep the mode, base64 round trips,
// literal edits, listings, and failures as data (not_found, not_unique, too_large, policy).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Kind, Outcome } from '../../../src/protocol/tasks.ts';
import { executeTask } from '../../../src/runner/executors/index.ts';
import { makeCtx, makeSettings, makeTempDir } from './exec-fixtures.ts';

let base = '';
let root = '';
let cleanup = (): Promise<void> => Promise.resolve();
before(async () => {
  ({ dir: base, cleanup } = await makeTempDir());
  root = join(base, 'root');
  await mkdir(root);
  await writeFile(join(base, 'outside.txt'), 'outside');
});
after(() => cleanup());

function run(kind: Kind, spec: Record<string, unknown>, maxReadBytes = 1 << 20): Promise<Outcome> {
  return executeTask(kind, spec, makeCtx(makeSettings([root], { maxReadBytes })));
}

function outputOf<T>(outcome: Outcome): T {
  assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
  return outcome.output as T;
}

describe('file.write', () => {
  it('replaces the target whole, keeps its mode, and leaves no temp file behind', async () => {
    const dir = join(root, 'atomic');
    await mkdir(dir);
    const target = join(dir, 'config.txt');
    await writeFile(target, 'old content that is longer than the new one');
    await chmod(target, 0o640);
    const out = outputOf<{ bytes: number; path: string }>(
      await run('file.write', { path: 'atomic/config.txt', content: 'new' }),
    );
    assert.deepEqual(out, { bytes: 3, path: target });
    assert.equal(await readFile(target, 'utf8'), 'new');
    assert.equal((await stat(target)).mode & 0o777, 0o640);
    assert.deepEqual(await readdir(dir), ['config.txt']);
  });

  it('creates parent directories', async () => {
    outputOf(await run('file.write', { path: 'made/deep/er/file.txt', content: 'x' }));
    assert.equal(await readFile(join(root, 'made', 'deep', 'er', 'file.txt'), 'utf8'), 'x');
  });

  it('refuses invalid base64 and paths outside the root', async () => {
    const bad = await run('file.write', {
      path: 'b.bin',
      content: '!!not base64!!',
      encoding: 'base64',
    });
    assert.equal(bad.error?.kind, 'bad_spec');
    const out = await run('file.write', { path: join(base, 'outside.txt'), content: 'pwned' });
    assert.equal(out.status, 'failed');
    assert.equal(out.error?.kind, 'policy');
    assert.equal(out.error?.retryable, false);
    assert.equal(await readFile(join(base, 'outside.txt'), 'utf8'), 'outside');
  });
});

describe('file.read', () => {
  it('returns UTF-8 text as content and as stdout', async () => {
    await writeFile(join(root, 'hello.txt'), 'héllo\n');
    const outcome = await run('file.read', { path: 'hello.txt' });
    assert.deepEqual(outputOf(outcome), { content: 'héllo\n', encoding: 'utf8', bytes: 7 });
    assert.equal(outcome.stdout, 'héllo\n');
  });

  it('returns binary content as base64, which round-trips through file.write', async () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0xc3]), randomBytes(4096)]);
    await writeFile(join(root, 'blob.bin'), bytes);
    const read = outputOf<{ content: string; encoding: string; bytes: number }>(
      await run('file.read', { path: 'blob.bin' }),
    );
    assert.equal(read.encoding, 'base64');
    assert.equal(read.bytes, bytes.length);
    outputOf(
      await run('file.write', { path: 'copy.bin', content: read.content, encoding: 'base64' }),
    );
    assert.ok((await readFile(join(root, 'copy.bin'))).equals(bytes));
  });

  it('fails with too_large over maxBytes, naming the size', async () => {
    await writeFile(join(root, 'big.txt'), 'x'.repeat(2000));
    const outcome = await run('file.read', { path: 'big.txt', maxBytes: 1000 });
    assert.equal(outcome.error?.kind, 'too_large');
    assert.match(outcome.error?.message ?? '', /2000 bytes, over the limit of 1000 bytes/);
    const bySettings = await run('file.read', { path: 'big.txt' }, 1500);
    assert.equal(bySettings.error?.kind, 'too_large');
  });

  it('reads files either side of the synchronous-read size, and past the read step, byte for byte', async () => {
    for (const size of [0, 64 * 1024, 64 * 1024 + 1, (1 << 20) + 4096]) {
      const bytes = randomBytes(size);
      await writeFile(join(root, `sized-${size}.bin`), bytes);
      const read = outputOf<{ content: string; encoding: string; bytes: number }>(
        await run('file.read', { path: `sized-${size}.bin`, encoding: 'base64' }, 4 << 20),
      );
      assert.equal(read.bytes, size);
      assert.ok(Buffer.from(read.content, 'base64').equals(bytes), `${size} bytes differ`);
    }
  });

  it('refuses a FIFO at once instead of blocking on its open', async () => {
    execFileSync('mkfifo', [join(root, 'pipe')]);
    const outcome = await run('file.read', { path: 'pipe' });
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error?.message ?? '', /not a regular file/);
  });

  it('fails with not_found for a missing file and policy for an escape', async () => {
    const missing = await run('file.read', { path: 'nope.txt' });
    assert.equal(missing.status, 'failed');
    assert.equal(missing.error?.kind, 'not_found');
    await symlink(base, join(root, 'up'));
    const escape = await run('file.read', { path: 'up/outside.txt' });
    assert.equal(escape.error?.kind, 'policy');
  });
});

describe('file.edit', () => {
  const file = () => join(root, 'edit.txt');

  it('replaces literally: $& and $1 in newString stay as typed', async () => {
    await writeFile(file(), 'price: 10\n');
    const out = outputOf(
      await run('file.edit', { path: 'edit.txt', oldString: '10', newString: '$& $1 $$' }),
    );
    assert.deepEqual(out, { replacements: 1 });
    assert.equal(await readFile(file(), 'utf8'), 'price: $& $1 $$\n');
  });

  it('fails with not_found when oldString is absent, leaving the file alone', async () => {
    await writeFile(file(), 'abc');
    const outcome = await run('file.edit', { path: 'edit.txt', oldString: 'zzz', newString: 'y' });
    assert.equal(outcome.error?.kind, 'not_found');
    assert.equal(outcome.error?.message, 'old_string not found in edit.txt');
    assert.equal(await readFile(file(), 'utf8'), 'abc');
  });

  it('fails with not_unique when oldString occurs twice, and replaceAll replaces every one', async () => {
    await writeFile(file(), 'a.b a.b axb');
    const outcome = await run('file.edit', { path: 'edit.txt', oldString: 'a.b', newString: 'c' });
    assert.equal(outcome.error?.kind, 'not_unique');
    assert.equal(
      outcome.error?.message,
      'old_string occurs 2 times in edit.txt; pass replaceAll or a longer string',
    );
    const all = await run('file.edit', {
      path: 'edit.txt',
      oldString: 'a.b',
      newString: 'c',
      replaceAll: true,
    });
    assert.deepEqual(outputOf(all), { replacements: 2 });
    assert.equal(await readFile(file(), 'utf8'), 'c c axb');
  });

  it('refuses a string where a boolean belongs', async () => {
    const outcome = await run('file.edit', {
      path: 'edit.txt',
      oldString: 'c',
      newString: 'd',
      replaceAll: 'false',
    });
    assert.equal(outcome.error?.kind, 'bad_spec');
    assert.match(outcome.error?.message ?? '', /spec\.replaceAll/);
  });
});

describe('file.list', () => {
  it('lists entries sorted by name with type, size and mtime', async () => {
    const dir = join(root, 'listing');
    await mkdir(join(dir, 'b-dir'), { recursive: true });
    await writeFile(join(dir, 'c.txt'), '12345');
    await writeFile(join(dir, 'a.txt'), '');
    await symlink('c.txt', join(dir, 'd-link'));
    const { entries } = outputOf<{
      entries: { name: string; type: string; size: number; mtimeMs: number }[];
    }>(await run('file.list', { path: 'listing' }));
    assert.deepEqual(
      entries.map((e) => [e.name, e.type]),
      [
        ['a.txt', 'file'],
        ['b-dir', 'dir'],
        ['c.txt', 'file'],
        ['d-link', 'symlink'],
      ],
    );
    assert.equal(entries[2]?.size, 5);
    assert.ok((entries[0]?.mtimeMs ?? 0) > 0);
  });

  it('fails with not_found for a missing directory', async () => {
    const outcome = await run('file.list', { path: 'no-such-dir' });
    assert.equal(outcome.error?.kind, 'not_found');
  });
});
