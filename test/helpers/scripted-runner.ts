// A runner played by the test through the runner protocol (hello, claim, logs, heartbeat, finish)
// with the SDK: client tests decide exactly what an agent turn streams and reports, with no agent
// CLI and no runner process involved.
import { randomUUID } from 'node:crypto';
import type { AgentName, AgentOutput } from '../../src/protocol/agents.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import type { Outcome } from '../../src/protocol/tasks.ts';
import { OutpostClient } from '../../src/sdk/index.ts';

/** What the agent "answered": the final text plus whatever AgentOutput fields the test wants. */
export type ScriptedAnswer = Partial<AgentOutput> & { text: string };

export class ScriptedRunner {
  readonly client: OutpostClient;
  private readonly seqs = new Map<string, number>();

  private constructor(
    readonly name: string,
    url: string,
    token: string,
  ) {
    this.client = new OutpostClient({ baseUrl: url, token });
  }

  /** Says hello as runner `name`, taking agent tasks only. */
  static async start(url: string, token: string, name = 'scripted'): Promise<ScriptedRunner> {
    const runner = new ScriptedRunner(name, url, token);
    await runner.client.hello({
      name,
      instanceId: randomUUID(),
      capacity: 4,
      kinds: ['agent'],
      version: '0.0.0-test',
    });
    return runner;
  }

  /** Claims the next agent turn, waiting for one to be submitted (a CLI process is starting). */
  async claim(timeoutMs = 20_000): Promise<Claim> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const body = { runner: this.name, max: 1, waitMs: 1_000, kinds: ['agent' as const] };
      const [claim] = (await this.client.claimTasks(body)).tasks;
      if (claim) return claim;
    }
    throw new Error(`no agent turn to claim within ${timeoutMs} ms`);
  }

  /** Streams progress lines as live output, as an agent executor does. */
  async progress(claim: Claim, lines: string[]): Promise<void> {
    const taskId = claim.task.id;
    let seq = this.seqs.get(taskId) ?? 0;
    const chunks = lines.map((line) => ({ seq: ++seq, stream: 'stdout' as const, data: line }));
    this.seqs.set(taskId, seq);
    await this.client.appendOutput({ taskId, leaseToken: claim.leaseToken, chunks });
  }

  /** Finishes the turn successfully with `answer` as stdout and an AgentOutput around it. */
  answer(claim: Claim, answer: ScriptedAnswer): Promise<unknown> {
    const agent = claim.task.spec.agent as AgentName;
    const output: AgentOutput = { agent, resumed: claim.task.spec.resume !== undefined, ...answer };
    return this.finish(claim, {
      status: 'succeeded',
      exitCode: 0,
      stdout: answer.text,
      output,
      metadata: { agent, sessionId: answer.sessionId },
    });
  }

  finish(claim: Claim, outcome: Outcome): Promise<unknown> {
    const body = { taskId: claim.task.id, leaseToken: claim.leaseToken, outcome };
    return this.client.finishAttempt(body);
  }

  /** Heartbeats the lease until the server asks to cancel it (a client pressed Ctrl-C). */
  async waitForCancel(claim: Claim, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const leases = [{ taskId: claim.task.id, leaseToken: claim.leaseToken }];
    while (Date.now() < deadline) {
      const { cancel } = await this.client.heartbeat({ runner: this.name, leases });
      if (cancel.includes(claim.task.id)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no cancel requested for ${claim.task.id} within ${timeoutMs} ms`);
  }
}
