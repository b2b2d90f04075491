// Path confinement for file tasks and `cwd`: a path must resolve, symlinks and all, inside one of
// the runner's roots and outside every denied path, or the task fails with kind 'policy'.
//
// The system calls here are synchronous on purpose: each is one realpath(3) or lstat(2) of a local
// path, microseconds, while the promise form costs a libuv thread-pool round trip each (about
// 30 µs of CPU, and the larger part of a busy runner's time per file task). The trade-off is that
// a path on a hung network filesystem stalls the runner's event loop instead of one task.
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { TaskFailure, isErrno } from './executors/outcome.ts';
import type { ExecSettings } from './executors/types.ts';

export type RootSettings = Pick<ExecSettings, 'roots' | 'deniedPaths'>;

/** Linux gives up after 40 links (MAXSYMLINKS); dangling links we follow by hand get the same cap. */
const MAX_LINK_HOPS = 40;

/**
 * The absolute real path of `path` if it is allowed, else throws a TaskFailure of kind 'policy'.
 * Relative paths resolve against the first root; a path that does not exist yet is checked
 * through its nearest existing ancestor.
 * @example const file = await resolveInRoots('notes/todo.md', settings);
 */
export async function resolveInRoots(path: string, settings: RootSettings): Promise<string> {
  const known = thisTurn.get(settings)?.get(path);
  if (known !== undefined) return known;
  const real = resolveNow(path, settings);
  rememberForThisTurn(settings, path, real);
  return real;
}

/**
 * Admission checks a task's path and its executor checks it again moments later, in the same turn
 * of the event loop; each check is a realpath of every component (8 % of a busy runner's CPU).
 * An allowed result is kept until the turn ends, no longer: a path may change, and the next turn
 * resolves it afresh. Both checks happen before the open, so reusing the first moves the window
 * between check and open by microseconds, not more. A refusal is never kept.
 */
const thisTurn = new Map<RootSettings, Map<string, string>>();

function rememberForThisTurn(settings: RootSettings, path: string, real: string): void {
  if (thisTurn.size === 0) setImmediate(() => thisTurn.clear());
  let paths = thisTurn.get(settings);
  if (paths === undefined) thisTurn.set(settings, (paths = new Map<string, string>()));
  paths.set(path, real);
}

function resolveNow(path: string, settings: RootSettings): string {
  checkPathSyntax(path);
  const [firstRoot] = settings.roots;
  if (firstRoot === undefined) throw policy('no roots are configured; this runner allows no paths');
  const absolute = resolve(firstRoot, path);
  const real = realpathNearest(absolute);
  const roots = settings.roots.map((root) => configuredRealpath(resolve(root)));
  if (!roots.some((root) => isWithin(root, real))) {
    throw policy(`path is outside the allowed roots: ${describe(path, real)}`);
  }
  const denied = settings.deniedPaths.map((p) => configuredRealpath(resolve(p)));
  if (denied.some((d) => isWithin(d, real)))
    throw policy(`path is denied by the runner: ${describe(path, real)}`);
  return real;
}

function checkPathSyntax(path: string): void {
  if (path.includes('\0')) throw policy('path contains a NUL byte');
  if (path.split('/').includes('..')) throw policy(`path contains '..': ${path}`);
}

/** True when `child` is `parent` or below it; both must be normalised absolute paths. */
export function isWithin(parent: string, child: string): boolean {
  if (child === parent) return true;
  const prefix = parent.endsWith(sep) ? parent : parent + sep;
  return child.startsWith(prefix);
}

/**
 * Roots and denied paths come from the configuration and almost never move, yet resolving them on
 * every task was a quarter of a busy runner's CPU (three realpaths per check, two checks per file
 * task). Their real paths are kept for a second; one that does not exist is resolved every time,
 * so a root created later counts at once. The task's own path is resolved afresh every turn.
 */
const CONFIGURED_TTL_MS = 1_000;
const configured = new Map<string, { real: string; until: number }>();

function configuredRealpath(absolute: string): string {
  const now = Date.now();
  const known = configured.get(absolute);
  if (known !== undefined && known.until > now) return known.real;
  let real: string;
  try {
    real = realpathSync.native(absolute);
  } catch {
    return realpathNearest(absolute);
  }
  if (configured.size > 1_000) configured.clear();
  configured.set(absolute, { real, until: now + CONFIGURED_TTL_MS });
  return real;
}

/** realpath, except that a missing tail is appended to the real path of its nearest existing ancestor. */
function realpathNearest(absolute: string, hops = 0): string {
  try {
    return realpathSync.native(absolute);
  } catch (err) {
    if (isErrno(err, 'ELOOP')) throw policy(`too many levels of symbolic links: ${absolute}`);
    if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
  }
  // A dangling symlink is checked where it points: writing through it must not leave the roots.
  const target = danglingTarget(absolute);
  if (target !== undefined) {
    if (hops >= MAX_LINK_HOPS) throw policy(`too many levels of symbolic links: ${absolute}`);
    return realpathNearest(resolve(dirname(absolute), target), hops + 1);
  }
  const parent = dirname(absolute);
  if (parent === absolute) return absolute;
  return join(realpathNearest(parent, hops), basename(absolute));
}

function danglingTarget(absolute: string): string | undefined {
  try {
    const info = lstatSync(absolute);
    return info.isSymbolicLink() ? readlinkSync(absolute) : undefined;
  } catch {
    return undefined;
  }
}

function describe(given: string, real: string): string {
  return given === real ? given : `${given} (resolves to ${real})`;
}

function policy(message: string): TaskFailure {
  return new TaskFailure('policy', message);
}
