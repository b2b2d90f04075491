// A fake Outpost server on loopback that speaks the runner protocol (hello, claim, heartbeat,
// logs, finish) with plain node:http, and hands a real runner whatever tasks a test forges.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HelloBody, HoldBody } from '../../src/protocol/runner.ts';
import type { HoldDecision } from '../../src/protocol/approvals.ts';
import type { Kind, Outcome, Task } from '../../src/protocol/tasks.ts';

export interface HostileServer {
  url: string;
  hello?: HelloBody;
  /** Queues a forged task; resolves with the outcome the runner reports for it. */
  send(
    kind: Kind,
    spec: Record<string, unknown>,
    timeoutMs?: number,
  ): Promise<{ id: string; outcome: Outcome }>;
  /** Queues a forged task; its id at once, and its outcome when the runner reports it. */
  start(
    kind: Kind,
    spec: Record<string, unknown>,
    timeoutMs?: number,
  ): { id: string; done: Promise<Outcome> };
  /** Resolves with the runner's last hold report for the task, once it has one. */
  held(taskId: string): Promise<HoldBody>;
  /** Decisions the runner told the server it resumed a task on. */
  resumed: Map<string, HoldDecision>;
  /** Relays `decision` in heartbeat replies for the task, as a (possibly forged) server would. */
  decide(taskId: string, decision: HoldDecision): void;
  /** Live output the runner sent for a task, both streams. */
  output(taskId: string): string;
  /** Holds every finish reply (the outcome still counts as received) until the returned release. */
  stallFinishes(): () => void;
  close(): Promise<void>;
}

export async function startHostileServer(): Promise<HostileServer> {
  const queue: Task[] = [];
  const finished = new Map<string, (outcome: Outcome) => void>();
  const tasks = new Map<string, Task>();
  const logs = new Map<string, string>();
  const holds = new Map<string, HoldBody>();
  const resumed = new Map<string, HoldDecision>();
  const decisions = new Map<string, HoldDecision>();
  let next = 0;
  const state = { hello: undefined as HelloBody | undefined };
  let finishGate: Promise<void> | undefined;

  const routes: Record<string, (body: Record<string, unknown>) => unknown> = {
    '/v1/runner/hello': (body) => {
      state.hello = body as unknown as HelloBody;
      return {
        runner: body.name,
        leaseMs: 30_000,
        heartbeatMs: 1_000,
        serverVersion: 'hostile',
        serverTime: Date.now(),
      };
    },
    '/v1/runner/claim': async () => {
      for (let waited = 0; queue.length === 0 && waited < 500; waited += 20) await sleep(20);
      const claims = queue.splice(0).map((task) => ({
        task,
        attempt: 1,
        leaseToken: `lease-${task.id}`,
        leaseExpiresAt: Date.now() + 30_000,
      }));
      return { tasks: claims };
    },
    '/v1/runner/heartbeat': (body) => {
      const leases = (body.leases as { taskId: string }[]).map((l) => ({
        taskId: l.taskId,
        leaseExpiresAt: Date.now() + 30_000,
      }));
      const relayed = leases.flatMap(({ taskId }) => {
        const decision = decisions.get(taskId);
        return decision ? [{ taskId, decision }] : [];
      });
      return { leases, lost: [], cancel: [], decisions: relayed };
    },
    '/v1/runner/logs': (body) => {
      const taskId = body.taskId as string;
      const chunks = body.chunks as { seq: number; data: string; encoding?: string }[];
      for (const c of chunks) {
        const text = c.encoding === 'base64' ? Buffer.from(c.data, 'base64').toString() : c.data;
        logs.set(taskId, (logs.get(taskId) ?? '') + text);
      }
      return { storedThrough: Math.max(0, ...chunks.map((c) => c.seq)) };
    },
    // One outcome, or a runner's batch of them (answered per item), as the real server takes.
    '/v1/runner/finish': async (body) => {
      const finish = (item: Record<string, unknown>) => {
        const task = tasks.get(item.taskId as string)!;
        const outcome = item.outcome as Outcome;
        finished.get(task.id)?.(outcome);
        return { ...task, state: outcome.status, outcome };
      };
      const items = Array.isArray(body.results) ? (body.results as Record<string, unknown>[]) : [];
      const reply = Array.isArray(body.results)
        ? { results: items.map((item) => ({ taskId: item.taskId, state: finish(item).state })) }
        : { task: finish(body) };
      await finishGate;
      return reply;
    },
    '/v1/runner/agent-sessions': () => ({}),
    '/v1/runner/hold': (body) => {
      const hold = body as unknown as HoldBody;
      holds.set(hold.taskId, hold);
      // As the real server: a new hold clears only the decision the runner refused.
      if (decisions.get(hold.taskId)?.at === hold.refusedAt) decisions.delete(hold.taskId);
      return { task: { ...tasks.get(hold.taskId)!, state: 'held' } };
    },
    '/v1/runner/resume': (body) => {
      const taskId = body.taskId as string;
      resumed.set(taskId, body.decision as HoldDecision);
      decisions.delete(taskId);
      return { task: tasks.get(taskId)! };
    },
  };

  const server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const route = routes[req.url?.split('?')[0] ?? ''];
    const reply = route
      ? await route(text === '' ? {} : (JSON.parse(text) as Record<string, unknown>))
      : undefined;
    res.writeHead(route ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(reply ?? { error: { code: 'not_found', message: 'no such route' } }));
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const hostile: HostileServer = {
    url: `http://127.0.0.1:${port}`,
    get hello() {
      return state.hello;
    },
    async send(kind, spec, timeoutMs) {
      const { id, done } = hostile.start(kind, spec, timeoutMs);
      return { id, outcome: await done };
    },
    async held(taskId) {
      for (let waited = 0; !holds.has(taskId); waited += 20) {
        if (waited > 10_000) throw new Error(`task ${taskId} was never held`);
        await sleep(20);
      }
      return holds.get(taskId)!;
    },
    resumed,
    decide: (taskId, decision) => void decisions.set(taskId, decision),
    start(kind, spec, timeoutMs = 30_000) {
      const now = Date.now();
      const task: Task = {
        id: `forged_${++next}`,
        kind,
        spec,
        state: 'running',
        priority: 0,
        runAt: now,
        timeoutMs,
        maxAttempts: 1,
        retryOnFailure: false,
        attempt: 1,
        createdAt: now,
        updatedAt: now,
        cancelRequested: false,
      };
      tasks.set(task.id, task);
      const done = new Promise<Outcome>((resolve) => finished.set(task.id, resolve));
      queue.push(task);
      return { id: task.id, done };
    },
    output: (taskId) => logs.get(taskId) ?? '',
    stallFinishes() {
      let release = (): void => undefined;
      finishGate = new Promise<void>((resolve) => (release = resolve));
      return () => {
        finishGate = undefined;
        release();
      };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return hostile;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
