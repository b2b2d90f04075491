// Legacy client routes of the OpenClaw worker API: same requests, responses, messages and lenient
// clamping as before (compat.md), mapped onto the one task service.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../protocol/errors.ts';
import { isTerminal, STATES, type CreateTaskBody } from '../../protocol/tasks.ts';
import { clampNumber } from '../../lib/clock.ts';
import type { TaskService } from '../queue/task-service.ts';
import type { RetentionSettings } from '../queue/retention.ts';
import { connectionSignal } from '../routes/connection-signal.ts';
import { isRecord, legacyResult, legacyStatus } from './legacy-shapes.ts';

const config = { access: 'client', legacy: true } as const;

function bodyOf(request: FastifyRequest): Record<string, unknown> {
  return isRecord(request.body) ? request.body : {};
}

const nonBlank = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

export function registerLegacyClientRoutes(
  app: FastifyInstance,
  tasks: TaskService,
  retention: Pick<RetentionSettings, 'taskRetentionMs' | 'resultRetentionMs'>,
): void {
  const create = async (body: CreateTaskBody, message: string) => {
    const { task } = await tasks.createTask(body, { origin: 'legacy' });
    return { taskId: task.id, message };
  };

  app.post('/tasks', { config, schema: { hide: true } }, async (request) => {
    const { command, timeout } = bodyOf(request);
    if (!nonBlank(command)) throw new AppError('bad_request', 'command is required');
    const timeoutMs = clampNumber(timeout, 30_000, 1_000, 86_400_000);
    return create(
      { kind: 'shell', spec: { command: command.trim() }, timeoutMs },
      'Task created, waiting for worker',
    );
  });

  app.post('/files/read', { config, schema: { hide: true } }, async (request) => {
    const { path } = bodyOf(request);
    if (!nonBlank(path)) throw new AppError('bad_request', 'path is required');
    return create({ kind: 'file.read', spec: { path: path.trim() } }, 'File read task created');
  });

  app.post('/files/write', { config, schema: { hide: true } }, async (request) => {
    const { path, content, encoding } = bodyOf(request);
    if (!nonBlank(path) || typeof content !== 'string')
      throw new AppError('bad_request', 'path and content are required');
    if (encoding !== undefined && encoding !== 'utf8' && encoding !== 'base64') {
      throw new AppError('bad_request', 'encoding must be "utf8" or "base64"');
    }
    const spec = { path: path.trim(), content, ...(encoding ? { encoding } : {}) };
    return create({ kind: 'file.write', spec }, 'File write task created');
  });

  app.post('/files/edit', { config, schema: { hide: true } }, async (request) => {
    const { path, old_string, new_string, replace_all } = bodyOf(request);
    if (
      !nonBlank(path) ||
      typeof old_string !== 'string' ||
      old_string === '' ||
      typeof new_string !== 'string'
    ) {
      throw new AppError('bad_request', 'path, old_string, new_string are required');
    }
    // The old server read "false" as true; a boolean must be a boolean now.
    if (replace_all !== undefined && typeof replace_all !== 'boolean') {
      throw new AppError('bad_request', 'replace_all must be a boolean');
    }
    const spec = {
      path: path.trim(),
      oldString: old_string,
      newString: new_string,
      replaceAll: replace_all === true,
    };
    return create({ kind: 'file.edit', spec }, 'File edit task created');
  });

  app.get('/tasks/stats', { config, schema: { hide: true } }, async () => ({
    queue: { ...(await legacyQueueStats(tasks)), ...pickRetention(retention) },
  }));

  app.get<{ Params: { id: string }; Querystring: { wait?: string } }>(
    '/tasks/:id',
    { config, schema: { hide: true } },
    async (request, reply) => {
      const waitMs = clampNumber(request.query.wait, 0, 0, 60_000);
      const task = await tasks
        .getTask(request.params.id, waitMs, connectionSignal(reply))
        .catch((err: unknown) => {
          throw err instanceof AppError && err.code === 'not_found'
            ? new AppError('not_found', 'Task not found')
            : err;
        });
      if (!isTerminal(task.state))
        return { status: legacyStatus(task.state), message: 'Result not ready yet' };
      await tasks.markResultRead(task.id);
      return legacyResult(task);
    },
  );
}

async function legacyQueueStats(tasks: TaskService) {
  const counts = await tasks.countTasks();
  const byStatus = { pending: 0, running: 0, completed: 0, failed: 0 };
  for (const state of STATES) byStatus[legacyStatus(state)] += counts[state];
  const total = STATES.reduce((sum, s) => sum + counts[s], 0);
  return { total, byStatus, unconsumedResults: await tasks.countUnreadResults(), byState: counts };
}

/** The old stats showed how long tasks and results are kept; the fields keep their old names. */
function pickRetention(
  retention: Pick<RetentionSettings, 'taskRetentionMs' | 'resultRetentionMs'>,
) {
  return {
    taskRetentionMs: retention.taskRetentionMs,
    resultRetentionMs: retention.resultRetentionMs,
  };
}
