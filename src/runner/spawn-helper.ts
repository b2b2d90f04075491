// One spawn helper process, seen from the runner: it forks the task processes the runner asks for
// and relays their pids, output and exits. If it dies, the children it was watching are reported
// `lost` (their supervisor stops their groups) and the pool starts another helper.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { spawnFailure, type ChildExit, type Launch, type LaunchRequest } from './child-launch.ts';
import { CHANNEL_READ_BYTES, openChannelPair, type ChannelPair } from './helper-channel.ts';
import { FRAME, FrameReader, encodeRequest, type HelperRequest } from './spawn-frames.ts';
import { HELPER_WINDOW_BYTES, SPAWN_HELPER_SCRIPT } from './spawn-helper-script.ts';

/** One child as the runner tracks it, from the spawn request to the end of its output. */
interface Tracked {
  req: LaunchRequest;
  /** Settles the launch: with the started child, or a spawn error. */
  settle: (launch: Launch) => void;
  started: boolean;
  exited: Deferred<ChildExit>;
  closed: Deferred<void>;
  /** Output bytes handled but not yet acknowledged to the helper. */
  unacked: number;
}

/**
 * Acknowledge output once this much has been handled. At most half the helper's window, so the
 * acknowledged part of a full window always lets the helper read on (it resumes below half).
 */
const ACK_BYTES = HELPER_WINDOW_BYTES / 4;

export class SpawnHelper {
  /** Set once the channel is connected and the process spawned. */
  private child?: ChildProcess;
  private channel?: Socket;
  private readonly reader = new FrameReader((type, id, payload) => this.onFrame(type, id, payload));
  private readonly tracked = new Map<number, Tracked>();
  /** Output pieces of the read being parsed, by child id and stream. */
  private readonly gathered = new Map<number, { id: number; type: number; pieces: Buffer[] }>();
  private nextId = 1;
  private launching = 0;
  private readonly ready = deferred<boolean>();
  private deathReason?: string;
  /** How the process ended, once known; it is reported when the channel has been read to its end. */
  private exitReason?: string;
  private channelClosed = false;
  private listening = false;
  /** Where `joined` puts a read's pieces of one stream together; allocated on first use. */
  private joinBuffer = Buffer.alloc(0);

  /** Starts the process; a failure to start makes it dead, and `whenReady` false. */
  constructor(execPath: string) {
    void this.start(execPath);
  }

  private async start(execPath: string): Promise<void> {
    let pair: ChannelPair;
    try {
      pair = await openChannelPair((bytes) => {
        this.reader.push(bytes);
        this.flushOutput();
      });
    } catch (err) {
      return this.die(`could not start: no channel: ${(err as Error).message}`);
    }
    try {
      // detached: a terminal's Ctrl-C goes to the runner's group and must not kill the helper
      // while the runner drains. An empty env: each task's env is sent with its request.
      this.child = spawn(execPath, ['-e', SPAWN_HELPER_SCRIPT], {
        detached: true,
        env: {},
        stdio: ['ignore', 'ignore', 'inherit', pair.theirs],
      });
    } catch (err) {
      pair.ours.destroy();
      return this.die(`could not start: ${(err as Error).message}`);
    } finally {
      pair.theirs.destroy(); // the helper has its own copy now; the pair stays open through it
    }
    this.watch(this.child, pair.ours);
  }

  private watch(child: ChildProcess, channel: Socket): void {
    this.channel = channel;
    channel.on('error', () => undefined); // the close below follows
    // Frames sent just before an exit may still be unread when 'exit' fires: a child whose exit
    // frame is among them is not lost. So the helper is dead once both the process and the
    // channel have ended.
    channel.once('close', () => {
      this.channelClosed = true;
      if (this.exitReason !== undefined) this.die(this.exitReason);
    });
    child.once('exit', (code, signal) => {
      this.exitReason = exitText(code, signal);
      if (this.channelClosed) this.die(this.exitReason);
    });
    child.on('error', (err) => this.die(`could not start: ${err.message}`));
    this.updateRef();
  }

  /** Spawns requests not yet answered: the pool gives new work to the helper with the fewest. */
  get pendingLaunches(): number {
    return this.launching;
  }

  /** True once the helper listens (and until it dies). */
  get isReady(): boolean {
    return this.listening && !this.dead;
  }

  get dead(): boolean {
    return this.deathReason !== undefined;
  }

  /** Resolves true once the helper listens, false if it died before (the pool then backs off). */
  whenReady(): Promise<boolean> {
    return this.ready.promise;
  }

  /**
   * Starts `req` through this helper; undefined when the helper died before it could take the
   * request (nothing was started, so the caller may start it another way).
   */
  async launch(req: LaunchRequest): Promise<Launch | undefined> {
    this.launching += 1;
    this.updateRef();
    const isReady = await this.whenReady();
    if (!isReady || this.dead) {
      this.launching -= 1;
      this.updateRef();
      return undefined;
    }
    const id = this.nextId;
    // Ids are u32 on the wire; at 500 spawns/s they wrap after about 100 days.
    this.nextId = (this.nextId % 0xffff_fffe) + 1;
    const launched = new Promise<Launch>((settle) => {
      const entry = { req, settle, started: false, exited: deferred<ChildExit>(), unacked: 0 };
      this.tracked.set(id, { ...entry, closed: deferred<void>() });
    });
    this.updateRef();
    const { file, args, cwd, env } = req;
    this.send({ t: 'spawn', id, file, args, cwd, env });
    return launched;
  }

