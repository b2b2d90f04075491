// The runner: hello, then a claim loop that executes each claimed task at once, a lease keeper
// that heartbeats them all, and reports of every outcome; drain and stop end it in order.
import type { Claim, HelloBody, HelloReply } from '../protocol/runner.ts';
import type { AgentName } from '../protocol/agents.ts';
import type { Kind, Outcome } from '../protocol/tasks.ts';
import { newId } from '../lib/ids.ts';
import { delay } from '../sdk/delay.ts';
import type { OutpostClient } from '../sdk/client.ts';
import { deniedPathsOf, type RunnerConfig } from './config.ts';
import { EXECUTOR_KINDS, executeTask } from './executors/index.ts';
import { failedOutcome } from './executors/outcome.ts';
import type { ExecContext, ExecSettings } from './executors/types.ts';
import { runClaimLoop } from './claim-loop.ts';
import { createExecContext } from './attempt-context.ts';
import { startLeaseKeeper, type LeaseKeeper } from './lease-keeper.ts';
import {
  createOutputStreamer,
  withOutputMetadata,
  type OutputStreamer,
} from './output-streamer.ts';
import { OutcomeReporter } from './outcome-reporter.ts';
import { isAuthError, retryDelayMs } from './retry-delay.ts';
import { RunningAttempts, type RunningAttempt } from './running-attempts.ts';
import { errorFields, jsonLineLog, type RunnerLog } from './runner-log.ts';
import { runnerTagPrefix, sweepRunnerLeftovers } from './process-sweep.ts';
import { prepareAgents, type SessionReporter } from './agents/session-reporter.ts';
import { guardExecute } from './guard-execute.ts';
import { policyDigest } from './policy/policy.ts';
import { signedAdmissionFor, type AdmitSigned } from './signed-hook.ts';

export type RunnerState = 'starting' | 'running' | 'draining' | 'stopped';

/** Runs one task's spec; resolves to its outcome and never throws (executeTask's contract). */
export type ExecuteTask = (
  kind: Kind,
  spec: Record<string, unknown>,
  ctx: ExecContext,
) => Promise<Outcome>;

export interface RunnerDeps {
  client: OutpostClient;
  config: Readonly<RunnerConfig>;
  /** Defaults to the built-in executors. */
  execute?: ExecuteTask;
  /** Defaults to JSON lines on stderr. */
  log?: RunnerLog;
  /** Tells this process apart from an earlier one with the same name; default a fresh id. */
  instanceId?: string;
  /** Sent in hello; default RUNNER_VERSION. */
  version?: string;
}

export interface Runner {
  /** Says hello (retrying with backoff) and starts claiming; resolves once running or stopped. */
  start(): Promise<void>;
  /** Stops claiming, lets running tasks finish within `drainGraceMs`, then cancels the rest. */
  drain(): Promise<void>;
  /** Cancels every running task at once; resolves after their outcomes are reported. */
  stop(): Promise<void>;
  readonly state: RunnerState;
  /** Attempts executing or being reported now. */
  running(): number;
}

export const RUNNER_VERSION = '0.1.0';
/** How long a finished outcome is retried through a server outage before it is dropped. */
const REPORT_WINDOW_MS = 5 * 60_000;
/** How long the last output may hold up the finish; the outcome says how many chunks stayed unsent. */
const OUTPUT_FLUSH_MS = 5_000;

/**
 * Builds a runner over an SDK client; nothing happens until `start()`.
 * @example
 * const runner = createRunner({ client: new OutpostClient({ baseUrl, token }), config });
 * await runner.start();
 * process.once('SIGTERM', () => void runner.drain());
 */
export function createRunner(deps: RunnerDeps): Runner {
  return new TaskRunner(deps);
}

