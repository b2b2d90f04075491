// Shared fixtures for the runner executor tests: real temp roots, settings, contexts, and a
// /proc-based liveness check that treats zombies as dead.
import { readFileSync } from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { defaultAgentSettings } from '../../../src/runner/agent-config.ts';
import { DEFAULT_ENV_ALLOWLIST } from '../../../src/runner/child-env.ts';
import type { ExecContext, ExecSettings } from '../../../src/runner/executors/types.ts';

/** A fresh real directory under the OS temp dir; `cleanup` removes it. */
export async function makeTempDir(
  prefix = 'outpost-exec-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function makeSettings(roots: string[], overrides: Partial<ExecSettings> = {}): ExecSettings {
  return {
    roots,
    deniedPaths: [],
    shell: ['/bin/sh', '-c'],
    envAllowlist: DEFAULT_ENV_ALLOWLIST,
    maxOutputBytes: 1 << 20,
    maxReadBytes: 1 << 20,
    killGraceMs: 300,
    agents: defaultAgentSettings(DEFAULT_ENV_ALLOWLIST),
    ...overrides,
  };
}

export function makeCtx(settings: ExecSettings, extra: Partial<ExecContext> = {}): ExecContext {
  return {
    taskId: 'task_test',
    attempt: 1,
    timeoutMs: 10_000,
    signal: new AbortController().signal,
    settings,
    ...extra,
  };
}

/** Alive means the pid exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The process group id of a live pid, from /proc/<pid>/stat. */
export function groupOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[2]);
}

/** Polls `check` every 20 ms until it is true or `maxMs` passed. */
export async function waitFor(check: () => boolean, maxMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await delay(20);
  }
  return true;
}

/** Pids printed as `pid:<n>` lines, or written one per line to a pid file. */
export function parsePids(text: string): number[] {
  return [...text.matchAll(/(?:^|\n)(?:pid:)?(\d+)(?=\n|$)/g)].map((m) => Number(m[1]));
}
