// Tells other servers on the same database what changed, with LISTEN/NOTIFY. A transaction's
// task changes go out with pg_notify just before COMMIT (PostgreSQL delivers a NOTIFY only if the
// transaction commits); one dedicated connection per server LISTENs and hands them to the waiter
// hub. A lost connection is re-opened with backoff, and listeners are told to re-check
// everything, since changes made meanwhile were not heard.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { newSecret } from '../../lib/ids.ts';
import type { StoreChangeListener, StoreNotifications, TaskChange } from '../types.ts';
import type { Tx } from './database.ts';

/** One channel per schema, so stores on other schemas of the database are not woken. */
const CHANNEL = "'outpost:' || coalesce(current_schema(), '')";
/** NOTIFY payloads must stay under 8000 bytes; a change is about 120 bytes of JSON. */
const CHANGES_PER_NOTICE = 40;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 30_000;

interface Notice {
  /** The sending store, which skips its own notices: its server already woke its waiters. */
  from: string;
  changes: TaskChange[];
}

/** Sends the transaction's task changes; call last, inside the transaction. */
export async function sendChanges(tx: Tx, from: string): Promise<void> {
  const changes = tx.changes.splice(0);
  for (let i = 0; i < changes.length; i += CHANGES_PER_NOTICE) {
    const notice: Notice = { from, changes: changes.slice(i, i + CHANGES_PER_NOTICE) };
    await tx.run(`SELECT pg_notify(${CHANNEL}, $1)`, [JSON.stringify(notice)]);
  }
}

/** The LISTEN side: one connection, opened on the first subscribe, re-opened when lost. */
export class ChangeListener implements StoreNotifications {
  readonly id = newSecret(9);
  private readonly listeners = new Set<StoreChangeListener>();
  private client: pg.Client | undefined;
  private running = false;
  private stopped = false;

  constructor(private readonly connect: () => pg.Client) {}

  subscribe(listener: StoreChangeListener): () => void {
    this.listeners.add(listener);
    if (!this.running && !this.stopped) {
      this.running = true;
      void this.keepListening();
    }
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.client?.end().catch(() => {});
  }

  /** Listens until closed; each reconnect after the first tells listeners to re-check. */
  private async keepListening(): Promise<void> {
    let delay = RECONNECT_MIN_MS;
    for (let first = true; !this.stopped; first = false) {
      try {
        const { lost } = await this.listenOnce();
        if (!first) for (const l of this.listeners) l.resync();
        delay = RECONNECT_MIN_MS;
        await lost;
      } catch {
        // Unreachable or refused: try again after the backoff.
      }
      if (this.stopped) break;
      await sleep(delay * (0.5 + Math.random() / 2), undefined, { ref: false });
      delay = Math.min(RECONNECT_MAX_MS, delay * 2);
    }
  }

  /** Connects and LISTENs; `lost` settles when the connection is lost. */
  private async listenOnce(): Promise<{ lost: Promise<void> }> {
    const client = this.connect();
    this.client = client;
    const lost = new Promise<void>((resolve) => {
      // `on`, not `once`: a dead client may emit more than one error, and an unheard one throws.
      client.on('error', () => resolve());
      client.once('end', () => resolve());
    });
    client.on('notification', (message) => this.deliver(message.payload));
    await client.connect();
    const { rows } = await client.query<{ channel: string }>(`SELECT ${CHANNEL} AS channel`);
    await client.query(`LISTEN ${pg.escapeIdentifier(rows[0]!.channel)}`);
    if (this.stopped) await client.end();
    // Wrapped: an async function returning a promise would wait for it instead of handing it back.
    return {
      lost: lost.then(() => {
        void client.end().catch(() => {});
      }),
    };
  }

  private deliver(payload: string | undefined): void {
    if (payload === undefined) return;
    const notice = JSON.parse(payload) as Notice;
    if (notice.from === this.id) return;
    for (const change of notice.changes) for (const l of this.listeners) l.changed(change);
  }
}
