// Ordered PostgreSQL schema migrations, numbered as the SQLite ones (1..9 say the same thing in
// either dialect; 13 says what SQLite's 10 does). schema_migrations records what ran; never edit
// a shipped entry, append one.
// JSON is jsonb, times are bigint epoch ms, flags are boolean; key and name columns sort as
// "C" (byte order) so lists and cursors order as on SQLite whatever the database's collation.
import type { Database, Tx } from './database.ts';
import { quoteIdent } from './database.ts';

export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE tasks (
     id TEXT COLLATE "C" PRIMARY KEY,
     -- Insertion order, as SQLite's rowid: which held turn of a session is next.
     row_seq BIGINT GENERATED ALWAYS AS IDENTITY,
     kind TEXT NOT NULL,
     spec JSONB NOT NULL,
     state TEXT NOT NULL,
     priority INTEGER NOT NULL,
     run_at BIGINT NOT NULL,
     timeout_ms BIGINT NOT NULL,
     max_attempts INTEGER NOT NULL,
     attempt INTEGER NOT NULL DEFAULT 0,
     target JSONB,
     target_runner TEXT,
     labels JSONB,
     session_key TEXT,
     origin TEXT NOT NULL,
     metadata JSONB,
     legacy_compatible BOOLEAN NOT NULL,
     idempotency_key TEXT UNIQUE,
     request_hash TEXT,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL,
     started_at BIGINT,
     finished_at BIGINT,
     runner TEXT,
     lease_token TEXT,
     lease_expires_at BIGINT,
     lease_legacy BOOLEAN NOT NULL DEFAULT FALSE,
     cancel_requested_at BIGINT,
     outcome JSONB,
     result_read_at BIGINT
   );
   CREATE INDEX tasks_claim ON tasks (priority DESC, run_at, id)
     WHERE state IN ('queued', 'scheduled');
   CREATE INDEX tasks_expiry ON tasks (lease_expires_at) WHERE state = 'running';
   CREATE INDEX tasks_state_id ON tasks (state, id);
   CREATE INDEX tasks_runner_id ON tasks (runner, id) WHERE runner IS NOT NULL;
   CREATE INDEX tasks_session_id ON tasks (session_key, id) WHERE session_key IS NOT NULL;

   CREATE TABLE runners (
     name TEXT COLLATE "C" PRIMARY KEY,
     instance_id TEXT NOT NULL,
     labels JSONB NOT NULL,
     capacity INTEGER NOT NULL,
     kinds JSONB NOT NULL,
     version TEXT NOT NULL,
     policy_digest TEXT,
     first_seen_at BIGINT NOT NULL,
     last_seen_at BIGINT NOT NULL
   );

   CREATE TABLE tokens (
     id TEXT COLLATE "C" PRIMARY KEY,
     name TEXT NOT NULL,
     role TEXT NOT NULL,
     runner TEXT,
     hash TEXT NOT NULL UNIQUE,
     created_at BIGINT NOT NULL,
     last_used_at BIGINT,
     revoked_at BIGINT
   );
   CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;`,

  // Issue 3: the event log, attempt history, retry-on-failure, the instance holding a lease.
  // Event ids come from a sequence, never reused after pruning; event-log.ts explains how they
  // also become visible in order.
  `ALTER TABLE tasks ADD COLUMN retry_on_failure BOOLEAN NOT NULL DEFAULT FALSE;
   ALTER TABLE tasks ADD COLUMN lease_instance TEXT;
   ALTER TABLE tasks ADD COLUMN lease_acked BOOLEAN NOT NULL DEFAULT FALSE;
   CREATE INDEX tasks_runner_instance ON tasks (runner, lease_instance) WHERE state = 'running';
   CREATE INDEX tasks_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL;
   CREATE INDEX tasks_result_read ON tasks (result_read_at) WHERE result_read_at IS NOT NULL;

   CREATE TABLE attempts (
     task_id TEXT NOT NULL,
     attempt INTEGER NOT NULL,
     runner TEXT NOT NULL,
     instance_id TEXT,
     started_at BIGINT NOT NULL,
     ended_at BIGINT,
     status TEXT,
     reason TEXT,
     PRIMARY KEY (task_id, attempt)
   );

   CREATE TABLE events (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     type TEXT COLLATE "C" NOT NULL,
     at BIGINT NOT NULL,
     task_id TEXT,
     task_kind TEXT,
     task_state TEXT COLLATE "C",
     runner TEXT,
     data JSONB
   );
   CREATE INDEX events_task ON events (task_id, id) WHERE task_id IS NOT NULL;
   CREATE INDEX events_type ON events (type, id);
   CREATE INDEX events_at ON events (at);`,

  // Issue 4: live output (see the SQLite migration 3 for what each column counts).
  `ALTER TABLE tasks ADD COLUMN output_seq INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN output_attempt INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN output_runner_seq INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN output_head_seq INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN output_head_bytes BIGINT NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN output_tail_bytes BIGINT NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN output_omitted_bytes BIGINT NOT NULL DEFAULT 0;
   CREATE TABLE output_chunks (
     task_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     attempt INTEGER NOT NULL,
     stream TEXT NOT NULL,
     data TEXT NOT NULL,
     encoding TEXT NOT NULL,
     bytes BIGINT NOT NULL,
     at BIGINT NOT NULL,
     PRIMARY KEY (task_id, seq)
   );`,

  `ALTER TABLE tasks ADD COLUMN output_runner_dropped BIGINT NOT NULL DEFAULT 0;`,

  // Agent sessions (see the SQLite migration 5).
  `ALTER TABLE tasks ADD COLUMN session_scope TEXT;
   CREATE INDEX tasks_session_turns ON tasks (session_scope, row_seq)
     WHERE session_scope IS NOT NULL AND state IN ('scheduled', 'held', 'queued', 'running');
   CREATE TABLE sessions (
     agent TEXT COLLATE "C" NOT NULL,
     key TEXT COLLATE "C" NOT NULL,
     provider_session_id TEXT,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL,
     task_count INTEGER NOT NULL DEFAULT 0,
     last_task_id TEXT,
     callback_channel TEXT,
     PRIMARY KEY (agent, key)
   );
   CREATE INDEX sessions_provider ON sessions (agent, provider_session_id)
     WHERE provider_session_id IS NOT NULL;
   CREATE INDEX sessions_updated ON sessions (updated_at);
   CREATE TABLE agent_session_reports (
     runner TEXT NOT NULL,
     agent TEXT NOT NULL,
     sessions JSONB NOT NULL,
     reported_at BIGINT NOT NULL,
     PRIMARY KEY (runner, agent)
   );`,

  // Issue 5: callbacks (see the SQLite migration 6).
  `CREATE TABLE callbacks (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     task_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     target TEXT NOT NULL,
     secret TEXT,
     state TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     parts INTEGER,
     sent_parts INTEGER NOT NULL DEFAULT 0,
     next_at BIGINT NOT NULL,
     claim_token TEXT,
     claimed_until BIGINT,
     last_error TEXT,
     sent_at BIGINT,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL
   );
   CREATE INDEX callbacks_task ON callbacks (task_id);
   CREATE INDEX callbacks_pending ON callbacks (next_at) WHERE state IN ('waiting', 'sending');`,

  // Every provider session id a session has pointed at, recorded by a trigger on every path
  // that sets one (see the SQLite migration 7).
  `CREATE TABLE provider_sessions (
     agent TEXT NOT NULL,
     id TEXT COLLATE "C" NOT NULL,
     key TEXT NOT NULL,
     seen_at BIGINT NOT NULL,
     PRIMARY KEY (agent, id)
   );
   CREATE INDEX provider_sessions_seen ON provider_sessions (seen_at);
   INSERT INTO provider_sessions (agent, id, key, seen_at)
     SELECT agent, provider_session_id, key, updated_at FROM sessions
     WHERE provider_session_id IS NOT NULL;
   CREATE FUNCTION sessions_remember() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF NEW.provider_session_id IS NOT NULL AND (TG_OP = 'INSERT'
         OR NEW.provider_session_id IS DISTINCT FROM OLD.provider_session_id) THEN
       INSERT INTO provider_sessions (agent, id, key, seen_at)
         VALUES (NEW.agent, NEW.provider_session_id, NEW.key, NEW.updated_at)
         ON CONFLICT (agent, id) DO UPDATE SET key = excluded.key, seen_at = excluded.seen_at;
     END IF;
     RETURN NULL;
   END $$;
   CREATE TRIGGER sessions_remember AFTER INSERT OR UPDATE OF provider_session_id ON sessions
     FOR EACH ROW EXECUTE FUNCTION sessions_remember();`,

  `ALTER TABLE tasks ADD COLUMN signature JSONB;`,

  // Issue 6: one-time enrolment codes (hashes only).
  `CREATE TABLE enrollments (
     id TEXT PRIMARY KEY,
     runner TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL,
     used_at BIGINT,
     token_id TEXT
   );`,

  // Issue 6, approvals (as the SQLite migration 10): a runner holds a leased task (state 'held',
  // lease kept) for a person's decision; `hold` is its JSON (rule, reason, expiry, decision).
  // Held leases expire and are released on a runner restart like running ones, so both partial
  // indexes cover 'held' too.
  `ALTER TABLE tasks ADD COLUMN hold JSONB;
   DROP INDEX tasks_expiry;
   CREATE INDEX tasks_expiry ON tasks (lease_expires_at) WHERE state IN ('running', 'held');
   DROP INDEX tasks_runner_instance;
   CREATE INDEX tasks_runner_instance ON tasks (runner, lease_instance)
     WHERE state IN ('running', 'held');`,

  // Issue 7: routing and per-key concurrency (see the SQLite migration 11). target_labels is the
  // jsonb array of labels a task requires, NULL when none, matched with <@ against the claiming
  // runner's registry labels. Pending tasks created before this version keep what they asked for.
  `ALTER TABLE tasks ADD COLUMN target_labels JSONB;
   ALTER TABLE tasks ADD COLUMN concurrency_key TEXT;
   ALTER TABLE tasks ADD COLUMN concurrency_limit INTEGER;
   CREATE INDEX tasks_concurrency_running ON tasks (concurrency_key)
     WHERE state = 'running' AND concurrency_key IS NOT NULL;
   UPDATE tasks SET target_labels = target->'labels'
     WHERE jsonb_typeof(target->'labels') = 'array' AND jsonb_array_length(target->'labels') > 0
       AND state IN ('scheduled', 'held', 'queued', 'running');`,

  // Issue 7: cron schedules (see the SQLite migration 12); firing moves next_run_at by
  // compare-and-set, and the partial index holds only schedules that will fire.
  `CREATE TABLE schedules (
     id TEXT COLLATE "C" PRIMARY KEY,
     name TEXT,
     cron TEXT NOT NULL,
     timezone TEXT,
     overlap TEXT NOT NULL,
     template JSONB NOT NULL,
     enabled BOOLEAN NOT NULL,
     next_run_at BIGINT,
     last_run_at BIGINT,
     last_task_id TEXT,
     last_skipped_at BIGINT,
     last_error TEXT,
     fired INTEGER NOT NULL DEFAULT 0,
     skipped INTEGER NOT NULL DEFAULT 0,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL
   );
   CREATE INDEX schedules_due ON schedules (next_run_at) WHERE next_run_at IS NOT NULL;`,
];

const VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  applied_at BIGINT NOT NULL
)`;

/**
 * Applies pending migrations in one transaction (PostgreSQL DDL is transactional: all or none).
 * An advisory lock serialises servers starting together on one database, so each migration runs
 * once; the second server waits, then finds nothing left to do.
 */
export async function migratePostgres(db: Database, schema?: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.lock(`migrate:${schema ?? ''}`);
    if (schema !== undefined) await tx.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await tx.run(VERSION_TABLE);
    const version = await readSchemaVersion(tx);
    if (version > MIGRATIONS.length) {
      throw new Error(
        `PostgreSQL schema version ${version} is newer than this Outpost knows (${MIGRATIONS.length}); upgrade Outpost`,
      );
    }
    for (let next = version; next < MIGRATIONS.length; next++) {
      await tx.run(MIGRATIONS[next]!);
      await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [
        next + 1,
        Date.now(),
      ]);
    }
  });
}

export async function readSchemaVersion(tx: Tx | Database): Promise<number> {
  const row = await tx.row<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  return row?.v ?? 0;
}
