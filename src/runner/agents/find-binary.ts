// Whether an agent CLI is installed: the configured path, or a bare name looked up on the PATH
// its child would get, the way spawn() will look it up.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { AGENTS, type AgentName } from '../../protocol/agents.ts';
import { buildChildEnv } from '../child-env.ts';
import type { AgentSettings } from './types.ts';

/**
 * The absolute path of the executable `path` names, or undefined when there is none.
 * @example await findExecutable('claude', { PATH: '/usr/local/bin:/usr/bin' })
 */
export async function findExecutable(
  path: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | undefined> {
  if (path.includes('/')) return (await isExecutableFile(path)) ? resolve(path) : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue; // a relative PATH entry would depend on the cwd
    const candidate = join(dir, path);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The agents whose binary exists, looked up on the PATH their child would get. */
export async function detectAgents(
  agents: Readonly<Record<AgentName, AgentSettings>>,
): Promise<AgentName[]> {
  const found = await Promise.all(
    AGENTS.map(async (agent) => {
      const env = buildChildEnv(agents[agent].envAllowlist);
      return (await findExecutable(agents[agent].path, env)) ? agent : undefined;
    }),
  );
  return found.filter((agent) => agent !== undefined);
}
