// The runner: hello, then a claim loop that starts each claimed task at once (run-attempt.ts: the
// admission pipeline, then the report), a lease keeper that heartbeats them all (held ones too),
// and a local listener for approvals when the policy can hold tasks; drain and stop end it in order.
import type { Claim, HelloBody } from '../protocol/runner.ts';
import { CLAIM_ACKS } from '../protocol/runner.ts';
import type { AgentName } from '../protocol/agents.ts';
import type { Kind, Outcome } from '../protocol/tasks.ts';
import { newId } from '../lib/ids.ts';
import { delay } from '../sdk/delay.ts';
import type { OutpostClient } from '../sdk/client.ts';
import type { RunnerConfig } from './config.ts';
import { EXECUTOR_KINDS, executeTask } from './executors/index.ts';
import type { ExecContext, ExecSettings } from './executors/types.ts';
import { runClaimLoop } from './claim-loop.ts';
import { startLeaseKeeper, type LeaseKeeper } from './lease-keeper.ts';
import { RunningAttempts } from './running-attempts.ts';
import { OutcomeReporter } from './outcome-reporter.ts';
import { errorFields, jsonLineLog, type RunnerLog } from './runner-log.ts';
import { sweepRunnerLeftovers } from './process-sweep.ts';
import { prepareAgents, type SessionReporter } from './agents/session-reporter.ts';
import { policyDigest } from './policy/policy.ts';
import { createAdmissionPipeline, type AdmissionPipeline } from './admission-pipeline.ts';
import { startLocalListener, type LocalListener } from './approvals/local-listener.ts';
import { execSettingsOf } from './exec-settings.ts';
import { runAttempt, type AttemptDeps } from './run-attempt.ts';
import { sayHello } from './say-hello.ts';

/** How long a finished outcome is retried through a server outage before it is dropped. */
const REPORT_WINDOW_MS = 5 * 60_000;

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
  /** Attempts executing now (what capacity limits; outcomes being reported are not counted). */
  running(): number;
}

export const RUNNER_VERSION = '0.1.0';

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
  private readonly instanceId: string;
  private readonly settings: ExecSettings;
  private readonly pipeline: AdmissionPipeline;
  /** Sends outcomes, batching those that end while a finish is in flight. */
  private readonly reporter: OutcomeReporter;
  private started?: Promise<void>;
  private claimLoop?: Promise<void>;
  private keeper?: LeaseKeeper;
  private listener?: LocalListener;
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
    // Every task passes signature, policy and approval, and is audited, whatever the executor.
    this.pipeline = createAdmissionPipeline({
      config: deps.config,
      log: this.log,
      settings: this.settings,
      client: deps.client,
      attempts: this.attempts,
      execute: deps.execute ?? executeTask,
    });
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
    return this.attempts.busy;
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
    await this.listenForApprovals();
    const hello = await sayHello(
      { client, config, log: this.log },
      this.helloBody(),
      this.claiming.signal,
    );
    if (!hello || this.claiming.signal.aborted) return;
    this.keeper = startLeaseKeeper({
      client,
      runnerName: config.name,
      attempts: this.attempts,
      log: this.log,
      heartbeatMs: hello.heartbeatMs,
      leaseMs: hello.leaseMs,
      onDecisions: this.pipeline.onDecisions,
    });
    this.current = 'running';
    this.claimLoop = this.runClaims(hello.features?.includes(CLAIM_ACKS) === true, hello.leaseMs);
    this.sessions.start();
    const { leaseMs, heartbeatMs } = hello;
    this.log('info', 'runner started', { runner: hello.runner, leaseMs, heartbeatMs });
  }

  /** Only a policy with approval rules can hold a task, so only then is there a port to open. */
  private async listenForApprovals(): Promise<void> {
    if (this.deps.config.policy.commands.requireApproval.length === 0) return;
    try {
      this.listener = await startLocalListener(this.deps.config.dataDir, this.pipeline.pending);
    } catch (err) {
      this.log(
        'error',
        'cannot listen for local approvals; held tasks can only expire or be decided remotely',
        errorFields(err),
      );
    }
  }

  private runClaims(claimAcks: boolean, leaseMs: number): Promise<void> {
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
      claimAcks,
      leaseMs,
      acknowledged: (reply) => this.keeper?.apply(reply),
    });
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
    const deps: AttemptDeps = {
      client: this.deps.client,
      config: this.deps.config,
      log: this.log,
      settings: this.settings,
      pipeline: this.pipeline,
      attempts: this.attempts,
      reporter: this.reporter,
      count: (status) => (this.ran[status] = (this.ran[status] ?? 0) + 1),
    };
    void runAttempt(deps, attempt)
      .catch((err: unknown) =>
        this.log('error', 'runner bug while running a task', { taskId: id, ...errorFields(err) }),
      )
      .finally(() => {
        this.attempts.remove(id);
        if (kind === 'agent') void this.sessions?.report(claim.task.spec.agent as AgentName);
      });
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
    await this.listener?.close();
    this.listener = undefined;
    // A stop during a drain runs this twice; the summary is logged once.
    if (this.current === 'stopped') return;
    this.current = 'stopped';
    this.pipeline.close();
    this.log('info', 'runner stopped', { ran: { ...this.ran } });
  }

  /** A runner killed outright leaves its tasks' processes running; they end here, before hello. */
  private async sweepLeftovers(): Promise<void> {
    const prefix = this.settings.tagPrefix;
    const killed = prefix === undefined ? 0 : await sweepRunnerLeftovers(prefix);
    if (killed > 0)
      this.log('warn', 'stopped processes left by an earlier run of this runner', { killed });
  }

  private async waitForAttempts(graceMs: number): Promise<void> {
    if (graceMs <= 0) return;
    const graceOver = new AbortController();
    await Promise.race([this.attempts.whenEmpty(), delay(graceMs, graceOver.signal)]);
    graceOver.abort();
  }
}
