// The `agent` kind: runs Claude Code, Codex or Gemini CLI on one prompt through its JSON output,
// resuming a session (or starting fresh when the CLI refuses it) and falling back across models.
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AgentSpec } from '../../protocol/agents.ts';
import type { Outcome } from '../../protocol/tasks.ts';
import { buildChildEnv } from '../child-env.ts';
import { agentOutcome } from '../agents/agent-outcome.ts';
import { classifyRun } from '../agents/classify.ts';
import { AGENT_DRIVERS } from '../agents/drivers.ts';
import { ProgressWriter } from '../agents/progress.ts';
import { runAgentCli } from '../agents/run-cli.ts';
import { TurnPlan } from '../agents/turn-plan.ts';
import { defineExecutor } from './outcome.ts';
import { resolveCwd } from './shell.ts';
import type { ExecContext } from './types.ts';

export const executeAgent = defineExecutor('agent', runAgentTask);

async function runAgentTask(spec: AgentSpec, ctx: ExecContext): Promise<Outcome> {
  const settings = ctx.settings.agents[spec.agent];
  const driver = AGENT_DRIVERS[spec.agent];
  const cwd = await resolveCwd(spec.cwd ?? settings.cwd, ctx.settings);
  const base = {
    prompt: spec.prompt,
    mode: settings.mode,
    extraArgs: settings.extraArgs,
    inGitRepo: await isInGitRepo(cwd),
  };
  const env = buildChildEnv(settings.envAllowlist);
  const timeoutMs = Math.min(ctx.timeoutMs, settings.maxTimeoutMs ?? Infinity);
  // Fallback runs share the attempt's time: the task's timeout bounds the whole turn.
  const deadline = Date.now() + timeoutMs;
  const progress = new ProgressWriter((text) => ctx.onOutput?.('stdout', Buffer.from(text)));
  const plan = new TurnPlan(spec, settings);
  let reported: string | undefined;
  const onSessionId = (id: string): void => {
    if (id === reported) return; // a run that kept the session: the server has it already
    reported = id;
    ctx.onSessionId?.(id);
  };
  for (;;) {
    const turn = plan.turn(base);
    const run = await runAgentCli({
      driver,
      binary: settings.path,
      turn,
      cwd,
      env,
      timeoutMs: Math.max(0, deadline - Date.now()),
      ctx,
      progress,
      onSessionId,
    });
    const verdict = classifyRun({
      ...run,
      driver,
      binary: settings.path,
      pathSetting: settings.pathSetting,
      resumed: turn.resume !== undefined,
      newSession: turn.newSessionId !== undefined,
      model: turn.model,
      timeoutMs,
    });
    const note = plan.next(verdict, run.report);
    if (note === undefined) {
      const maxOutputBytes = ctx.settings.maxOutputBytes;
      return agentOutcome({ agent: spec.agent, run, verdict, plan, maxOutputBytes });
    }
    progress.add([{ kind: 'note', text: note }]);
  }
}

/** Whether `dir` is inside a git work tree (a `.git` directory or file in it or an ancestor). */
export async function isInGitRepo(dir: string): Promise<boolean> {
  for (let current = dir; ; current = dirname(current)) {
    try {
      await stat(join(current, '.git'));
      return true;
    } catch {
      if (dirname(current) === current) return false;
    }
  }
}
