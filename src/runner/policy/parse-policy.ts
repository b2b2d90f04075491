// Reads the `policy` object of the runner config file into the effective RunnerPolicy, collecting
// every problem (the same one-message report as the rest of the config) instead of stopping early.
import { AGENTS, type AgentName } from '../../protocol/agents.ts';
import { KINDS, LIMITS, type Kind } from '../../protocol/tasks.ts';
import {
  createFieldReader,
  enumField,
  listField,
  msField,
  pathField,
  stringField,
  type FieldParser,
  type Parsed,
} from '../../lib/config-fields.ts';
import type { AgentSettings } from '../agents/types.ts';
import { createEnvMatcher } from '../child-env.ts';
import {
  DEFAULT_APPROVAL_EXPIRY_MS,
  defaultPolicy,
  type ApprovalSettings,
  type CommandRules,
  type RunnerPolicy,
} from './policy.ts';

export interface PolicySources {
  /** The file's `policy` value and the file's label; absent when the file has none. */
  file?: { label: string; policy: unknown };
  /** The runner's read-write roots, already resolved. */
  roots: readonly string[];
  home: string;
  resolve: (path: string) => string;
}

const RUNNER_SECRETS = ['OUTPOST_TOKEN', 'WORKER_TOKEN'];
const MODE = /^[A-Za-z][\w-]{0,63}$/;

/**
 * The effective policy and the problems found; defaults for everything the file leaves out.
 * @example const { policy, problems } = readPolicy({ roots: ['/home/me'], home, resolve });
 */
export function readPolicy(sources: PolicySources): { policy: RunnerPolicy; problems: string[] } {
  const policy = defaultPolicy(sources.roots);
  if (sources.file === undefined) return { policy, problems: [] };
  const { label, policy: raw } = sources.file;
  if (!isRecord(raw)) return { policy, problems: [`${label}: key 'policy' must be an object`] };
  const file = { label: `${label}: policy`, values: raw };
  const r = createFieldReader<RunnerPolicy>({ file });
  const root = pathField({ home: sources.home, resolve: sources.resolve });
  const read: RunnerPolicy = {
    kinds: r.read(
      'kinds',
      [],
      listField(',', enumField(KINDS)) as FieldParser<Kind[]>,
      policy.kinds,
    ),
    agents: r.read(
      'agents',
      [],
      listField(',', enumField(AGENTS)) as FieldParser<AgentName[]>,
      policy.agents,
    ),
    roots: policy.roots,
    readOnlyRoots: r.read('readOnlyRoots', [], listField(':', root), []),
    commands: r.read('commands', [], commandRulesField, policy.commands),
    agentModes: r.read('agentModes', [], agentModesField, {}),
    maxTimeoutMs: r.read(
      'maxTimeoutMs',
      [],
      msField(1000, LIMITS.timeoutMs.max),
      policy.maxTimeoutMs,
    ),
    env: r.read('env', [], envListField(false), []),
    taskEnv: r.read('taskEnv', [], envListField(true), policy.taskEnv),
    approvals: r.read('approvals', [], approvalsField, policy.approvals),
  };
  return { policy: read, problems: r.finish() };
}

/** `agents.<agent>` may only name a mode the policy lists; an unset mode is the CLI's own default. */
export function checkAgentModes(
  policy: RunnerPolicy,
  agents: Readonly<Record<AgentName, AgentSettings>>,
): string[] {
  const problems: string[] = [];
  for (const agent of AGENTS) {
    const allowed = policy.agentModes[agent];
    const mode = agents[agent].mode;
    if (allowed === undefined || mode === undefined || allowed.includes(mode)) continue;
    problems.push(
      `agents.${agent}: mode '${mode}' is not allowed by policy.agentModes.${agent} (${allowed.join(', ')})`,
    );
  }
  return problems;
}

/** A JSON array of regular expressions; every one must compile (the index names the bad one). */
function regexListField(raw: unknown): Parsed<string[]> {
  if (!Array.isArray(raw) || !raw.every((p) => typeof p === 'string' && p !== '')) {
    return {
      ok: false,
      message: `must be an array of regular expressions (non-empty strings), got ${JSON.stringify(raw)}`,
    };
  }
  for (const [i, pattern] of (raw as string[]).entries()) {
    try {
      new RegExp(pattern, 'u');
    } catch (err) {
      return {
        ok: false,
        message: `item [${i}] is not a valid regular expression: ${(err as Error).message}`,
      };
    }
  }
  return { ok: true, value: raw as string[] };
}