  private onFrame(type: number, id: number, payload: Buffer): void {
    if (type === FRAME.stdout || type === FRAME.stderr) return this.gatherOutput(type, id, payload);
    this.flushOutput(); // output before an exit or close is handed on before it
    if (type === FRAME.ready) {
      this.listening = true;
      return this.ready.resolve(true);
    }
    const entry = this.tracked.get(id);
    if (!entry) return; // released already: the helper had frames in flight
    if (type === FRAME.started) return this.onStarted(id, entry, parseJson(payload));
    if (type === FRAME.failed) return this.onFailed(id, entry, parseJson(payload));
    if (type === FRAME.exited) {
      const { code, signal } = parseJson(payload) as Pick<ChildExit, 'code' | 'signal'>;
      return entry.exited.resolve({ code, signal });
    }
    if (type === FRAME.closed) this.forget(id, entry);
  }

  /**
   * Output pieces are gathered per child and stream over one read of the channel and handed on as
   * one buffer: a helper that keeps up with a task reads its pipe in small pieces, and each
   * `onOutput` call costs the runner more than the copy that joins them.
   */
  private gatherOutput(type: number, id: number, piece: Buffer): void {
    const key = id * 4 + type;
    const gathered = this.gathered.get(key);
    if (gathered) gathered.pieces.push(piece);
    else this.gathered.set(key, { id, type, pieces: [piece] });
  }

  private flushOutput(): void {
    for (const { id, type, pieces } of this.gathered.values()) {
      const entry = this.tracked.get(id);
      if (entry) this.deliver(id, entry, type, pieces);
    }
    this.gathered.clear();
  }

  private deliver(id: number, entry: Tracked, type: number, pieces: Buffer[]): void {
    const bytes = this.joined(pieces);
    entry.req.onOutput(type === FRAME.stdout ? 'stdout' : 'stderr', bytes);
    // Acknowledged in batches: one write per 256 KiB, not per piece.
    entry.unacked += bytes.length;
    if (entry.unacked < ACK_BYTES) return;
    this.send({ t: 'ack', id, n: entry.unacked });
    entry.unacked = 0;
  }

  /**
   * The pieces as one view, valid until the next read: a piece alone is handed on as it is, more
   * are copied into one buffer that is reused (allocating it per read was most of the runner's
   * garbage while a task printed a gigabyte).
   */
  private joined(pieces: Buffer[]): Buffer {
    if (pieces.length === 1) return pieces[0]!;
    const size = pieces.reduce((sum, piece) => sum + piece.length, 0);
    if (this.joinBuffer.length < size) {
      this.joinBuffer = Buffer.allocUnsafe(Math.max(size, CHANNEL_READ_BYTES));
    }
    let at = 0;
    for (const piece of pieces) at += piece.copy(this.joinBuffer, at);
    return this.joinBuffer.subarray(0, size);
  }

  private onStarted(id: number, entry: Tracked, started: unknown): void {
    this.launching -= 1;
    entry.started = true;
    entry.settle({
      pid: (started as { pid: number }).pid,
      exited: entry.exited.promise,
      closed: entry.closed.promise,
      release: () => {
        if (this.tracked.get(id) !== entry) return;
        this.send({ t: 'release', id });
        this.forget(id, entry);
      },
    });
  }

  private onFailed(id: number, entry: Tracked, failure: unknown): void {
    this.launching -= 1;
    const { code, message } = failure as { code?: string; message: string };
    entry.settle({ spawnError: spawnFailure(code, message, entry.req.file) });
    this.forget(id, entry);
  }

  private forget(id: number, entry: Tracked): void {
    this.tracked.delete(id);
    entry.closed.resolve();
    this.updateRef();
  }

  private send(request: HelperRequest): void {
    if (!this.dead) this.channel?.write(encodeRequest(request));
  }

  /**
   * Fails what was in flight: a request sent but not answered may or may not have forked (its
   * supervisor sweeps its tag), and a started child is `lost`.
   */
  private die(reason: string): void {
    if (this.dead) return;
    this.deathReason = `the spawn helper (pid ${this.child?.pid ?? '?'}) ${reason}`;
    this.ready.resolve(false);
    for (const [id, entry] of this.tracked) {
      if (entry.started) {
        entry.exited.resolve({ code: null, signal: null, lost: this.deathReason });
      } else {
        this.launching -= 1;
        const reason = `${this.deathReason} before it answered`;
        entry.settle({ spawnError: spawnFailure(HELPER_LOST, reason, entry.req.file) });
      }
      this.forget(id, entry);
    }
    this.channel?.destroy();
  }

  /** Holds the runner's event loop open only while a child is tracked, as its pipes used to. */
  private updateRef(): void {
    const { child, channel } = this;
    if (!child || !channel) return; // starting: the start's own handles hold the loop meanwhile
    if (this.dead) return child.unref(); // and its channel is destroyed
    const busy = this.tracked.size > 0 || this.launching > 0;
    if (busy) channel.ref();
    else channel.unref();
    if (busy) child.ref();
    else child.unref();
  }
}

/** The spawn error code of a request whose helper died before answering it. */
export const HELPER_LOST = 'EHELPERLOST';

function exitText(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code ?? '?'}`;
}

function parseJson(payload: Buffer): unknown {
  return JSON.parse(payload.toString('utf8'));
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => (resolve = res));
  return { promise, resolve };
}
