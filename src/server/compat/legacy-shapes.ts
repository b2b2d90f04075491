// Maps Outpost tasks onto the legacy OpenClaw worker shapes: statuses, the result object a client
// fetches, and the task object an old runner polls. Field names are the old API's, on purpose.
import type { Kind, Outcome, Task, TaskState } from '../../protocol/tasks.ts';
import type { StoredTask } from '../../store/types.ts';

export type LegacyStatus = 'pending' | 'running' | 'completed' | 'failed';

export function legacyStatus(state: TaskState): LegacyStatus {
  if (state === 'running') return 'running';
  if (state === 'succeeded') return 'completed';
  if (state === 'queued' || state === 'scheduled' || state === 'held') return 'pending';
  return 'failed';
}

const LEGACY_TYPES = {
  shell: 'command',
  'file.read': 'file-read',
  'file.write': 'file-write',
  'file.edit': 'file-edit',
  'file.list': 'file-list',
} as const;

/** The old API's `type` of a task of this kind (`command`, `file-read`, `claude-cli`, ...). */
export function legacyType(kind: Kind, spec?: Record<string, unknown>): string {
  if (kind === 'agent') return typeof spec?.agent === 'string' ? `${spec.agent}-cli` : 'agent';
  return LEGACY_TYPES[kind];
}

/** What `GET /tasks/:id` returns once the task has ended. */
export function legacyResult(task: StoredTask) {
  const outcome = task.outcome;
  const exitCode = outcome?.exitCode ?? (outcome?.status === 'succeeded' ? 0 : 1);
  const metadata = { ...task.metadata, ...outcome?.metadata };
  return {
    taskId: task.id,
    stdout: outcome ? legacyStdout(task, outcome) : '',
    stderr:
      outcome?.stderr ?? (outcome?.status === 'succeeded' ? '' : (outcome?.error?.message ?? '')),
    exitCode,
    error:
      outcome?.status === 'succeeded' ? null : (outcome?.error?.message ?? outcome?.status ?? null),
    completedAt: task.finishedAt ?? null,
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
  };
}

/** The old runners reported file results on stdout; v1 runners put them in `output`. */
function legacyStdout(task: StoredTask, outcome: Outcome): string {
  if (outcome.stdout !== undefined) return outcome.stdout;
  if (outcome.status !== 'succeeded') return '';
  const output = (outcome.output ?? {}) as { content?: unknown; path?: unknown };
  const specPath = typeof task.spec.path === 'string' ? task.spec.path : '';
  const path = typeof output.path === 'string' ? output.path : specPath;
  if (task.kind === 'file.read' && typeof output.content === 'string') return output.content;
  if (task.kind === 'file.write') return `File written: ${path}`;
  if (task.kind === 'file.edit') return `File edited: ${path}`;
  return '';
}

/** The task object an unmodified old runner receives from `GET /worker/poll`. */
export function legacyTaskObject(task: Task): Record<string, unknown> {
  const spec = task.spec;
  const base = {
    id: task.id,
    type: legacyType(task.kind, spec),
    status: 'running',
    createdAt: task.createdAt,
    startedAt: task.startedAt ?? null,
    completedAt: null,
    timeout: task.timeoutMs,
  };
  switch (task.kind) {
    case 'shell':
      return { ...base, command: spec.command };
    case 'file.read':
      return { ...base, path: spec.path };
    case 'file.write':
      return { ...base, path: spec.path, content: spec.content, encoding: spec.encoding ?? 'utf8' };
    case 'file.edit':
      return {
        ...base,
        path: spec.path,
        oldString: spec.oldString,
        newString: spec.newString,
        replaceAll: spec.replaceAll === true,
      };
    case 'agent':
      // No callbackChannel: the server delivers callbacks, and the token never leaves it.
      return {
        ...base,
        prompt: spec.prompt,
        sessionId: spec.resume ?? spec.newSessionId ?? null,
        model: spec.model ?? null,
        resumeLatest: false,
      };
    default:
      return base;
  }
}

/** Turns an old runner's `{stdout, stderr, exitCode, error}` report into an outcome. */
export function outcomeFromLegacy(report: Record<string, unknown>): Outcome {
  const exitCode =
    typeof report.exitCode === 'number' && Number.isInteger(report.exitCode) ? report.exitCode : 1;
  const stdout = typeof report.stdout === 'string' ? report.stdout : '';
  const stderr = typeof report.stderr === 'string' ? report.stderr : '';
  const message =
    typeof report.error === 'string' && report.error
      ? report.error
      : `exited with code ${exitCode}`;
  const metadata = isRecord(report.metadata) ? report.metadata : undefined;
  const base = { exitCode, stdout, stderr, ...(metadata ? { metadata } : {}) };
  if (exitCode === 0) return { status: 'succeeded', ...base };
  return {
    status: 'failed',
    ...base,
    error: { kind: 'exit', message, exitCode, retryable: false },
  };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
