// The runs one agent attempt may take: the resume to try, then a fresh session if the CLI refused
// it; the model list in order, moving on when a model is refused. Each decision is kept for the outcome.
import type { AgentSpec } from '../../protocol/agents.ts';
import type { Verdict } from './classify.ts';
import type { AgentSettings, TurnOptions, TurnReport } from './types.ts';

export class TurnPlan {
  /** Models to try in order; `undefined` alone means the CLI's own default. */
  readonly models: readonly (string | undefined)[];
  private modelIndex = 0;
  /** The session this run continues; cleared when the CLI refused it. */
  resume?: string;
  private newSessionId?: string;
  /** The CLI's words when it refused the session to resume. */
  freshBecause?: string;
  readonly modelsSkipped: string[] = [];

  constructor(spec: AgentSpec, settings: Pick<AgentSettings, 'models'>) {
    const models = [...new Set([spec.model, ...settings.models].filter((m) => m !== undefined))];
    this.models = models.length > 0 ? models : [undefined];
    this.resume = spec.fresh ? undefined : spec.resume;
    // Only Claude can be told the id of a new session before it starts.
    this.newSessionId = spec.agent === 'claude' ? spec.newSessionId : undefined;
  }

  get model(): string | undefined {
    return this.models[this.modelIndex];
  }

  turn(base: Pick<TurnOptions, 'prompt' | 'mode' | 'extraArgs' | 'inGitRepo'>): TurnOptions {
    return {
      ...base,
      model: this.model,
      resume: this.resume,
      newSessionId: this.resume ? undefined : this.newSessionId,
    };
  }

  /**
   * Decides whether another run follows the one that ended with `verdict`; returns a note for the
   * live log when it does, undefined when the attempt ends here.
   */
  next(verdict: Verdict, report: TurnReport): string | undefined {
    if (verdict.kind === 'resume_rejected' && this.resume !== undefined) {
      this.freshBecause = verdict.message;
      this.resume = undefined;
      return `could not resume (${verdict.message}); starting a fresh session`;
    }
    if (verdict.kind === 'session_taken' && this.newSessionId !== undefined) {
      // An earlier attempt of this turn started the session (and may have done part of the work).
      this.resume = this.newSessionId;
      this.newSessionId = undefined;
      return `${verdict.message}; continuing that session`;
    }
    if (verdict.kind === 'model_refused' && this.modelIndex + 1 < this.models.length) {
      const refused = this.model ?? 'default';
      this.modelsSkipped.push(refused);
      this.modelIndex += 1;
      // A fresh run that got as far as a session took the pre-assigned id; the next one cannot reuse it.
      if (this.resume === undefined && report.sessionId !== undefined)
        this.newSessionId = undefined;
      return `model ${refused} refused (${verdict.message}); trying ${this.model ?? 'the default'}`;
    }
    return undefined;
  }
}
