// Which agent CLIs this machine has, and the report of their recent sessions to the server: after
// hello, after each agent task, and every few minutes. Reports are best effort: a server without
// the route (or a blip) is logged and the runner carries on.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AGENTS, type AgentName, type RecentSession } from '../../protocol/agents.ts';
import type { OutpostClient } from '../../sdk/client.ts';
import { buildChildEnv } from '../child-env.ts';
import { errorFields, type RunnerLog } from '../runner-log.ts';
import { detectAgents } from './find-binary.ts';
import { scanClaudeSessions, scanCodexSessions } from './recent.ts';
import type { AgentSettings } from './types.ts';

/** Often enough that "recent" is minutes old at worst; each report is one small POST. */
export const SESSION_REPORT_MS = 5 * 60_000;

type AgentTable = Readonly<Record<AgentName, AgentSettings>>;

type Scan = () => Promise<RecentSession[]>;

/**
 * The scanners of the agents found, reading where the CLI itself keeps sessions: its home as its
 * child would see it (HOME, or CLAUDE_CONFIG_DIR / CODEX_HOME when passed). Gemini keeps no
 * session files one could list this way, so it has none.
 */
export function recentScanners(
  agents: AgentTable,
  found: readonly AgentName[],
): Partial<Record<AgentName, Scan>> {
  const scanners: Partial<Record<AgentName, Scan>> = {};
  const envOf = (agent: AgentName) => buildChildEnv(agents[agent].envAllowlist);
  if (found.includes('claude')) {
    const env = envOf('claude');
    const dir = env.CLAUDE_CONFIG_DIR ?? join(env.HOME ?? homedir(), '.claude');
    scanners.claude = () => scanClaudeSessions(dir);
  }
  if (found.includes('codex')) {
    const env = envOf('codex');
    const dir = env.CODEX_HOME ?? join(env.HOME ?? homedir(), '.codex');
    scanners.codex = () => scanCodexSessions(dir);
  }
  return scanners;
}

/**
 * Finds the installed agent CLIs (logging the missing ones with the setting that fixes them) and
 * builds the reporter of their sessions; the runner claims agent tasks only if one was found.
 */
export async function prepareAgents(
  agents: AgentTable,
  client: SessionReporterDeps['client'],
  log: RunnerLog,
  runner: string,
): Promise<{ found: AgentName[]; reporter: SessionReporter }> {
  const found = await detectAgents(agents);
  const missing = AGENTS.filter((agent) => !found.includes(agent)).map(
    (agent) => `${agent} ('${agents[agent].path}'; set ${agents[agent].pathSetting})`,
  );
  log('info', 'agent CLIs', missing.length > 0 ? { found, missing } : { found });
  const scanners = recentScanners(agents, found);
  const reporter = createSessionReporter({ client, log, runner, scanners });
  return { found, reporter };
}

export interface SessionReporterDeps {
  client: Pick<OutpostClient, 'reportAgentSessions'>;
  log: RunnerLog;
  /** This runner's name: reports are kept per runner. */
  runner: string;
  scanners: Partial<Record<AgentName, Scan>>;
  intervalMs?: number;
}

export interface SessionReporter {
  /** Scans and reports one agent; a report already running is followed by one more, not doubled. */
  report(agent: AgentName): Promise<void>;
  reportAll(): Promise<void>;
  /** Reports every agent now and then every `intervalMs` until `stop`. */
  start(): void;
  stop(): void;
}

export function createSessionReporter(deps: SessionReporterDeps): SessionReporter {
  const running = new Map<AgentName, Promise<void>>();
  const again = new Set<AgentName>();
  const warned = new Set<string>();
  let timer: NodeJS.Timeout | undefined;

  async function reportOnce(agent: AgentName, scan: Scan): Promise<void> {
    try {
      const sessions = await scan();
      await deps.client.reportAgentSessions({ runner: deps.runner, agent, sessions });
      deps.log('debug', 'reported recent agent sessions', { agent, sessions: sessions.length });
    } catch (err) {
      // The same failure every few minutes (a server without the route) is worth one warning.
      const fields: Record<string, unknown> = { agent, ...errorFields(err) };
      const key = `${agent}:${String(fields.code ?? fields.error)}`;
      deps.log(
        warned.has(key) ? 'debug' : 'warn',
        'could not report recent agent sessions',
        fields,
      );
      warned.add(key);
    }
  }

  function report(agent: AgentName): Promise<void> {
    const scan = deps.scanners[agent];
    if (!scan) return Promise.resolve();
    const current = running.get(agent);
    if (current) {
      again.add(agent);
      return current;
    }
    const run = (async () => {
      do {
        again.delete(agent);
        await reportOnce(agent, scan);
      } while (again.has(agent));
    })().finally(() => running.delete(agent));
    running.set(agent, run);
    return run;
  }

  const reportAll = async () => {
    await Promise.all(AGENTS.map(report));
  };
  return {
    report,
    reportAll,
    start() {
      if (timer) return;
      void reportAll();
      timer = setInterval(() => void reportAll(), deps.intervalMs ?? SESSION_REPORT_MS);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
