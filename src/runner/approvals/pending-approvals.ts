// The tasks this runner holds for a person's approval, each waiting for the first of: a decision
// (local or remote), its expiry, or its attempt being aborted (cancel, lost lease, drain, stop).

/** A held task as the local approval commands list it. */
export interface HeldTask {
  taskId: string;
  attempt: number;
  rule: string;
  reason: string;
  /** What the task asked to run (the audit summary: command, cwd, env names). */
  summary: Record<string, unknown>;
  heldAt: number;
  expiresAt: number;
  /** The task's signature nonce (signed tasks): a signed remote approval must name it. */
  taskNonce: string | null;
}

export interface ApprovalDecision {
  decision: 'approved' | 'rejected';
  /** `local user alice`, `token laptop`, `token laptop, key laptop`. */
  by: string;
  source: 'local' | 'remote';
  at: number;
  reason?: string;
}

export type HoldEnd =
  | { end: 'decided'; decision: ApprovalDecision }
  | { end: 'expired' }
  | { end: 'aborted'; why: string };

interface Waiting {
  held: HeldTask;
  settle(end: HoldEnd): void;
}

export class PendingApprovals {
  private readonly waiting = new Map<string, Waiting>();

  /** Resolves when `held` is decided, expires, or `signal` aborts; never rejects. */
  wait(held: HeldTask, signal: AbortSignal): Promise<HoldEnd> {
    return new Promise((resolve) => {
      const settle = (end: HoldEnd): void => {
        if (this.waiting.get(held.taskId)?.held !== held) return;
        this.waiting.delete(held.taskId);
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(end);
      };
      const onAbort = (): void => settle({ end: 'aborted', why: reasonText(signal.reason) });
      this.waiting.set(held.taskId, { held, settle });
      const timer = setTimeout(
        () => settle({ end: 'expired' }),
        Math.max(0, held.expiresAt - Date.now()),
      );
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Settles a held task with `decision`; false when no task with that id is held. */
  decide(taskId: string, decision: ApprovalDecision): boolean {
    const waiting = this.waiting.get(taskId);
    if (waiting === undefined) return false;
    waiting.settle({ end: 'decided', decision });
    return true;
  }

  get(taskId: string): HeldTask | undefined {
    return this.waiting.get(taskId)?.held;
  }

  /** Oldest first. */
  list(): HeldTask[] {
    return [...this.waiting.values()].map((w) => w.held).sort((a, b) => a.heldAt - b.heldAt);
  }
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return typeof reason === 'string' ? reason : 'aborted';
}
