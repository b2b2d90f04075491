// Path confinement: symlink escapes, '..', denied paths and NUL bytes are refused with kind
// 'policy'; paths inside a root, existing or not yet, resolve to their real location.
import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TaskFailure } from '../../../src/runner/executors/outcome.ts';
import { resolveInRoots } from '../../../src/runner/roots.ts';
import { makeSettings, makeTempDir } from './exec-fixtures.ts';

let base = '';
let root = '';
let outside = '';
let cleanup = (): Promise<void> => Promise.resolve();
before(async () => {
  ({ dir: base, cleanup } = await makeTempDir());
  root = join(base, 'root');
  outside = join(base, 'outside');
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'secret.txt'), 'secret');
  await writeFile(join(root, 'sub', 'a.txt'), 'a');
  await symlink(outside, join(root, 'escape'));
  await symlink(join(outside, 'nowhere', 'x'), join(root, 'dangling'));
  await symlink(join(root, 'sub'), join(root, 'inner-link'));
  await mkdir(join(root, '.outpost'));
});
after(() => cleanup());

async function refusal(path: string, deniedPaths: string[] = []): Promise<string> {
  const settings = makeSettings([root], { deniedPaths });
  const err = await resolveInRoots(path, settings).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof TaskFailure, `expected ${path} to be refused`);
  assert.equal(err.kind, 'policy');
  return err.message;
}

describe('resolveInRoots', () => {
  it('refuses a symlink that escapes the root', async () => {
    assert.match(
      await refusal('escape/secret.txt'),
      /^path is outside the allowed roots: escape\/secret.txt \(resolves to /,
    );
    assert.match(await refusal(join(root, 'escape')), /outside the allowed roots/);
  });

  it('refuses a dangling symlink that points outside, so a write cannot follow it', async () => {
    assert.match(await refusal('dangling'), /outside the allowed roots/);
  });

  it("refuses any '..' segment, even one that stays inside", async () => {
    assert.equal(await refusal('sub/../sub/a.txt'), "path contains '..': sub/../sub/a.txt");
    assert.match(await refusal(`${root}/../outside/secret.txt`), /contains '\.\.'/);
  });

  it('refuses absolute paths outside every root, and NUL bytes', async () => {
    assert.match(await refusal(join(outside, 'secret.txt')), /outside the allowed roots/);
    assert.match(await refusal('/etc/passwd'), /outside the allowed roots/);
    assert.equal(await refusal('sub/a\0.txt'), 'path contains a NUL byte');
  });

  it('refuses a path in deniedPaths, also when reached through a symlink', async () => {
    const denied = [join(root, 'sub')];
    assert.match(await refusal('sub/a.txt', denied), /^path is denied by the runner: /);
    assert.match(await refusal('inner-link/a.txt', denied), /denied/);
    assert.match(await refusal('.outpost/new.json', [join(root, '.outpost')]), /denied/);
  });

  it('allows existing and not-yet-existing paths inside a root, and the root itself', async () => {
    const settings = makeSettings([root]);
    assert.equal(await resolveInRoots('sub/a.txt', settings), join(root, 'sub', 'a.txt'));
    assert.equal(
      await resolveInRoots('new/dir/file.txt', settings),
      join(root, 'new', 'dir', 'file.txt'),
    );
    assert.equal(
      await resolveInRoots('inner-link/later.txt', settings),
      join(root, 'sub', 'later.txt'),
    );
    assert.equal(await resolveInRoots(root, settings), root);
    assert.equal(await resolveInRoots('.', settings), root);
  });

  it('resolves relative paths against the first root and accepts any root', async () => {
    const settings = makeSettings([join(root, 'sub'), outside]);
    assert.equal(await resolveInRoots('a.txt', settings), join(root, 'sub', 'a.txt'));
    assert.equal(
      await resolveInRoots(join(outside, 'secret.txt'), settings),
      join(outside, 'secret.txt'),
    );
  });

  it('takes a root created after a first check at once (a missing root is not remembered)', async () => {
    const late = join(base, 'late-root');
    const settings = makeSettings([late]);
    const before = await resolveInRoots(join(late, 'f.txt'), settings);
    assert.equal(before, join(late, 'f.txt'));
    // The root appears as a link to another directory: checks follow the link straight away.
    await symlink(outside, late);
    assert.equal(
      await resolveInRoots(join(late, 'secret.txt'), settings),
      join(outside, 'secret.txt'),
    );
  });

  it('follows a root that moved once its remembered real path is a second old', async () => {
    const moving = join(base, 'moving-root');
    await symlink(join(root, 'sub'), moving);
    const settings = makeSettings([moving]);
    assert.equal(await resolveInRoots('a.txt', settings), join(root, 'sub', 'a.txt'));
    await rm(moving);
    await symlink(outside, moving);
    // Within the second the old real root still holds, so the new target is outside it.
    const inside = await resolveInRoots('secret.txt', settings).catch((e: unknown) => e);
    assert.ok(inside instanceof TaskFailure && inside.kind === 'policy');
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    assert.equal(await resolveInRoots('secret.txt', settings), join(outside, 'secret.txt'));
  });

  it('resolves a task path afresh in the next turn of the event loop, after a symlink swap', async () => {
    const swap = join(root, 'swap');
    await symlink(join(root, 'sub'), swap);
    const settings = makeSettings([root]);
    // Admission's check and the executor's, in one turn: the second reuses the first.
    const [first, again] = await Promise.all([
      resolveInRoots('swap/a.txt', settings),
      resolveInRoots('swap/a.txt', settings),
    ]);
    assert.deepEqual([first, again], [join(root, 'sub', 'a.txt'), join(root, 'sub', 'a.txt')]);
    await rm(swap);
    await symlink(outside, swap);
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(await refusal('swap/a.txt'), /outside the allowed roots/);
    const err = await resolveInRoots('swap/a.txt', settings).catch((e: unknown) => e);
    assert.ok(err instanceof TaskFailure && err.kind === 'policy', 'the same settings too');
  });

  it('refuses everything when no roots are configured', async () => {
    const err = await resolveInRoots('x', makeSettings([])).catch((e: unknown) => e);
    assert.ok(err instanceof TaskFailure && err.kind === 'policy');
  });
});
