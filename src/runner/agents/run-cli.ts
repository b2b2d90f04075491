// One invocation of an agent CLI through runProcess (own process group, timeout, cancel, kill
// ladder, tag sweep), its stdout read as JSON events into progress lines and a report as it runs;
// the session id is passed on the moment an event carries it, not when the run ends.
import { runProcess, type ProcessResult } from '../process.ts';
import { createTaskTag } from '../process-sweep.ts';
import type { ExecContext } from '../executors/types.ts';
import { LineSplitter, parseJsonObject } from './json-lines.ts';
import type { ProgressWriter } from './progress.ts';
import type { AgentDriver, TurnOptions, TurnReport } from './types.ts';

export interface CliRun {
  process: ProcessResult;
  report: TurnReport;
  /** JSON events parsed. */
  events: number;
  /** The start of stdout that was not JSON (usage text, warnings), for error messages. */
  noise: string;
  /** Wall time of this run, for CLIs that report no duration of their own. */
  runMs: number;
}

export interface CliRunOptions {
  driver: AgentDriver;
  binary: string;
  turn: TurnOptions;
  cwd: string;
  env: Readonly<Record<string, string>>;
  timeoutMs: number;
  ctx: ExecContext;
  progress: ProgressWriter;
  /** Called once, with the session id, as soon as an event of this run carries it. */
  onSessionId?: (id: string) => void;
}

/** Enough stray stdout to quote a usage error; the rest is of no use to a reader of the outcome. */
const MAX_NOISE_CHARS = 16 * 1024;

/**
 * Runs the CLI once and resolves after its whole process tree is gone; never throws for the CLI's
 * own failures (they are in `process` and `report`).
 */
export async function runAgentCli(opts: CliRunOptions): Promise<CliRun> {
  const { ctx, driver } = opts;
  const parser = driver.createParser();
  let events = 0;
  let noise = '';
  let sessionId: string | undefined;
  const splitter = new LineSplitter((line) => {
    const event = parseJsonObject(line);
    if (event && typeof event.type === 'string') {
      events += 1;
      opts.progress.add(parser.accept(event));
      if (sessionId === undefined) {
        sessionId = parser.currentSessionId();
        if (sessionId !== undefined) opts.onSessionId?.(sessionId);
      }
    } else if (line.trim() !== '' && noise.length < MAX_NOISE_CHARS) {
      noise += `${line}\n`;
    }
  });
  const startedAt = Date.now();
  const process = await runProcess({
    argv: [opts.binary, ...driver.buildArgs(opts.turn)],
    cwd: opts.cwd,
    env: opts.env,
    timeoutMs: opts.timeoutMs,
    signal: ctx.signal,
    maxOutputBytes: ctx.settings.maxOutputBytes,
    killGraceMs: ctx.settings.killGraceMs,
    tag: createTaskTag(ctx.taskId, ctx.attempt, ctx.settings.tagPrefix),
    // Live output carries the progress log instead of the raw JSON; stderr passes through as is.
    onOutput: (stream, bytes) => {
      if (stream === 'stdout') splitter.push(bytes);
      else ctx.onOutput?.('stderr', bytes);
    },
  });
  splitter.end();
  opts.progress.end();
  return { process, report: parser.finish(), events, noise, runMs: Date.now() - startedAt };
}
