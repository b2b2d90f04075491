// The runner's settings: flags > env (OUTPOST_* then legacy aliases) > JSON config file > defaults.
// Called only from the entry point; every problem is reported at once in one AppError.
import { readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { AgentName } from '../protocol/agents.ts';
import { AppError } from '../protocol/errors.ts';
import { readAgentSettings } from './agent-config.ts';
import { checkAgentModes, readPolicy } from './policy/parse-policy.ts';
import type { RunnerPolicy } from './policy/policy.ts';
import type { AgentSettings } from './agents/types.ts';
import { DEFAULT_ENV_ALLOWLIST } from './child-env.ts';
import { readSigningSettings, type SigningSettings } from './signing-config.ts';
import { LOG_THRESHOLDS, type LogThreshold } from './runner-log.ts';
import {
  argvField,
  boolField,
  createFieldReader,
  enumField,
  formatConfigProblems,
  intField,
  listField,
  msField,
  pathField,
  readConfigFile,
  secretField,
  stringField,
  urlListField,
  type ConfigFile,
  type FieldReader,
} from '../lib/config-fields.ts';

// One list, kept next to the code that applies it; re-exported as part of the config's vocabulary.
export { DEFAULT_ENV_ALLOWLIST };

export interface RunnerConfig {
  /** Base URL of the Outpost server: the first of serverUrls. */
  serverUrl: string;
  /**
   * Every server the runner may use, in order of preference (replicas on one database; set as a
   * comma-separated `serverUrl`): it moves to the next when one cannot be reached.
   */
  serverUrls: readonly string[];
  token: string;
  /** How this runner names itself to the server; tasks can target it by name. */
  name: string;
  labels: readonly string[];
  /** Tasks run at the same time. */
  capacity: number;
  longPollMs: number;
  /** First delay after a failed request; doubles with jitter up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Directories tasks may work in. */
  roots: readonly string[];
  dataDir: string;
  /** Argv a command string is appended to as one element, e.g. ['/bin/sh', '-c']. */
  shell: readonly string[];
  /** DEFAULT_ENV_ALLOWLIST plus OUTPOST_ENV_ALLOW. */
  envAllowlist: readonly string[];
  maxOutputBytes: number;
  /** Bound on each attempt's spool of live output while the server is unreachable; the oldest goes first. */
  outputSpoolBytes: number;
  /** Also keep each attempt's whole output in `<dataDir>/output/<taskId>-<attempt>.log`. */
  keepOutput: boolean;
  maxReadBytes: number;
  /** Time between TERM and KILL when a process tree is stopped. */
  killGraceMs: number;
  /** How long a stopping runner lets running tasks finish before stopping them. */
  drainGraceMs: number;
  /** Lines below this level are not logged (OUTPOST_LOG_LEVEL, shared with the server). */
  logLevel: LogThreshold;
  /** The config file used, if any; kept out of reach of tasks because it may hold the token. */
  configPath?: string;
  /** Each agent CLI's binary, cwd, models, mode, extra args, timeout cap and env (agent-config.ts). */
  agents: Readonly<Record<AgentName, AgentSettings>>;
  /** The local policy (config file key `policy`, policy/parse-policy.ts); defaults allow everything. */
  policy: Readonly<RunnerPolicy>;
  /** Signed tasks: `require` runs only tasks signed by a trusted key (signing-config.ts). */
  signing: Readonly<SigningSettings>;
}

export interface LoadRunnerConfigOptions {
  /** Values given on the command line, already typed; they beat every other source. */
  flags?: Partial<Omit<RunnerConfig, 'agents' | 'policy' | 'signing'>>;
  /** A JSON config file; else env OUTPOST_CONFIG; else none. */
  file?: string;
  /** For commands that only read local state (`runner policy`, `runner audit`): no token needed. */
  local?: boolean;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const MINUTE_MS = 60_000;
// The same rules the server applies to a runner's hello (protocol/runner.ts).
const RUNNER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const LABEL = /^\S{1,64}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*\*?$/;
const NAME_RULE = 'must be 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit';
const LABEL_RULE = 'must be 1-64 characters without spaces';
const ENV_RULE = 'must be a variable name, optionally ending in * to match a prefix';
const RUNNER_SECRETS = ['OUTPOST_TOKEN', 'WORKER_TOKEN'];
const nameField = stringField(RUNNER_NAME, NAME_RULE);
const labelField = stringField(LABEL, LABEL_RULE);
const bytesField = intField(KiB, 1024 * MiB);
const spoolField = intField(MiB, 1024 * GiB);
const envNameField = stringField(ENV_NAME, ENV_RULE);
const graceField = msField(0, 60 * MINUTE_MS);
const serverUrlsField = urlListField();

/**
 * Loads and validates the runner config; throws AppError('bad_request') listing every problem.
 * @example const config = loadRunnerConfig(process.env, { flags: { capacity: 2 } });
 */
export function loadRunnerConfig(
  env: NodeJS.ProcessEnv = process.env,
  opts: LoadRunnerConfigOptions = {},
): Readonly<RunnerConfig> {
  const path = opts.file || env.OUTPOST_CONFIG;
  const configPath = path ? resolve(path) : undefined;
  const loaded = configPath ? readConfigFile(configPath, (p) => readFileSync(p, 'utf8')) : {};
  const { file: rest, signingFile } = splitSigning(loaded.file);
  const { file, agentsFile, policyFile } = splitObjects(rest);
  const reader = createFieldReader<RunnerConfig>({ flags: opts.flags, env, file });
  const fields = readRunnerFields(reader, opts.local === true);
  checkRunnerConfig(fields, reader);
  const home = homedir();
  const policy = readPolicy({ file: policyFile, roots: fields.roots, home, resolve });
  fields.envAllowlist = [...new Set([...fields.envAllowlist, ...policy.policy.env])];
  const agents = readAgentSettings({
    env,
    file: agentsFile,
    home,
    resolve,
    envAllowlist: fields.envAllowlist,
  });
  const signing = readSigningSettings(env, signingFile);
  const config: RunnerConfig = {
    ...fields,
    agents: agents.agents,
    policy: policy.policy,
    signing: signing.signing,
  };
  const problems = [
    ...(loaded.problem ? [loaded.problem] : []),
    ...reader.finish(),
    ...agents.problems,
    ...policy.problems,
    ...checkAgentModes(policy.policy, agents.agents),
    ...signing.problems,
  ];
  if (problems.length > 0) {
    throw new AppError('bad_request', formatConfigProblems(problems), { problems });
  }
  return Object.freeze(freezeLists(configPath ? { ...config, configPath } : config));
}

/** Freezes the list fields too, so no caller can edit roots or the allowlist after loading. */
function freezeLists(config: RunnerConfig): RunnerConfig {
  const { labels, roots, shell, envAllowlist, agents, policy } = config;
  return {
    ...config,
    labels: Object.freeze([...labels]),
    roots: Object.freeze([...roots]),
    shell: Object.freeze([...shell]),
    envAllowlist: Object.freeze([...envAllowlist]),
    agents: Object.freeze({ ...agents }),
    policy: deepFreeze(structuredClone(policy)),
  };
}

/**
 * `agents` and `policy` are objects read by agent-config.ts and policy/parse-policy.ts; the flat
 * fields are read here.
 */
function splitObjects(file: ConfigFile | undefined): {
  file?: ConfigFile;
  agentsFile?: { label: string; agents: unknown };
  policyFile?: { label: string; policy: unknown };
} {
  if (!file) return {};
  const { agents, policy, ...values } = file.values;
  const { label } = file;
  return {
    file: { label, values },
    ...(Object.hasOwn(file.values, 'agents') ? { agentsFile: { label, agents } } : {}),
    ...(Object.hasOwn(file.values, 'policy') ? { policyFile: { label, policy } } : {}),
  };
}

/** `signing` is an object read by signing-config.ts. */
function splitSigning(file: ConfigFile | undefined): {
  file?: ConfigFile;
  signingFile?: { label: string; signing: unknown };
} {
  if (!file || !Object.hasOwn(file.values, 'signing')) return { file };
  const { signing, ...values } = file.values;
  return { file: { label: file.label, values }, signingFile: { label: file.label, signing } };
}

type RunnerFields = Omit<RunnerConfig, 'agents' | 'policy' | 'signing'>;

function readRunnerFields(r: FieldReader<RunnerConfig>, local: boolean): RunnerFields {
  return { ...readConnectionFields(r, local), ...readExecutionFields(r) };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) Object.values(value).forEach(deepFreeze);
  return Object.freeze(value);
}

type ConnectionFields = Pick<
  RunnerConfig,
  | 'serverUrl'
  | 'serverUrls'
  | 'token'
  | 'name'
  | 'labels'
  | 'capacity'
  | 'longPollMs'
  | 'retryBaseMs'
  | 'retryMaxMs'
>;

/** How the runner finds, names itself to and polls the server. */
function readConnectionFields(r: FieldReader<RunnerConfig>, local: boolean): ConnectionFields {
  const url = ['OUTPOST_URL', 'WORKER_URL'];
  const longPoll = ['OUTPOST_LONG_POLL_MS', 'LONG_POLL_WAIT'];
  const retryBase = ['OUTPOST_RETRY_BASE_MS', 'POLL_INTERVAL'];
  const servers = r.read('serverUrl', url, serverUrlsField, 'http://127.0.0.1:3456').split(',');
  return {
    serverUrl: servers[0]!,
    serverUrls: servers,
    token: readToken(r, local),
    name: r.read('name', ['OUTPOST_RUNNER_NAME'], nameField, defaultName()),
    labels: r.read('labels', ['OUTPOST_LABELS'], listField(',', labelField), []),
    capacity: r.read('capacity', ['OUTPOST_CAPACITY', 'MAX_CONCURRENT'], intField(1, 256), 5),
    longPollMs: r.read('longPollMs', longPoll, msField(1000, MINUTE_MS), 30_000),
    retryBaseMs: r.read('retryBaseMs', retryBase, msField(10, MINUTE_MS), 500),
    retryMaxMs: r.read('retryMaxMs', ['OUTPOST_RETRY_MAX_MS'], msField(10, 10 * MINUTE_MS), 30_000),
  };
}

/** Where and how tasks run: roots, shell, environment, output caps, stop timing. */
function readExecutionFields(
  r: FieldReader<RunnerConfig>,
): Omit<RunnerFields, keyof ConnectionFields> {
  const home = homedir();
  // Roots confine file tasks, so a relative root (relative to wherever the runner started) is refused.
  const root = pathField({ home, resolve });
  const dir = pathField({ home, resolve, allowRelative: true });
  return {
    roots: r.read('roots', ['OUTPOST_ROOTS'], listField(':', root), [home]),
    dataDir: r.read('dataDir', ['OUTPOST_DATA_DIR'], dir, join(home, '.outpost')),
    shell: r.read('shell', ['OUTPOST_SHELL'], argvField(), ['/bin/sh', '-c']),
    envAllowlist: readEnvAllowlist(r),
    maxOutputBytes: r.read('maxOutputBytes', ['OUTPOST_MAX_OUTPUT_BYTES'], bytesField, MiB),
    logLevel: r.read('logLevel', ['OUTPOST_LOG_LEVEL'], enumField(LOG_THRESHOLDS), 'info'),
    // 1 MiB floor: the spool drops in sixteenths, and a sixteenth must hold a 64 KiB chunk.
    outputSpoolBytes: r.read(
      'outputSpoolBytes',
      ['OUTPOST_OUTPUT_SPOOL_BYTES'],
      spoolField,
      64 * MiB,
    ),
    keepOutput: r.read('keepOutput', ['OUTPOST_KEEP_OUTPUT'], boolField(), false),
    maxReadBytes: r.read('maxReadBytes', ['OUTPOST_MAX_READ_BYTES'], bytesField, 10 * MiB),
    killGraceMs: r.read('killGraceMs', ['OUTPOST_KILL_GRACE_MS'], msField(0, 10 * MINUTE_MS), 5000),
    drainGraceMs: r.read('drainGraceMs', ['OUTPOST_DRAIN_GRACE_MS'], graceField, 30_000),
  };
}

function readToken(r: FieldReader<RunnerConfig>, local: boolean): string {
  // 16 is the server's floor for the legacy token; scoped tokens are longer, so a shorter one is a typo.
  const token = r.readOptional('token', ['OUTPOST_TOKEN', 'WORKER_TOKEN'], secretField(16));
  if (token === undefined && r.valid('token') && !local) {
    r.addProblem('OUTPOST_TOKEN', 'a runner needs a token');
  }
  return token ?? '';
}

/** Extra names are added to the defaults, never replace them: PATH and HOME are always needed. */
function readEnvAllowlist(r: FieldReader<RunnerConfig>): string[] {
  const extra = r.read('envAllowlist', ['OUTPOST_ENV_ALLOW'], listField(',', envNameField), []);
  const leaked = RUNNER_SECRETS.filter((secret) =>
    extra.some((entry) => envEntryMatches(entry, secret)),
  );
  if (leaked.length > 0) {
    r.addProblem(
      r.labelOf('envAllowlist'),
      `must not pass the runner's own secrets (${leaked.join(', ')})`,
    );
  }
  return [...new Set([...DEFAULT_ENV_ALLOWLIST, ...extra])];
}

function envEntryMatches(entry: string, name: string): boolean {
  return entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : entry === name;
}

/** The host name, made into a valid runner name (`My Mac.local` → `My-Mac.local`). */
function defaultName(): string {
  const name = hostname()
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[._-]+/, '')
    .slice(0, 128);
  return name === '' ? 'runner' : name;
}

function checkRunnerConfig(config: RunnerFields, r: FieldReader<RunnerConfig>): void {
  if (r.valid('retryBaseMs', 'retryMaxMs') && config.retryMaxMs < config.retryBaseMs) {
    r.addProblem(
      r.labelOf('retryMaxMs'),
      `must be at least retryBaseMs (${config.retryBaseMs}), got ${config.retryMaxMs}`,
    );
  }
}

/** Paths no task may touch even inside a root: the runner's data and its config file. */
export function deniedPathsOf(config: Pick<RunnerConfig, 'dataDir' | 'configPath'>): string[] {
  return config.configPath ? [config.dataDir, config.configPath] : [config.dataDir];
}
