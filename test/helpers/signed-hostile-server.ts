// A fake Outpost server on loopback that speaks the runner protocol (hello, claim, heartbeat,
// logs, finish) and hands a real runner whatever tasks a test forges: the hostile server.
import type { Outcome, Task } from '../../src/protocol/tasks.ts';
import type { HoldDecision } from '../../src/protocol/approvals.ts';
import type { HoldBody } from '../../src/protocol/runner.ts';
import { startRawServer, type RawServer } from './server.ts';

export interface HostileServer {
  url: string;
  /** Queues `task` for the next claim, as attempt `attempt`. */
  deliver(task: Task, attempt?: number): void;
  /** Outcomes the runner reported, by task id (the last one for each). */
  finished: Map<string, Outcome>;
  /** The runner's last hold report per task. */
  holds: Map<string, HoldBody>;
  /** The decision the runner resumed each task on. */
  resumed: Map<string, HoldDecision>;
  /** Relays `decision` in heartbeat replies for the task until the runner holds it again. */
  decide(taskId: string, decision: HoldDecision): void;
  /** Asks the runner, in heartbeat replies, to cancel the task (a client's cancel). */
  cancel(taskId: string): void;
  /** Resolves once every id in `ids` has an outcome. */
  waitForOutcomes(ids: string[], timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const TOKEN_PREFIX = 'lease-';

export async function startHostileServer(): Promise<HostileServer> {
  const queue: { task: Task; attempt: number }[] = [];
  const finished = new Map<string, Outcome>();
  const tasks = new Map<string, Task>();
  const holds = new Map<string, HoldBody>();
  const resumed = new Map<string, HoldDecision>();
  const decisions = new Map<string, HoldDecision>();
  const cancels = new Set<string>();
  const raw: RawServer = await startRawServer((req, res, text) => {
    const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    const reply = (value: unknown, status = 200) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    const now = Date.now();
    switch (req.url) {
      case '/v1/runner/hello':
        return reply({
          runner: body.name,
          leaseMs: 30_000,
          heartbeatMs: 1_000,
          serverVersion: 'hostile',
          serverTime: now,
        });
      case '/v1/runner/claim': {
        const claims = queue.splice(0).map(({ task, attempt }) => ({
          task: { ...task, attempt },
          attempt,
          leaseToken: `${TOKEN_PREFIX}${task.id}-${attempt}`,
          leaseExpiresAt: now + 30_000,
        }));
        // A short poll: the runner asks again at once, so a delivered task goes out quickly.
        return void setTimeout(() => reply({ tasks: claims }), claims.length > 0 ? 0 : 50);
      }
      case '/v1/runner/heartbeat': {
        const leases = (body.leases as { taskId: string }[]).map(({ taskId }) => ({
          taskId,
          leaseExpiresAt: now + 30_000,
        }));
        const relayed = leases.flatMap(({ taskId }) => {
          const decision = decisions.get(taskId);
          return decision ? [{ taskId, decision }] : [];
        });
        const cancel = leases.map((l) => l.taskId).filter((id) => cancels.has(id));
        return reply({ leases, lost: [], cancel, decisions: relayed });
      }
      case '/v1/runner/hold': {
        const hold = body as unknown as HoldBody;
        holds.set(hold.taskId, hold);
        // As the real server: a new hold clears only the decision the runner refused.
        if (decisions.get(hold.taskId)?.at === hold.refusedAt) decisions.delete(hold.taskId);
        return reply({ task: { ...tasks.get(hold.taskId)!, state: 'held' } });
      }
      case '/v1/runner/resume': {
        const taskId = body.taskId as string;
        resumed.set(taskId, body.decision as HoldDecision);
        decisions.delete(taskId);
        return reply({ task: tasks.get(taskId)! });
      }
      case '/v1/runner/logs':
        return reply({ storedThrough: 1_000_000 });
      case '/v1/runner/agent-sessions':
        return reply({ stored: 0 });
      case '/v1/runner/finish': {
        // One outcome, or a runner's batch of them (answered per item), as the real server takes.
        const finish = (item: Record<string, unknown>) => {
          const outcome = item.outcome as Outcome;
          const task = tasks.get(item.taskId as string)!;
          finished.set(task.id, outcome);
          return { ...task, state: outcome.status, outcome, finishedAt: now };
        };
        if (!Array.isArray(body.results)) return reply({ task: finish(body) });
        const items = body.results as Record<string, unknown>[];
        return reply({
          results: items.map((item) => ({ taskId: item.taskId, state: finish(item).state })),
        });
      }
      default:
        return reply({ error: { code: 'not_found', message: `no ${req.url}` } }, 404);
    }
  });
  return {
    url: raw.url,
    finished,
    holds,
    resumed,
    decide: (taskId, decision) => void decisions.set(taskId, decision),
    cancel: (taskId) => void cancels.add(taskId),
    deliver(task, attempt = 1) {
      tasks.set(task.id, task);
      queue.push({ task, attempt });
    },
    async waitForOutcomes(ids, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!ids.every((id) => finished.has(id))) {
        if (Date.now() > deadline)
          throw new Error(`no outcome for ${ids.filter((id) => !finished.has(id)).join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () => raw.close(),
  };
}

/** The task a server would hand out for a created body (what the hostile server forges from). */
export function taskFromBody(
  body: { kind: Task['kind']; spec: Record<string, unknown> } & Partial<
    Pick<Task, 'target' | 'sessionKey' | 'signature'>
  >,
  id: string,
): Task {
  const now = Date.now();
  const { kind, spec, target, sessionKey, signature } = body;
  return {
    id,
    kind,
    spec,
    state: 'running',
    priority: 0,
    runAt: now,
    timeoutMs: 30_000,
    maxAttempts: 1,
    retryOnFailure: false,
    attempt: 1,
    createdAt: now,
    updatedAt: now,
    cancelRequested: false,
    ...(target ? { target } : {}),
    ...(sessionKey ? { sessionKey } : {}),
    ...(signature ? { signature } : {}),
  };
}
