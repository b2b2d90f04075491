// The environment a task's child process gets: the runner's variables named by an allowlist, plus
// the spec's own `env`. The runner's own settings and secrets never pass, whatever the allowlist says.

/** What a shell needs to behave like a login user's; `LC_*` is a prefix pattern. */
export const DEFAULT_ENV_ALLOWLIST: readonly string[] = Object.freeze([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LANGUAGE',
  'LC_*',
  'TERM',
  'SHELL',
  'TMPDIR',
  'TZ',
]);

/**
 * Runner configuration (tokens, server URL) and the legacy names of the same secrets. Refused
 * even when a pattern such as `*` would match, because the old runner leaked WORKER_TOKEN this way.
 */
const RUNNER_ONLY = /^(OUTPOST_|WORKER_)|^(CALLBACK_BOT_TOKEN|DISCORD_BOT_TOKEN)$/;

/**
 * Builds a child environment: allowlisted entries of `parentEnv`, then the spec's `env` on top.
 * @example const env = buildChildEnv(DEFAULT_ENV_ALLOWLIST, { CI: '1' });
 */
export function buildChildEnv(
  allowlist: readonly string[],
  specEnv: Readonly<Record<string, string>> = {},
  parentEnv: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const inherited =
    parentEnv === process.env ? inheritedFromRunner(allowlist) : inherit(allowlist, parentEnv);
  // Spread, not assignment, so a spec key named `__proto__` stays a plain entry.
  return { ...inherited, ...specEnv };
}

/**
 * The runner's own environment does not change while it runs, so its filtered copy is built once
 * per allowlist (filtering on every spawn cost ~0.27 ms, measurable at hundreds of tasks/s).
 */
const fromRunner = new WeakMap<readonly string[], Readonly<Record<string, string>>>();

function inheritedFromRunner(allowlist: readonly string[]): Readonly<Record<string, string>> {
  let env = fromRunner.get(allowlist);
  if (!env) fromRunner.set(allowlist, (env = Object.freeze(inherit(allowlist, process.env))));
  return env;
}

function inherit(
  allowlist: readonly string[],
  parentEnv: NodeJS.ProcessEnv,
): Record<string, string> {
  const allowed = createEnvMatcher(allowlist);
  const inherited: Record<string, string> = {};
  for (const [name, value] of Object.entries(parentEnv)) {
    if (value !== undefined && !RUNNER_ONLY.test(name) && allowed(name)) inherited[name] = value;
  }
  return inherited;
}

/** A predicate for names matching any entry: exact names, or a prefix ending in `*`. */
export function createEnvMatcher(allowlist: readonly string[]): (name: string) => boolean {
  const exact = new Set(allowlist.filter((p) => !p.endsWith('*')));
  const prefixes = allowlist.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  return (name) => exact.has(name) || prefixes.some((prefix) => name.startsWith(prefix));
}
