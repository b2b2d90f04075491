// The runner's local policy: what this machine accepts from any server. Defaults are the runner's
// behaviour before policies existed (every kind, agent and command; roots read-write), so an
// upgrade changes nothing until the person writes a `policy` object in the runner config file.
import { createHash } from 'node:crypto';
import { AGENTS, type AgentName } from '../../protocol/agents.ts';
import { KINDS, LIMITS, type Kind } from '../../protocol/tasks.ts';

/** Regular expressions (JavaScript syntax, as strings) tested against a shell command's text. */
export interface CommandRules {
  /** When non-empty, a command must match one of these (tested on the whole normalised text). */
  allow: readonly string[];
  /** A command matching any of these is refused. */
  deny: readonly string[];
  /** A command matching any of these is held until a person approves it (approvals below). */
  requireApproval: readonly string[];
}

/** How held tasks are decided: on this machine always; through the API only when `remote`. */
export interface ApprovalSettings {
  /** Accept approvals made through the server's API (signed by a trusted key in signed mode). */
  remote: boolean;
  /** A held task nobody decides within this time is refused (`approval expired`). */
  expireAfterMs: number;
}

export const DEFAULT_APPROVAL_EXPIRY_MS = 15 * 60_000;

/** The effective policy; `roots` (read-write) and `readOnlyRoots` are absolute, resolved paths. */
export interface RunnerPolicy {
  kinds: readonly Kind[];
  agents: readonly AgentName[];
  /** Read-write roots: the runner's `roots` setting. */
  roots: readonly string[];
  /** file.read and file.list may also look here; nothing writes or runs here. */
  readOnlyRoots: readonly string[];
  commands: CommandRules;
  /** Per agent, the modes its `agents.<agent>` setting may use; absent = any. */
  agentModes: Readonly<Partial<Record<AgentName, readonly string[]>>>;
  /** A task asking for a longer timeout is refused. */
  maxTimeoutMs: number;
  /** Extra variable names (or `PREFIX_*`) the runner passes from its own environment to tasks. */
  env: readonly string[];
  /** Names a shell task's own `env` may set (`*` = any); PATH or LD_PRELOAD from a server are risky. */
  taskEnv: readonly string[];
  approvals: Readonly<ApprovalSettings>;
}

/** Today's behaviour: everything the executors support, within the read-write roots. */
export function defaultPolicy(roots: readonly string[]): RunnerPolicy {
  return {
    kinds: [...KINDS],
    agents: [...AGENTS],
    roots: [...roots],
    readOnlyRoots: [],
    commands: { allow: [], deny: [], requireApproval: [] },
    agentModes: {},
    maxTimeoutMs: LIMITS.timeoutMs.max,
    env: [],
    taskEnv: ['*'],
    approvals: { remote: false, expireAfterMs: DEFAULT_APPROVAL_EXPIRY_MS },
  };
}

/** JSON with object keys sorted at every level, so equal policies give equal digests. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * `sha256:<hex>` of the canonical JSON of the effective policy: sent at hello so the server (and
 * whoever reads GET /v1/runners) can see which rules a runner enforces, and notice a change.
 * @example policyDigest(defaultPolicy(['/home/me'])) // 'sha256:3f…'
 */
export function policyDigest(policy: RunnerPolicy): string {
  return `sha256:${createHash('sha256').update(canonicalJson(policy)).digest('hex')}`;
}
