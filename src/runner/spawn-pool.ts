// Where a task's process is forked: by one of a few spawn helper processes, so the runner's own
// thread never blocks in fork/exec, or, while no helper can start, on the runner's thread.
import { launchLocally, type Launch, type LaunchRequest } from './child-launch.ts';
import { SpawnHelper } from './spawn-helper.ts';

export interface SpawnPoolOptions {
  /** Most helpers to run: each forks one child at a time, so two let two forks overlap. */
  size: number;
  /** The node binary that runs a helper. */
  execPath: string;
  /** After a helper failed to start, fork in-thread this long before trying again. */
  retryMs: number;
}

export const DEFAULT_SPAWN_POOL: SpawnPoolOptions = Object.freeze({
  size: 2,
  execPath: process.execPath,
  retryMs: 60_000,
});

export class SpawnPool {
  private helpers: SpawnHelper[] = [];
  private retryAt = 0;

  constructor(private readonly options: SpawnPoolOptions) {}

  /**
   * Starts `req` through the least busy helper, starting helpers as needed; in-thread when none
   * can run, or when the chosen one died before it took the request.
   * @example const launch = await pool.launch({ file: 'true', args: [], cwd: '/', env: {}, onOutput });
   */
  async launch(req: LaunchRequest): Promise<Launch> {
    const helper = this.pick();
    const launched = helper ? await helper.launch(req) : undefined;
    return launched ?? launchLocally(req);
  }

  /**
   * The ready helper with the fewest forks pending. Another helper starts only when that one is
   * busy forking: a runner that runs one task at a time keeps one helper (about 40 MiB).
   */
  private pick(): SpawnHelper | undefined {
    this.helpers = this.helpers.filter((helper) => !helper.dead);
    let best: SpawnHelper | undefined;
    for (const helper of this.helpers) {
      if (helper.isReady && (!best || helper.pendingLaunches < best.pendingLaunches)) best = helper;
    }
    const wanted = best === undefined || best.pendingLaunches > 0;
    const starting = this.helpers.some((helper) => !helper.isReady);
    if (wanted && !starting && this.helpers.length < this.options.size) {
      const helper = this.startHelper();
      if (helper) this.helpers.push(helper);
    }
    // While the first is starting, requests wait for it rather than fork in-thread.
    return best ?? this.helpers[0];
  }

  private startHelper(): SpawnHelper | undefined {
    if (Date.now() < this.retryAt) return undefined;
    const helper = new SpawnHelper(this.options.execPath);
    void helper.whenReady().then((ready) => this.onStarted(ready));
    return helper;
  }

  /** A helper that dies before it listens would die again at once: back off instead of looping. */
  private onStarted(ready: boolean): void {
    if (!ready) this.retryAt = Date.now() + this.options.retryMs;
  }
}

/** The runner's pool: one per process, its helpers started on the first spawn. */
export const spawnPool = new SpawnPool(DEFAULT_SPAWN_POOL);
