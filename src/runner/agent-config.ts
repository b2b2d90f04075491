// The runner's settings for each agent CLI: env OUTPOST_<AGENT>_* (and CLAUDE_PATH, CODEX_PATH,
// GEMINI_PATH for the binary) beat the config file's `agents.<agent>` object, which beats defaults.
import { AGENTS, type AgentName } from '../protocol/agents.ts';
import {
  createFieldReader,
  listField,
  msField,
  pathField,
  stringField,
  type ConfigFile,
  type FieldParser,
} from '../lib/config-fields.ts';
import type { AgentSettings } from './agents/types.ts';
import { createEnvMatcher } from './child-env.ts';

/** What `agents.<agent>` in the config file may hold; each agent reads its own mode key. */
interface AgentFileFields {
  path: string;
  cwd: string;
  models: string[];
  permissionMode: string;
  sandbox: string;
  approvalMode: string;
  args: string[];
  timeoutMs: number;
  envAllow: string[];
}

type ModeKey = 'permissionMode' | 'sandbox' | 'approvalMode';

interface AgentDefaults {
  modeKey: ModeKey;
  modeEnv: string;
  /** What the CLI needs from the runner's environment besides the shared allowlist: its keys and home. */
  envNames: readonly string[];
}

const DEFAULTS: Readonly<Record<AgentName, AgentDefaults>> = {
  claude: {
    modeKey: 'permissionMode',
    modeEnv: 'OUTPOST_CLAUDE_PERMISSION_MODE',
    envNames: ['ANTHROPIC_*', 'CLAUDE_CONFIG_DIR', 'CLAUDE_CODE_*'],
  },
  codex: {
    modeKey: 'sandbox',
    modeEnv: 'OUTPOST_CODEX_SANDBOX',
    envNames: ['OPENAI_*', 'CODEX_HOME'],
  },
  gemini: {
    modeKey: 'approvalMode',
    modeEnv: 'OUTPOST_GEMINI_APPROVAL_MODE',
    envNames: ['GEMINI_API_KEY', 'GEMINI_CLI_*', 'GOOGLE_*'],
  },
};

// The same rule as a task's model (protocol/agents.ts): it becomes an argv element after --model.
const MODEL = /^[A-Za-z0-9][\w.:/@-]{0,127}$/;
const MODE = /^[A-Za-z][\w-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*\*?$/;
const RUNNER_SECRETS = ['OUTPOST_TOKEN', 'WORKER_TOKEN'];
const WEEK_MS = 7 * 86_400_000;

export interface AgentSources {
  env: Readonly<Record<string, string | undefined>>;
  /** The config file's `agents` value and the file's label, if the file has one. */
  file?: { label: string; agents: unknown };
  home: string;
  resolve: (path: string) => string;
  /** The runner's shared allowlist; each agent's adds its own names to it. */
  envAllowlist: readonly string[];
}

/**
 * Reads the settings of every agent; problems come back as lines for the one config error.
 * @example const { agents } = readAgentSettings({ env, home, resolve, envAllowlist });
 */
export function readAgentSettings(sources: AgentSources): {
  agents: Record<AgentName, AgentSettings>;
  problems: string[];
} {
  const problems: string[] = [];
  const files = agentFiles(sources.file, problems);
  const entries = AGENTS.map((agent) => {
    const file = files[agent];
    const read = readOneAgent(agent, sources, file);
    problems.push(...read.problems);
    return [agent, read.settings] as const;
  });
  return { agents: Object.fromEntries(entries) as Record<AgentName, AgentSettings>, problems };
}

/** Every agent with default settings: what a runner without agent config uses. */
export function defaultAgentSettings(
  envAllowlist: readonly string[],
): Record<AgentName, AgentSettings> {
  const resolve = (path: string) => path;
  return readAgentSettings({ env: {}, home: '/', resolve, envAllowlist }).agents;
}

function agentFiles(
  file: AgentSources['file'],
  problems: string[],
): Partial<Record<AgentName, ConfigFile>> {
  if (file === undefined) return {};
  const { label, agents } = file;
  if (!isRecord(agents)) {
    problems.push(`${label}: key 'agents' must be an object with keys ${AGENTS.join(', ')}`);
    return {};
  }
  const files: Partial<Record<AgentName, ConfigFile>> = {};
  for (const [name, values] of Object.entries(agents)) {
    if (!(AGENTS as readonly string[]).includes(name))
      problems.push(`${label}: unknown agent 'agents.${name}'`);
    else if (!isRecord(values)) problems.push(`${label}: key 'agents.${name}' must be an object`);
    else files[name as AgentName] = { label: `${label}: agents.${name}`, values };
  }
  return files;
}

function readOneAgent(
  agent: AgentName,
  sources: AgentSources,
  file: ConfigFile | undefined,
): { settings: AgentSettings; problems: string[] } {
  const r = createFieldReader<AgentFileFields>({ env: sources.env, file });
  const upper = agent.toUpperCase();
  const { modeKey, modeEnv, envNames } = DEFAULTS[agent];
  const extraEnv = r.read('envAllow', [`OUTPOST_${upper}_ENV_ALLOW`], envNamesField(), []);
  const settings: AgentSettings = {
    path: r.read('path', [`${upper}_PATH`], binaryField(sources), agent),
    pathSetting: `${upper}_PATH or agents.${agent}.path in the runner config`,
    cwd: r.readOptional('cwd', [`OUTPOST_${upper}_CWD`], pathField(sources)),
    models: r.read('models', [`OUTPOST_${upper}_MODELS`], listField(',', modelField), []),
    mode: r.readOptional(modeKey, [modeEnv], stringField(MODE, 'must be a mode name')),
    extraArgs: r.read('args', [`OUTPOST_${upper}_ARGS`], argListField, []),
    maxTimeoutMs: r.readOptional(
      'timeoutMs',
      [`OUTPOST_${upper}_TIMEOUT_MS`],
      msField(1000, WEEK_MS),
    ),
    envAllowlist: Object.freeze([...new Set([...sources.envAllowlist, ...envNames, ...extraEnv])]),
  };
  return { settings: Object.freeze(dropUndefined(settings)), problems: r.finish() };
}

const modelField = stringField(MODEL, 'must be a model name (letters, digits, . _ : / @ -)');
const argListField = listField(/\s+/, stringField(/\S/, 'must not be empty'));

/** A bare name is looked up on PATH when the CLI starts; anything with a slash is a path. */
function binaryField(sources: AgentSources): FieldParser<string> {
  const asPath = pathField({ home: sources.home, resolve: sources.resolve, allowRelative: true });
  return (raw) => {
    const name = typeof raw === 'string' ? raw.trim() : '';
    if (name !== '' && !name.includes('/') && !name.startsWith('~'))
      return { ok: true, value: name };
    return asPath(raw);
  };
}

/** Extra env names for one agent's child; the runner's own secrets are refused here too. */
function envNamesField(): FieldParser<string[]> {
  const names = listField(
    ',',
    stringField(ENV_NAME, 'must be a variable name, optionally ending in *'),
  );
  return (raw) => {
    const parsed = names(raw);
    if (!parsed.ok) return parsed;
    const leaked = RUNNER_SECRETS.filter((secret) =>
      parsed.value.some((n) => createEnvMatcher([n])(secret)),
    );
    if (leaked.length === 0) return parsed;
    return { ok: false, message: `must not pass the runner's own secrets (${leaked.join(', ')})` };
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
