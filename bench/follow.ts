// Clients that follow a task's live output as a bot would (the logs long poll, the SSE stream),
// and a /proc sampler of peak RSS; used by the output scenario (bench/output.ts).
import { request } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { BenchHttp, field } from './http.ts';
import { rssMiB } from './processes.ts';

/** One chunk as a follower got it, and when (Date.now() of this process, the machine clock). */
export interface Received {
  seq: number;
  data: string;
  /** The server's clock when it stored the chunk. */
  at: number;
  /** Set on the cap's marker; its data is not output. */
  omittedBytes?: number;
  receivedAt: number;
}

export interface FollowResult {
  /** Bytes of real output (markers excluded) that reached the follower. */
  bytes: number;
  chunks: number;
  requests: number;
  /** Date.now() when the follower saw the end. */
  doneAt: number;
}

/**
 * Follows with `GET /v1/tasks/:id/logs?after=<lastSeq>&wait=30000` from the start until `done`,
 * calling `onChunk` for each chunk as soon as its page is parsed.
 */
export async function followLogs(
  http: BenchHttp,
  taskId: string,
  onChunk?: (c: Received) => void,
): Promise<FollowResult> {
  const result: FollowResult = { bytes: 0, chunks: 0, requests: 0, doneAt: 0 };
  for (let after = 0; ;) {
    const page = await http.ok('GET', `/v1/tasks/${taskId}/logs?after=${after}&wait=30000`);
    const receivedAt = Date.now();
    result.requests += 1;
    const chunks = field(page, 'chunks');
    for (const c of Array.isArray(chunks) ? (chunks as Omit<Received, 'receivedAt'>[]) : []) {
      count(result, c);
      onChunk?.({ ...c, receivedAt });
    }
    after = Number(field(page, 'lastSeq'));
    if (field(page, 'done') === true) return { ...result, doneAt: Date.now() };
  }
}

/** Follows `GET /v1/tasks/:id/events` (Server-Sent Events) until `event: end`. */
export function followEvents(
  baseUrl: string,
  token: string,
  taskId: string,
  onChunk?: (c: Received) => void,
): Promise<FollowResult> {
  const url = new URL(`/v1/tasks/${taskId}/events`, baseUrl);
  const result: FollowResult = { bytes: 0, chunks: 0, requests: 1, doneAt: 0 };
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`events: HTTP ${res.statusCode}`));
        res.setEncoding('utf8');
        let buffered = '';
        res.on('data', (text: string) => {
          const receivedAt = Date.now();
          buffered += text;
          let end: number;
          while ((end = buffered.indexOf('\n\n')) >= 0) {
            const frame = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const event = /^event: (.*)$/m.exec(frame)?.[1];
            const data = /^data: (.*)$/m.exec(frame)?.[1];
            if (event === 'output' && data !== undefined) {
              const c = JSON.parse(data) as Omit<Received, 'receivedAt'>;
              count(result, c);
              onChunk?.({ ...c, receivedAt });
            } else if (event === 'end') {
              res.destroy();
              resolve({ ...result, doneAt: receivedAt });
            }
          }
        });
        res.on('error', reject);
        res.on('end', () => reject(new Error('events: stream ended without event: end')));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function count(result: FollowResult, c: Omit<Received, 'receivedAt'>): void {
  result.chunks += 1;
  if (c.omittedBytes === undefined) result.bytes += Buffer.byteLength(c.data);
}

/** Peak VmRSS of some processes, sampled every `everyMs`, plus the kernel's own peak (VmHWM). */
export class RssSampler {
  private readonly peaks = new Map<string, number>();
  private readonly timer: ReturnType<typeof setInterval>;
  private samples = 0;

  constructor(
    private readonly pids: Record<string, number>,
    everyMs = 50,
  ) {
    // Resets VmHWM to the current RSS (Linux ≥ 4.0; our own children, so allowed).
    for (const pid of Object.values(pids)) {
      try {
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
      } catch {
        // then VmHWM is the peak since start-up; the sampled peak still holds
      }
    }
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  private sample(): void {
    this.samples += 1;
    for (const [name, pid] of Object.entries(this.pids)) {
      const rss = rssMiB(pid);
      this.peaks.set(name, Math.max(this.peaks.get(name) ?? 0, rss));
    }
  }

  /** Stops sampling; returns the sampled peak and VmHWM of each process, MiB. */
  stop(): { samples: number; peak: Record<string, number>; hwm: Record<string, number> } {
    clearInterval(this.timer);
    this.sample();
    const peak: Record<string, number> = {};
    const hwm: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      peak[name] = this.peaks.get(name) ?? 0;
      const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      hwm[name] = Number(kb ?? 0) / 1024;
    }
    return { samples: this.samples, peak, hwm };
  }
}
