// Ordered SQLite schema migrations. PRAGMA user_version records how many have run; never edit a
// shipped entry, append a new one.
import type Database from 'better-sqlite3';

/**
 * Index notes. The claim and live-state indexes are partial: they hold only pending or running
 * rows, so they stay small while finished tasks pile up, and the claim query walks the claim index
 * in `priority DESC, run_at, id` order and stops after `max` rows instead of sorting the backlog.
 * lease-queries.ts and expiry-queries.ts name them with INDEXED BY, so renaming one is a new
 * migration plus those files.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE tasks (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     spec TEXT NOT NULL,
     state TEXT NOT NULL,
     priority INTEGER NOT NULL,
     run_at INTEGER NOT NULL,
     timeout_ms INTEGER NOT NULL,
     max_attempts INTEGER NOT NULL,
     attempt INTEGER NOT NULL DEFAULT 0,
     target TEXT,
     target_runner TEXT,
     labels TEXT,
     session_key TEXT,
     origin TEXT NOT NULL,
     metadata TEXT,
     legacy_compatible INTEGER NOT NULL,
     idempotency_key TEXT UNIQUE,
     request_hash TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     started_at INTEGER,
     finished_at INTEGER,
     runner TEXT,
     lease_token TEXT,
     lease_expires_at INTEGER,
     lease_legacy INTEGER NOT NULL DEFAULT 0,
     cancel_requested_at INTEGER,
     outcome TEXT,
     result_read_at INTEGER
   );
   CREATE INDEX tasks_claim ON tasks (priority DESC, run_at, id)
     WHERE state IN ('queued', 'scheduled');
   CREATE INDEX tasks_expiry ON tasks (lease_expires_at) WHERE state = 'running';
   CREATE INDEX tasks_state_id ON tasks (state, id);
   CREATE INDEX tasks_runner_id ON tasks (runner, id) WHERE runner IS NOT NULL;
   CREATE INDEX tasks_session_id ON tasks (session_key, id) WHERE session_key IS NOT NULL;

   CREATE TABLE runners (
     name TEXT PRIMARY KEY,
     instance_id TEXT NOT NULL,
     labels TEXT NOT NULL,
     capacity INTEGER NOT NULL,
     kinds TEXT NOT NULL,
     version TEXT NOT NULL,
     policy_digest TEXT,
     first_seen_at INTEGER NOT NULL,
     last_seen_at INTEGER NOT NULL
   );

   CREATE TABLE tokens (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     role TEXT NOT NULL,
     runner TEXT,
     hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER,
     revoked_at INTEGER
   );
   CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;`,

  // Issue 3: the event log, attempt history, retry-on-failure, the instance holding a lease, and
  // the indexes retention walks. AUTOINCREMENT keeps event ids unique after pruning, so a reader's
  // cursor never skips a new event that reused an old id.
  `ALTER TABLE tasks ADD COLUMN retry_on_failure INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN lease_instance TEXT;
   ALTER TABLE tasks ADD COLUMN lease_acked INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX tasks_runner_instance ON tasks (runner, lease_instance) WHERE state = 'running';
   CREATE INDEX tasks_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL;
   CREATE INDEX tasks_result_read ON tasks (result_read_at) WHERE result_read_at IS NOT NULL;

   CREATE TABLE attempts (
     task_id TEXT NOT NULL,
     attempt INTEGER NOT NULL,
     runner TEXT NOT NULL,
     instance_id TEXT,
     started_at INTEGER NOT NULL,
     ended_at INTEGER,
     status TEXT,
     reason TEXT,
     PRIMARY KEY (task_id, attempt)
   ) WITHOUT ROWID;

   CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     type TEXT NOT NULL,
     at INTEGER NOT NULL,
     task_id TEXT,
     task_kind TEXT,
     task_state TEXT,
     runner TEXT,
     data TEXT
   );
   CREATE INDEX events_task ON events (task_id, id) WHERE task_id IS NOT NULL;
   CREATE INDEX events_type ON events (type, id);`,

  // Issue 4: live output. The server numbers chunks per task (seq); a runner's own per-attempt
  // seq is only remembered as the highest stored (output_runner_seq), which makes resends
  // idempotent even after the chunk itself was dropped past the cap. Chunks after
  // output_head_seq form the tail that the cap trims from its oldest end.
  `ALTER TABLE tasks ADD COLUMN output_seq INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN output_attempt INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN output_runner_seq INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN output_head_seq INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN output_head_bytes INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN output_tail_bytes INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN output_omitted_bytes INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE output_chunks (
     task_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     attempt INTEGER NOT NULL,
     stream TEXT NOT NULL,
     data TEXT NOT NULL,
     encoding TEXT NOT NULL,
     bytes INTEGER NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (task_id, seq)
   ) WITHOUT ROWID;`,

  // Output the runner dropped from its full spool, as it last reported for the current attempt.
  `ALTER TABLE tasks ADD COLUMN output_runner_dropped INTEGER NOT NULL DEFAULT 0;`,

  // Agent sessions. session_scope ("<agent>:<session key>") is set on agent turns that name a
  // session key; its partial index holds only unfinished turns, so "is a turn of this session
  // still pending?" and "which held turn is next?" stay cheap however long the history grows.
  `ALTER TABLE tasks ADD COLUMN session_scope TEXT;
   CREATE INDEX tasks_session_turns ON tasks (session_scope)
     WHERE session_scope IS NOT NULL AND state IN ('scheduled', 'held', 'queued', 'running');
   CREATE TABLE sessions (
     agent TEXT NOT NULL,
     key TEXT NOT NULL,
     provider_session_id TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
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
     sessions TEXT NOT NULL,
     reported_at INTEGER NOT NULL,
     PRIMARY KEY (runner, agent)
   );`,
  // Issue 5: callbacks the server delivers when a task ends. A row is due once its task is
  // terminal (a join, so every way a task can end makes it due) and next_at has come; the partial
  // index holds only undelivered rows. `secret` is NULL when the server's configured one applies,
  // and is cleared when delivery ends. claim_token fences a delivery as lease_token fences an attempt.
  `CREATE TABLE callbacks (
     id INTEGER PRIMARY KEY,
     task_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     target TEXT NOT NULL,
     secret TEXT,
     state TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     parts INTEGER,
     sent_parts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL,
     claim_token TEXT,
     claimed_until INTEGER,
     last_error TEXT,
     sent_at INTEGER,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX callbacks_task ON callbacks (task_id);
   CREATE INDEX callbacks_pending ON callbacks (next_at) WHERE state IN ('waiting', 'sending');`,

  // Every provider session id a session has pointed at, so a prefix still finds a conversation
  // after its key was reset or moved on. Triggers record it on every path that sets an id. (An
  // upsert, not INSERT OR REPLACE: a trigger's conflict clause yields to the outer statement's.)
  `CREATE TABLE provider_sessions (
     agent TEXT NOT NULL,
     id TEXT NOT NULL,
     key TEXT NOT NULL,
     seen_at INTEGER NOT NULL,
     PRIMARY KEY (agent, id)
   ) WITHOUT ROWID;
   CREATE INDEX provider_sessions_seen ON provider_sessions (seen_at);
   INSERT INTO provider_sessions (agent, id, key, seen_at)
     SELECT agent, provider_session_id, key, updated_at FROM sessions
     WHERE provider_session_id IS NOT NULL;
   CREATE TRIGGER sessions_remember_new AFTER INSERT ON sessions
     WHEN NEW.provider_session_id IS NOT NULL
   BEGIN
     INSERT INTO provider_sessions (agent, id, key, seen_at)
       VALUES (NEW.agent, NEW.provider_session_id, NEW.key, NEW.updated_at)
       ON CONFLICT (agent, id) DO UPDATE SET key = excluded.key, seen_at = excluded.seen_at;
   END;
   CREATE TRIGGER sessions_remember_changed AFTER UPDATE OF provider_session_id ON sessions
     WHEN NEW.provider_session_id IS NOT NULL
   BEGIN
     INSERT INTO provider_sessions (agent, id, key, seen_at)
       VALUES (NEW.agent, NEW.provider_session_id, NEW.key, NEW.updated_at)
       ON CONFLICT (agent, id) DO UPDATE SET key = excluded.key, seen_at = excluded.seen_at;
   END;`,

  // Signed tasks: the client's signature, stored as JSON and handed to the runner with the claim.
  `ALTER TABLE tasks ADD COLUMN signature TEXT;`,

  // Issue 6: one-time enrolment codes (hashes only). A code is redeemed at most once, for a runner
  // token bound to \`runner\`; token_id names the token it became.
  `CREATE TABLE enrollments (
     id TEXT PRIMARY KEY,
     runner TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     used_at INTEGER,
     token_id TEXT
   );`,

  // Issue 6, approvals: a runner holds a leased task (state 'held', lease kept) for a person's
  // decision; \`hold\` is its JSON (rule, reason, expiry, decision). Held leases expire and are
  // released on a runner restart like running ones, so both partial indexes cover 'held' too.
  `ALTER TABLE tasks ADD COLUMN hold TEXT;
   DROP INDEX tasks_expiry;
   CREATE INDEX tasks_expiry ON tasks (lease_expires_at) WHERE state IN ('running', 'held');
   DROP INDEX tasks_runner_instance;
   CREATE INDEX tasks_runner_instance ON tasks (runner, lease_instance)
     WHERE state IN ('running', 'held');`,

  // Issue 7: routing and per-key concurrency. target_labels is the JSON array of labels a task
  // requires (NULL when none), so a claim reads JSON only for tasks that require labels. A
  // concurrency key's running count is read through a partial index of running keyed tasks only.
  // Pending tasks created before this version keep the labels they asked for.
  `ALTER TABLE tasks ADD COLUMN target_labels TEXT;
   ALTER TABLE tasks ADD COLUMN concurrency_key TEXT;
   ALTER TABLE tasks ADD COLUMN concurrency_limit INTEGER;
   CREATE INDEX tasks_concurrency_running ON tasks (concurrency_key)
     WHERE state = 'running' AND concurrency_key IS NOT NULL;
   UPDATE tasks SET target_labels = json_extract(target, '$.labels')
     WHERE target IS NOT NULL AND json_array_length(target, '$.labels') > 0
       AND state IN ('scheduled', 'held', 'queued', 'running');`,

  // Issue 7: cron schedules. `template` is the task body as the client sent it (JSON); firing
  // moves next_run_at by compare-and-set, and the partial index holds only schedules that will
  // fire, so finding due ones stays one short index range however many are disabled.
  `CREATE TABLE schedules (
     id TEXT PRIMARY KEY,
     name TEXT,
     cron TEXT NOT NULL,
     timezone TEXT,
     overlap TEXT NOT NULL,
     template TEXT NOT NULL,
     enabled INTEGER NOT NULL,
     next_run_at INTEGER,
     last_run_at INTEGER,
     last_task_id TEXT,
     last_skipped_at INTEGER,
     last_error TEXT,
     fired INTEGER NOT NULL DEFAULT 0,
     skipped INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX schedules_due ON schedules (next_run_at) WHERE next_run_at IS NOT NULL;`,

  // Issue 2, speed: every state change moved a task's entry in (state, id) between the leaves of
  // its old and new state, and every event went to the leaf of its type in (type, id): with the
  // three events a task writes, that was about 7 of the 24 pages a commit of two tasks' creates,
  // claims, acknowledgements and finishes wrote to the WAL. The state index now holds live tasks
  // (a few pages, however long the history) and the rare ended states; succeeded tasks, most of
  // the table, are listed in id order. The type index holds all but the three hot task events.
  // state-indexes.ts has these WHERE terms, which queries must repeat verbatim.
  `DROP INDEX tasks_state_id;
   CREATE INDEX tasks_live_state ON tasks (state, id)
     WHERE state IN ('scheduled', 'held', 'queued', 'running');
   CREATE INDEX tasks_unsuccessful_state ON tasks (state, id)
     WHERE state IN ('failed', 'timed_out', 'cancelled', 'lost');
   DROP INDEX events_type;
   CREATE INDEX events_rare_type ON events (type, id)
     WHERE type NOT IN ('task.created', 'task.started', 'task.completed');`,

  // Issue 2, speed: the expiry and runner-instance indexes took an entry at each claim, moved the
  // expiry at each acknowledgement and dropped both at each finish, for queries that run once a
  // second (the lease reaper) or when a runner restarts. Those now read the running and held part
  // of tasks_live_state, which is as large as the runners' capacity; the write path loses five
  // b-tree changes per task.
  `DROP INDEX tasks_expiry;
   DROP INDEX tasks_runner_instance;`,

  // Issue 2, speed: the partial indexes' terms as chains of = and <> instead of IN lists. Every
  // insert and update evaluates the terms of its table's partial indexes, and SQLite evaluates an
  // IN of more than two constants by first building a temporary B-tree of the list: 17 of them per
  // queue-bound task. state-indexes.ts has the same terms, for the queries to repeat.
  `DROP INDEX tasks_live_state;
   CREATE INDEX tasks_live_state ON tasks (state, id)
     WHERE (state = 'scheduled' OR state = 'held' OR state = 'queued' OR state = 'running');
   DROP INDEX tasks_unsuccessful_state;
   CREATE INDEX tasks_unsuccessful_state ON tasks (state, id)
     WHERE (state = 'failed' OR state = 'timed_out' OR state = 'cancelled' OR state = 'lost');
   DROP INDEX tasks_session_turns;
   CREATE INDEX tasks_session_turns ON tasks (session_scope) WHERE session_scope IS NOT NULL
     AND (state = 'scheduled' OR state = 'held' OR state = 'queued' OR state = 'running');
   DROP INDEX events_rare_type;
   CREATE INDEX events_rare_type ON events (type, id)
     WHERE type <> 'task.created' AND type <> 'task.started' AND type <> 'task.completed';`,
];

export function readSchemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies pending migrations one per transaction; idempotent, and safe with several processes. */
export function migrateSqlite(db: Database.Database): void {
  const applyNext = db.transaction(() => applyNextMigration(db));
  // IMMEDIATE takes the write lock before reading user_version, so two processes starting at once
  // cannot both decide to apply the same migration.
  let applied = true;
  while (applied) applied = applyNext.immediate();
}

function applyNextMigration(db: Database.Database): boolean {
  const version = readSchemaVersion(db);
  if (version > MIGRATIONS.length) {
    throw new Error(
      `SQLite schema version ${version} is newer than this Outpost knows (${MIGRATIONS.length}); upgrade Outpost`,
    );
  }
  const sql = MIGRATIONS[version];
  if (sql === undefined) return false;
  db.exec(sql);
  // user_version lives in the database header and is part of this transaction.
  db.pragma(`user_version = ${version + 1}`);
  return true;
}