const RULE_KEYS = ['allow', 'deny', 'requireApproval'] as const;

function commandRulesField(raw: unknown): Parsed<CommandRules> {
  if (!isRecord(raw))
    return { ok: false, message: `must be an object with keys ${RULE_KEYS.join(', ')}` };
  const rules: Record<string, readonly string[]> = { allow: [], deny: [], requireApproval: [] };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (!(RULE_KEYS as readonly string[]).includes(key)) {
      problems.push(`unknown key '${key}'`);
      continue;
    }
    const parsed = regexListField(value);
    if (parsed.ok) rules[key] = parsed.value;
    else problems.push(`'${key}' ${parsed.message}`);
  }
  if (problems.length > 0) return { ok: false, message: problems.join('; ') };
  return { ok: true, value: rules as unknown as CommandRules };
}

const APPROVAL_KEYS = ['remote', 'expireAfterMs'] as const;
const expiryField = msField(1000, LIMITS.timeoutMs.max);

/** `{remote?: boolean, expireAfterMs?: ms or "15m"}`; unset keys keep their defaults. */
function approvalsField(raw: unknown): Parsed<ApprovalSettings> {
  if (!isRecord(raw))
    return { ok: false, message: `must be an object with keys ${APPROVAL_KEYS.join(', ')}` };
  const value: ApprovalSettings = { remote: false, expireAfterMs: DEFAULT_APPROVAL_EXPIRY_MS };
  const problems: string[] = [];
  for (const [key, item] of Object.entries(raw)) {
    if (key === 'remote') {
      if (typeof item === 'boolean') value.remote = item;
      else problems.push(`'remote' must be true or false, got ${JSON.stringify(item)}`);
    } else if (key === 'expireAfterMs') {
      const parsed = expiryField(item);
      if (parsed.ok) value.expireAfterMs = parsed.value;
      else problems.push(`'expireAfterMs' ${parsed.message}`);
    } else problems.push(`unknown key '${key}'`);
  }
  if (problems.length > 0) return { ok: false, message: problems.join('; ') };
  return { ok: true, value };
}

const modeListField = listField(',', stringField(MODE, 'must be a mode name'));

function agentModesField(raw: unknown): Parsed<RunnerPolicy['agentModes']> {
  if (!isRecord(raw))
    return { ok: false, message: `must be an object with keys ${AGENTS.join(', ')}` };
  const modes: Partial<Record<AgentName, string[]>> = {};
  const problems: string[] = [];
  for (const [agent, value] of Object.entries(raw)) {
    const parsed = modeListField(value);
    if (!(AGENTS as readonly string[]).includes(agent)) problems.push(`unknown agent '${agent}'`);
    else if (!parsed.ok) problems.push(`'${agent}' ${parsed.message}`);
    else modes[agent as AgentName] = parsed.value;
  }
  if (problems.length > 0) return { ok: false, message: problems.join('; ') };
  return { ok: true, value: modes };
}

/** Variable names or `PREFIX_*`; `*` alone only where `anyAllowed` (taskEnv). Runner secrets never. */
function envListField(anyAllowed: boolean): FieldParser<string[]> {
  const name = anyAllowed ? /^(\*|[A-Za-z_][A-Za-z0-9_]*\*?)$/ : /^[A-Za-z_][A-Za-z0-9_]*\*?$/;
  const names = listField(
    ',',
    stringField(name, 'must be a variable name, optionally ending in *'),
  );
  return (raw) => {
    const parsed = names(raw);
    if (!parsed.ok || anyAllowed) return parsed;
    const leaked = RUNNER_SECRETS.filter((s) => parsed.value.some((n) => createEnvMatcher([n])(s)));
    if (leaked.length === 0) return parsed;
    return { ok: false, message: `must not pass the runner's own secrets (${leaked.join(', ')})` };
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
