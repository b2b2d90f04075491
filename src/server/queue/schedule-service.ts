// Schedules: validates a cron expression, time zone and task template, computes slots with
// croner, and fires due slots through the store's compare-and-set (so each fires once, whichever
// server gets there first). The store never sees a cron expression, only times.
import { Cron } from 'croner';
import { AppError } from '../../protocol/errors.ts';
import type { CreateScheduleBody } from '../../protocol/schedules.ts';
import { SPEC_SCHEMAS } from '../../protocol/tasks.ts';
import { parseWith } from '../../protocol/validate.ts';
import { newId } from '../../lib/ids.ts';
import type { Clock } from '../../lib/clock.ts';
import type {
  FireScheduleResult,
  NewTask,
  ScheduleFilter,
  Store,
  StoredSchedule,
} from '../../store/types.ts';
import type { TaskService } from './task-service.ts';

/** Due schedules read per store call; a backlog larger than this is worked through in batches. */
const DUE_BATCH = 100;
/** Batches per run at most: the rest waits for the next run rather than holding this one. */
const MAX_BATCHES = 20;

export interface FireCounts {
  fired: number;
  skipped: number;
  failed: number;
}

const bad = (message: string) => new AppError('bad_request', message);

/**
 * The slot after `after` (strictly), or undefined when the expression has none. Five fields only
 * (minute resolution): a seconds field would let one schedule create a task every second.
 * @example nextSlot('0 9 * * MON-FRI', 'Europe/Paris', Date.now())
 */
export function nextSlot(cron: string, timezone: string | undefined, after: number) {
  const job = new Cron(cron, { paused: true, mode: '5-part', ...(timezone ? { timezone } : {}) });
  return job.nextRun(new Date(after))?.getTime();
}

export class ScheduleService {
  /** Called after a create or delete, so the firing loop re-arms its timer. */
  onChange: () => void = () => undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly tasks: TaskService,
  ) {}

  async create(body: CreateScheduleBody): Promise<StoredSchedule> {
    const now = this.clock.now();
    const first = this.validate(body, now);
    const enabled = body.enabled ?? true;
    const schedule = await this.store.createSchedule(
      {
        id: newId(now),
        ...(body.name !== undefined ? { name: body.name } : {}),
        cron: body.cron,
        ...(body.timezone !== undefined ? { timezone: body.timezone } : {}),
        overlap: body.overlap ?? 'skip',
        task: body.task,
        enabled,
        ...(enabled ? { nextRunAt: first } : {}),
      },
      now,
    );
    this.onChange();
    return schedule;
  }

  async get(id: string): Promise<StoredSchedule> {
    const schedule = await this.store.getSchedule(id);
    if (!schedule) throw new AppError('not_found', `Schedule ${id} not found`);
    return schedule;
  }

  list(filter: ScheduleFilter) {
    return this.store.listSchedules(filter);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.store.deleteSchedule(id, this.clock.now())))
      throw new AppError('not_found', `Schedule ${id} not found`);
    this.onChange();
  }

  nextRunAt(): Promise<number | undefined> {
    return this.store.nextScheduleRunAt();
  }

  /**
   * Fires every slot due now. A schedule that missed several slots (the server was down) fires
   * once, and its next slot is the first one after now: catch-up never floods the queue.
   */
  async fireDue(): Promise<FireCounts> {
    const counts: FireCounts = { fired: 0, skipped: 0, failed: 0 };
    const now = this.clock.now();
    // One schedule the store cannot fire must not hold up the others; the first error is rethrown.
    let failure: { error: unknown } | undefined;
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const due = await this.store.findDueSchedules(now, DUE_BATCH);
      for (const schedule of due) {
        try {
          const { result } = await this.fire(schedule, now);
          if (result !== 'stale') counts[result] += 1;
        } catch (error) {
          failure ??= { error };
        }
      }
      if (due.length < DUE_BATCH || failure) break;
    }
    if (failure) throw failure.error;
    return counts;
  }

  private async fire(schedule: StoredSchedule, now: number): Promise<FireScheduleResult> {
    const slot = schedule.nextRunAt!;
    let nextRunAt: number | undefined;
    let task: NewTask | undefined;
    let error: string | undefined;
    try {
      nextRunAt = nextSlot(schedule.cron, schedule.timezone, Math.max(now, slot));
      const metadata = { scheduleId: schedule.id, slot };
      task = this.tasks.buildNewTask(schedule.task, { origin: 'v1', metadata }, now);
    } catch (err) {
      // Valid when created, refused now (a callback secret removed from the config, say): the
      // slot is recorded as failed and the schedule goes on, rather than retrying forever.
      error = err instanceof Error ? err.message : String(err);
    }
    const result = await this.store.fireSchedule({
      id: schedule.id,
      expectedNextRunAt: slot,
      ...(nextRunAt !== undefined ? { nextRunAt } : {}),
      ...(task !== undefined ? { task } : { error }),
      now,
    });
    if (result.result === 'fired') this.tasks.announce(result.task);
    return result;
  }

  /** Everything a schedule is refused for, each naming its field; returns the first slot. */
  private validate(body: CreateScheduleBody, now: number): number {
    if (body.timezone !== undefined && !isTimeZone(body.timezone)) {
      throw bad(
        `timezone: unknown time zone "${body.timezone}"; use an IANA name like Europe/Paris`,
      );
    }
    let first: number | undefined;
    try {
      first = nextSlot(body.cron, body.timezone, now);
    } catch (err) {
      const reason = err instanceof Error ? err.message.replace(/^CronPattern: /, '') : '';
      throw bad(`cron: not a valid five-field cron expression (${reason})`);
    }
    if (first === undefined) throw bad('cron: has no time after now, so it would never fire');
    validateTemplate(body.task, (task) => this.tasks.buildNewTask(task, { origin: 'v1' }, now));
    return first;
  }
}

/**
 * The template is checked as POST /v1/tasks checks a body (errors name `task.<field>`), plus what
 * a template cannot hold: a start time, a one-task signature, or a per-task callback secret,
 * which the schedule would keep, and show, for as long as it exists.
 */
function validateTemplate(task: CreateScheduleBody['task'], build: (t: typeof task) => unknown) {
  if (task.runAt !== undefined)
    throw bad('task.runAt: not allowed in a schedule; the schedule decides when its tasks run');
  if (task.signature !== undefined) {
    throw bad('task.signature: not allowed in a schedule; a signature covers one task only');
  }
  if (task.callback?.discord?.botToken !== undefined) {
    throw bad(
      'task.callback.discord.botToken: not allowed in a schedule; configure CALLBACK_BOT_TOKEN on the server',
    );
  }
  if (task.callback?.webhook?.secret !== undefined) {
    throw bad(
      'task.callback.webhook.secret: not allowed in a schedule; configure OUTPOST_WEBHOOK_SECRET on the server',
    );
  }
  parseWith(SPEC_SCHEMAS[task.kind], task.spec, 'task.spec');
  try {
    build(task);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const message = err.message
      .split('; ')
      .map((problem) => `task.${problem}`)
      .join('; ');
    throw new AppError(err.code, message, err.details);
  }
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
