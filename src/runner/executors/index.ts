// The executor for every task kind, and `executeTask`, which never throws: an invalid spec, an
// unknown kind or an unexpected error all come back as a failed outcome.
import { AppError } from '../../protocol/errors.ts';
import { KINDS, type Kind, type Outcome } from '../../protocol/tasks.ts';
import { parseTaskSpec } from '../../protocol/validate.ts';
import { executeAgent } from './agent.ts';
import { executeFileEdit } from './file-edit.ts';
import { executeFileList } from './file-list.ts';
import { executeFileRead } from './file-read.ts';
import { executeFileWrite } from './file-write.ts';
import { failedOutcome } from './outcome.ts';
import { executeShell } from './shell.ts';
import type { ExecContext, ExecutorTable } from './types.ts';

export function createExecutors(): ExecutorTable {
  return {
    shell: executeShell,
    'file.read': executeFileRead,
    'file.write': executeFileWrite,
    'file.edit': executeFileEdit,
    'file.list': executeFileList,
    agent: executeAgent,
  };
}

const defaultExecutors = createExecutors();

/** The kinds the built-in executors run: what a runner may claim. */
export const EXECUTOR_KINDS: readonly Kind[] = Object.freeze(
  KINDS.filter((kind) => Object.hasOwn(defaultExecutors, kind)),
);

/**
 * Validates `spec` for `kind` and runs it; always resolves to an outcome.
 * @example const outcome = await executeTask('shell', { command: 'true' }, ctx);
 */
export async function executeTask(
  kind: Kind,
  spec: Record<string, unknown>,
  ctx: ExecContext,
  executors: ExecutorTable = defaultExecutors,
): Promise<Outcome> {
  const executor = Object.hasOwn(executors, kind) ? executors[kind] : undefined;
  if (executor === undefined)
    return failedOutcome('bad_spec', `unsupported task kind: ${String(kind)}`);
  try {
    parseTaskSpec(kind, spec);
  } catch (err) {
    if (err instanceof AppError) return failedOutcome('bad_spec', err.message);
    return internalFailure(err);
  }
  try {
    return await executor(spec, ctx);
  } catch (err) {
    return internalFailure(err);
  }
}

function internalFailure(err: unknown): Outcome {
  const reason = err instanceof Error ? err.message : String(err);
  return failedOutcome('internal', `internal error in the runner: ${reason}`);
}
