import { defineQuery, setCurrentDetails, setHandler } from '@temporalio/workflow';

/** What a run is doing now, and what it has done: the `progress` query every tego-ops workflow answers. */
export interface Progress {
  /** "running", or what it waits for: "waiting for approval", "waiting for the change window", "paused". */
  phase: string;
  steps: StepProgress[];
}

export interface StepProgress {
  name: string;
  status: 'running' | 'done' | 'failed' | 'undone' | 'undo failed';
  startedAt: string;
  finishedAt?: string;
  detail?: string;
}

export const progressQuery = defineQuery<Progress>('progress');

/**
 * The run's step log: answers the `progress` query and keeps the UI's "current details" in step, so the
 * UI, `tego-ops watch` and code see the same thing.
 */
export class ProgressLog {
  private readonly progress: Progress = { phase: 'running', steps: [] };

  constructor() {
    setHandler(progressQuery, () => this.progress);
  }

  setPhase(phase: string): void {
    this.progress.phase = phase;
    this.publish();
  }

  /** Runs `work` as the named step, logging its start, end and failure. */
  async step<T>(name: string, work: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    const step: StepProgress = { name, status: 'running', startedAt: new Date().toISOString() };
    this.progress.steps.push(step);
    this.publish();
    try {
      const result = await work();
      Object.assign(step, { status: 'done', finishedAt: new Date().toISOString(), ...(describe ? { detail: describe(result) } : {}) });
      return result;
    } catch (err) {
      Object.assign(step, { status: 'failed', finishedAt: new Date().toISOString(), detail: (err as Error).message });
      throw err;
    } finally {
      this.publish();
    }
  }

  /** Marks a finished step as undone by compensation (or not). */
  markUndone(name: string, outcome: 'undone' | 'undo failed', detail?: string): void {
    const step = [...this.progress.steps].reverse().find((s) => s.name === name);
    if (step) Object.assign(step, { status: outcome, ...(detail ? { detail } : {}) });
    this.publish();
  }

  snapshot(): Progress {
    return this.progress;
  }

  private publish(): void {
    const done = this.progress.steps.filter((s) => s.status === 'done').length;
    const current = this.progress.steps.find((s) => s.status === 'running');
    setCurrentDetails(
      [`**${this.progress.phase}**`, `${done} of ${this.progress.steps.length} steps done`, current ? `now: ${current.name}` : '']
        .filter(Boolean)
        .join(' · '),
    );
  }
}