class TaskRunner implements Runner {
  private current: RunnerState = 'starting';
  private readonly attempts = new RunningAttempts();
  /** Aborted by drain/stop: ends hello retries and the open claim long poll. */
  private readonly claiming = new AbortController();
  private readonly log: RunnerLog;
  private readonly execute: ExecuteTask;
  private readonly instanceId: string;
  private readonly settings: ExecSettings;
  private readonly admitSigned: AdmitSigned;
  /** Sends outcomes, batching those that end while a finish is in flight. */
  private readonly reporter: OutcomeReporter;
  private started?: Promise<void>;
  private claimLoop?: Promise<void>;
  private keeper?: LeaseKeeper;
  /** The kinds it has executors for; `agent` only once some agent CLI is found installed. */
  private kinds: readonly Kind[] = EXECUTOR_KINDS.filter((kind) => kind !== 'agent');
  private agents: readonly AgentName[] = [];
  private sessions?: SessionReporter;
  private draining?: Promise<void>;
  private stopping?: Promise<void>;
  /** What this runner ran, by outcome (plus `lost` leases), for the summary it logs on stopping. */
  private readonly ran: Record<string, number> = {};

  constructor(private readonly deps: RunnerDeps) {
    this.log = deps.log ?? jsonLineLog;
    this.instanceId = deps.instanceId ?? newId();
    this.settings = execSettingsOf(deps.config);
    // Every task passes the local policy and is recorded in the audit log, whatever the executor.
    this.execute = guardExecute(deps.execute ?? executeTask, deps.config, this.log, this.settings);
    this.admitSigned = signedAdmissionFor(deps.config, this.log);
    this.reporter = new OutcomeReporter({
      client: deps.client,
      log: this.log,
      retry: deps.config,
      windowMs: REPORT_WINDOW_MS,
    });
  }

  get state(): RunnerState {
    return this.current;
  }

  running(): number {
    return this.attempts.size;
  }

  start(): Promise<void> {
    this.started ??= this.boot();
    return this.started;
  }

  drain(): Promise<void> {
    this.draining ??= this.shutdown(this.deps.config.drainGraceMs);
    return this.draining;
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown(0);
    return this.stopping;
  }

  private async boot(): Promise<void> {
    await this.sweepLeftovers();
    const { client, config } = this.deps;
    const agents = await prepareAgents(this.settings.agents, client, this.log, config.name);
    if (agents.found.length > 0) this.kinds = EXECUTOR_KINDS;
    this.agents = agents.found;
    this.sessions = agents.reporter;
    const hello = await this.sayHello();
    if (!hello || this.claiming.signal.aborted) return;
    this.keeper = startLeaseKeeper({
      client: this.deps.client,
      runnerName: this.deps.config.name,
      attempts: this.attempts,
      log: this.log,
      heartbeatMs: hello.heartbeatMs,
      leaseMs: hello.leaseMs,
    });
    this.current = 'running';
    this.claimLoop = this.runClaims();
    this.sessions.start();
    const { leaseMs, heartbeatMs } = hello;
    this.log('info', 'runner started', { runner: hello.runner, leaseMs, heartbeatMs });
  }

  private runClaims(): Promise<void> {
    return runClaimLoop({
      client: this.deps.client,
      config: this.deps.config,
      instanceId: this.instanceId,
      kinds: this.kinds.filter((kind) => this.deps.config.policy.kinds.includes(kind)),
      agents: this.agents.filter((agent) => this.deps.config.policy.agents.includes(agent)),
      attempts: this.attempts,
      log: this.log,
      signal: this.claiming.signal,
      start: (claim) => this.startAttempt(claim),
    });
  }

  /** Retries until the server answers; undefined when drain/stop came first. */
  private async sayHello(): Promise<HelloReply | undefined> {
    for (let failures = 1; !this.claiming.signal.aborted; failures++) {
      try {
        return await this.deps.client.hello(this.helloBody(), { signal: this.claiming.signal });
      } catch (err) {
        if (this.claiming.signal.aborted) break;
        const retryInMs = retryDelayMs(err, failures, this.deps.config);
        if (isAuthError(err)) {
          this.log('error', "the server refused this runner's token; check OUTPOST_TOKEN", {
            ...errorFields(err),
            retryInMs,
          });
        } else this.log('warn', 'hello failed; retrying', { ...errorFields(err), retryInMs });
        await delay(retryInMs, this.claiming.signal);
      }
    }
    return undefined;
  }

  private helloBody(): HelloBody {
    const { config } = this.deps;
    return {
      name: config.name,
      instanceId: this.instanceId,
      labels: [...config.labels],
      capacity: config.capacity,
      kinds: [...this.kinds],
      version: this.deps.version ?? RUNNER_VERSION,
      policyDigest: policyDigest(config.policy),
    };
  }

