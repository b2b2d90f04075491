// The registry side of the PostgreSQL store: runners that said hello, and API tokens (hashes only).
import { AppError } from '../../protocol/errors.ts';
import type { RunnerInfo, TokenInfo } from '../../protocol/auth.ts';
import type { NewToken, RunnerHello } from '../types.ts';
import type { Database, Queryable } from './database.ts';
import { codeOf } from './postgres-errors.ts';
import { runnerFromRow, tokenFromRow, type RunnerRow, type TokenRow } from './rows.ts';

/** Recording every use would make each authenticated request a write; once a minute shows activity. */
const TOKEN_USE_RESOLUTION_MS = 60_000;

const SQL = {
  // first_seen_at is written only on insert; everything else follows the latest hello.
  upsertRunner: `INSERT INTO runners (name, instance_id, labels, capacity, kinds, version,
      policy_digest, first_seen_at, last_seen_at)
    VALUES ($1, $2, $3::jsonb, $4, $5::jsonb, $6, $7, $8, $8)
    ON CONFLICT (name) DO UPDATE SET instance_id = excluded.instance_id, labels = excluded.labels,
      capacity = excluded.capacity, kinds = excluded.kinds, version = excluded.version,
      policy_digest = excluded.policy_digest, last_seen_at = excluded.last_seen_at`,
  // The running count walks tasks_runner_instance, which holds running tasks only.
  allRunners: `SELECT runners.*, (SELECT COUNT(*) FROM tasks
      WHERE tasks.runner = runners.name AND tasks.state = 'running') AS running
    FROM runners ORDER BY name`,
  markSeen: 'UPDATE runners SET last_seen_at = $1 WHERE name = $2 AND last_seen_at < $1',
  liveTokenByName: 'SELECT id FROM tokens WHERE name = $1 AND revoked_at IS NULL',
  insertToken: `INSERT INTO tokens (id, name, role, runner, hash, created_at)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
  liveTokenByHash: 'SELECT * FROM tokens WHERE hash = $1 AND revoked_at IS NULL',
  recordTokenUse: 'UPDATE tokens SET last_used_at = $1 WHERE id = $2',
  liveTokens: 'SELECT * FROM tokens WHERE revoked_at IS NULL ORDER BY created_at, id',
  revokeById: 'UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL',
  revokeByName: 'UPDATE tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL',
  rotateById: 'UPDATE tokens SET hash = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING *',
  rotateByName: 'UPDATE tokens SET hash = $1 WHERE name = $2 AND revoked_at IS NULL RETURNING *',
} as const;

export class RegistryQueries {
  constructor(private readonly db: Database) {}

  async touchRunner(hello: RunnerHello, now: number): Promise<void> {
    const { name, instanceId, capacity, version } = hello;
    await this.db.run(SQL.upsertRunner, [
      name,
      instanceId,
      JSON.stringify(hello.labels),
      capacity,
      JSON.stringify(hello.kinds),
      version,
      hello.policyDigest ?? null,
      now,
    ]);
  }

  /** Never moves last_seen_at back: a late, slow request must not make a runner look older. */
  async markRunnerSeen(name: string, now: number): Promise<void> {
    await this.db.run(SQL.markSeen, [now, name]);
  }

  async listRunners(now: number, onlineWithinMs: number): Promise<RunnerInfo[]> {
    const rows = await this.db.rows<RunnerRow>(SQL.allRunners);
    return rows.map((row) => runnerFromRow(row, now - onlineWithinMs));
  }

  async createToken(token: NewToken, now: number): Promise<TokenInfo> {
    return tokenFromRow(await this.db.transaction((tx) => this.createTokenInTx(tx, token, now)));
  }

  /**
   * Names are unique among live tokens (a partial unique index), so a revoked name can be reused.
   * The index also settles two creates racing on one name: the loser's INSERT fails, a conflict.
   */
  async createTokenInTx(tx: Queryable, token: NewToken, now: number): Promise<TokenRow> {
    const taken = () => new AppError('conflict', `A token named "${token.name}" already exists`);
    if ((await tx.row(SQL.liveTokenByName, [token.name])) !== undefined) throw taken();
    const { id, name, role, hash } = token;
    try {
      return (await tx.row<TokenRow>(SQL.insertToken, [
        id,
        name,
        role,
        token.runner ?? null,
        hash,
        now,
      ]))!;
    } catch (err) {
      if (codeOf(err) === '23505' && constraintOf(err) === 'tokens_live_name') throw taken();
      throw err;
    }
  }

  /** The use record is a lone idempotent UPDATE, so it needs no transaction around the read. */
  async findToken(hash: string, now: number): Promise<TokenInfo | undefined> {
    const row = await this.db.row<TokenRow>(SQL.liveTokenByHash, [hash]);
    if (row === undefined) return undefined;
    if (row.last_used_at === null || row.last_used_at <= now - TOKEN_USE_RESOLUTION_MS) {
      await this.db.run(SQL.recordTokenUse, [now, row.id]);
      row.last_used_at = now;
    }
    return tokenFromRow(row);
  }

  async listTokens(): Promise<TokenInfo[]> {
    return (await this.db.rows<TokenRow>(SQL.liveTokens)).map(tokenFromRow);
  }

  /** An id match wins over a name match, so a token named like another's id stays addressable. */
  revokeToken(idOrName: string, now: number): Promise<boolean> {
    return this.db.transaction(
      async (tx) =>
        (await tx.run(SQL.revokeById, [now, idOrName])) > 0 ||
        (await tx.run(SQL.revokeByName, [now, idOrName])) > 0,
    );
  }

  /** As revoke: an id match wins over a name match. */
  async rotateToken(idOrName: string, hash: string): Promise<TokenInfo | undefined> {
    const row =
      (await this.db.row<TokenRow>(SQL.rotateById, [hash, idOrName])) ??
      (await this.db.row<TokenRow>(SQL.rotateByName, [hash, idOrName]));
    return row === undefined ? undefined : tokenFromRow(row);
  }
}

function constraintOf(err: unknown): string | undefined {
  const constraint = (err as { constraint?: unknown } | null)?.constraint;
  return typeof constraint === 'string' ? constraint : undefined;
}
