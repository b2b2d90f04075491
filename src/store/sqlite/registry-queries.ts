// The registry side of the SQLite store: runners that said hello, and API tokens (hashes only).
import type Database from 'better-sqlite3';
import { AppError } from '../../protocol/errors.ts';
import type { RunnerInfo, TokenInfo } from '../../protocol/auth.ts';
import type { NewToken, RunnerHello } from '../types.ts';
import { prepareStatements, type Prepared, type Transaction } from './statements.ts';
import { runnerFromRow, tokenFromRow, type RunnerRow, type TokenRow } from './rows.ts';
import { LIVE_STATES } from './state-indexes.ts';

/** Recording every use would make each authenticated request a write; once a minute shows activity. */
const TOKEN_USE_RESOLUTION_MS = 60_000;

export const REGISTRY_SQL = {
  // first_seen_at is written only on insert; everything else follows the latest hello.
  upsertRunner: `INSERT INTO runners (name, instance_id, labels, capacity, kinds, version,
      policy_digest, first_seen_at, last_seen_at)
    VALUES (@name, @instanceId, @labels, @capacity, @kinds, @version, @policyDigest, @now, @now)
    ON CONFLICT (name) DO UPDATE SET instance_id = excluded.instance_id, labels = excluded.labels,
      capacity = excluded.capacity, kinds = excluded.kinds, version = excluded.version,
      policy_digest = excluded.policy_digest, last_seen_at = excluded.last_seen_at`,
  // The running count walks the running part of tasks_live_state, not the runner's history.
  allRunners: `SELECT runners.*, (SELECT COUNT(*) FROM tasks INDEXED BY tasks_live_state
      WHERE ${LIVE_STATES} AND tasks.state = 'running' AND tasks.runner = runners.name) AS running
    FROM runners ORDER BY name`,
  markSeen: 'UPDATE runners SET last_seen_at = ? WHERE name = ? AND last_seen_at < ?',
  liveTokenByName: 'SELECT id FROM tokens WHERE name = ? AND revoked_at IS NULL',
  insertToken: `INSERT INTO tokens (id, name, role, runner, hash, created_at)
    VALUES (@id, @name, @role, @runner, @hash, @now) RETURNING *`,
  liveTokenByHash: 'SELECT * FROM tokens WHERE hash = ? AND revoked_at IS NULL',
  recordTokenUse: 'UPDATE tokens SET last_used_at = ? WHERE id = ?',
  liveTokens: 'SELECT * FROM tokens WHERE revoked_at IS NULL ORDER BY created_at, id',
  revokeById: 'UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
  revokeByName: 'UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL',
  rotateById: 'UPDATE tokens SET hash = ? WHERE id = ? AND revoked_at IS NULL RETURNING *',
  rotateByName: 'UPDATE tokens SET hash = ? WHERE name = ? AND revoked_at IS NULL RETURNING *',
} as const;

export class RegistryQueries {
  private readonly statements: Prepared<typeof REGISTRY_SQL>;
  private readonly createTokenTx: Transaction<[NewToken, number], TokenRow>;
  private readonly revokeTx: Transaction<[string, number], boolean>;

  constructor(db: Database.Database) {
    this.statements = prepareStatements(db, REGISTRY_SQL);
    this.createTokenTx = db.transaction((token: NewToken, now: number) =>
      this.createTokenInTx(token, now),
    );
    this.revokeTx = db.transaction((idOrName: string, now: number) =>
      this.revokeInTx(idOrName, now),
    );
  }

  touchRunner(hello: RunnerHello, now: number): void {
    const { name, instanceId, capacity, version } = hello;
    const [labels, kinds] = [JSON.stringify(hello.labels), JSON.stringify(hello.kinds)];
    const policyDigest = hello.policyDigest ?? null;
    this.statements.upsertRunner.run({
      name,
      instanceId,
      labels,
      capacity,
      kinds,
      version,
      policyDigest,
      now,
    });
  }

  /** Never moves last_seen_at back: a late, slow request must not make a runner look older. */
  markRunnerSeen(name: string, now: number): void {
    this.statements.markSeen.run(now, name, now);
  }

  listRunners(now: number, onlineWithinMs: number): RunnerInfo[] {
    const rows = this.statements.allRunners.all() as RunnerRow[];
    return rows.map((row) => runnerFromRow(row, now - onlineWithinMs));
  }

  /** Names are unique among live tokens (a partial unique index), so a revoked name can be reused. */
  createToken(token: NewToken, now: number): TokenInfo {
    return tokenFromRow(this.createTokenTx.immediate(token, now));
  }

  /** The caller holds a write transaction (createToken's own, or an enrolment's redeem). */
  createTokenInTx(token: NewToken, now: number): TokenRow {
    if (this.statements.liveTokenByName.get(token.name) !== undefined) {
      throw new AppError('conflict', `A token named "${token.name}" already exists`);
    }
    const { id, name, role, hash } = token;
    const params = { id, name, role, runner: token.runner ?? null, hash, now };
    return this.statements.insertToken.get(params) as TokenRow;
  }

  /** The use record is a lone idempotent UPDATE, so it needs no transaction around the read. */
  findToken(hash: string, now: number): TokenInfo | undefined {
    const row = this.statements.liveTokenByHash.get(hash) as TokenRow | undefined;
    if (row === undefined) return undefined;
    if (row.last_used_at === null || row.last_used_at <= now - TOKEN_USE_RESOLUTION_MS) {
      this.statements.recordTokenUse.run(now, row.id);
      row.last_used_at = now;
    }
    return tokenFromRow(row);
  }

  listTokens(): TokenInfo[] {
    return (this.statements.liveTokens.all() as TokenRow[]).map(tokenFromRow);
  }

  revokeToken(idOrName: string, now: number): boolean {
    return this.revokeTx.immediate(idOrName, now);
  }

  /** As revoke: an id match wins over a name match. One statement each, so no transaction. */
  rotateToken(idOrName: string, hash: string): TokenInfo | undefined {
    const { rotateById, rotateByName } = this.statements;
    const row = (rotateById.get(hash, idOrName) ?? rotateByName.get(hash, idOrName)) as
      TokenRow | undefined;
    return row === undefined ? undefined : tokenFromRow(row);
  }

  /** An id match wins over a name match, so a token named like another's id stays addressable. */
  private revokeInTx(idOrName: string, now: number): boolean {
    const { revokeById, revokeByName } = this.statements;
    return revokeById.run(now, idOrName).changes > 0 || revokeByName.run(now, idOrName).changes > 0;
  }
}