  private startAttempt(claim: Claim): void {
    const attempt = this.attempts.add(claim, Date.now());
    const { id, kind } = claim.task;
    this.log('info', 'task started', { taskId: id, attempt: claim.attempt, kind });
    void this.runAttempt(attempt)
      .catch((err: unknown) =>
        this.log('error', 'runner bug while running a task', { taskId: id, ...errorFields(err) }),
      )
      .finally(() => {
        this.attempts.remove(id);
        if (kind === 'agent') void this.sessions?.report(claim.task.spec.agent as AgentName);
      });
  }

  private async runAttempt(attempt: RunningAttempt): Promise<void> {
    const { client, config } = this.deps;
    const output = createOutputStreamer({ client, log: this.log, config }, attempt.claim);
    try {
      const executed = await this.executeSafely(attempt, output);
      if (attempt.lost) {
        this.count('lease_lost');
        return;
      }
      const summary = await output.close(OUTPUT_FLUSH_MS);
      await this.finishAttempt(attempt, withOutputMetadata(executed, summary));
    } finally {
      output.discard(); // after close a no-op; on a lost lease or a bug it deletes the spool
    }
  }

  private async finishAttempt(attempt: RunningAttempt, outcome: Outcome): Promise<void> {
    const { task, leaseToken } = attempt.claim;
    this.count(outcome.status);
    const result = await this.reporter.report({ taskId: task.id, leaseToken, outcome });
    this.log('info', 'task ended', { taskId: task.id, status: outcome.status, report: result });
  }

  private async executeSafely(attempt: RunningAttempt, output: OutputStreamer): Promise<Outcome> {
    const { task } = attempt.claim;
    const { client, config } = this.deps;
    const deps = { client, log: this.log, retry: config, settings: this.settings };
    const ctx = createExecContext(deps, attempt, output);
    const refused = this.admitSigned(task); // require-signed mode: before anything runs
    if (refused) return refused;
    try {
      return await this.execute(task.kind, task.spec, ctx);
    } catch (err) {
      return failedOutcome(
        'internal',
        `the executor threw: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  /** Shared by drain (grace = drainGraceMs) and stop (grace = 0); a stop during a drain cuts it short. */
  private async shutdown(graceMs: number): Promise<void> {
    if (this.current !== 'stopped') this.current = 'draining';
    this.claiming.abort();
    await this.started;
    await this.claimLoop;
    await this.waitForAttempts(graceMs);
    this.attempts.abortAll(
      new Error(
        graceMs > 0 ? 'the runner is draining and its grace ended' : 'the runner is stopping',
      ),
    );
    await this.attempts.whenEmpty();
    this.keeper?.stop();
    this.sessions?.stop();
    // A stop during a drain runs this twice; the summary is logged once.
    if (this.current === 'stopped') return;
    this.current = 'stopped';
    this.log('info', 'runner stopped', { ran: { ...this.ran } });
  }

  /** A runner killed outright leaves its tasks' processes running; they end here, before hello. */
  private async sweepLeftovers(): Promise<void> {
    const prefix = this.settings.tagPrefix;
    const killed = prefix === undefined ? 0 : await sweepRunnerLeftovers(prefix);
    if (killed > 0)
      this.log('warn', 'stopped processes left by an earlier run of this runner', { killed });
  }

  private count(status: string): void {
    this.ran[status] = (this.ran[status] ?? 0) + 1;
  }

  private async waitForAttempts(graceMs: number): Promise<void> {
    if (graceMs <= 0) return;
    const graceOver = new AbortController();
    await Promise.race([this.attempts.whenEmpty(), delay(graceMs, graceOver.signal)]);
    graceOver.abort();
  }
}

function execSettingsOf(config: Readonly<RunnerConfig>): ExecSettings {
  return {
    roots: config.roots,
    deniedPaths: deniedPathsOf(config),
    shell: config.shell,
    envAllowlist: config.envAllowlist,
    maxOutputBytes: config.maxOutputBytes,
    maxReadBytes: config.maxReadBytes,
    killGraceMs: config.killGraceMs,
    tagPrefix: runnerTagPrefix(config.name, config.dataDir),
    agents: config.agents,
  };
}
