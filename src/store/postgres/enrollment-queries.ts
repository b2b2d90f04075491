// One-time enrolment codes: an admin makes one for a runner name; whoever holds it exchanges it,
// once and before it expires, for a runner token bound to that name. Only hashes are stored.
import type { EnrollmentRefusal, NewEnrollment, NewToken, RedeemResult } from '../types.ts';
import type { Database, Tx } from './database.ts';
import type { RegistryQueries } from './registry-queries.ts';
import { tokenFromRow } from './rows.ts';

const SQL = {
  insert: `INSERT INTO enrollments (id, runner, hash, created_at, expires_at)
    VALUES ($1, $2, $3, $4, $5)`,
  // FOR UPDATE: two redeems of one code take turns, and the second reads it used.
  byHash: 'SELECT * FROM enrollments WHERE hash = $1 FOR UPDATE',
  markUsed: 'UPDATE enrollments SET used_at = $1, token_id = $2 WHERE id = $3 AND used_at IS NULL',
} as const;

interface EnrollmentRow {
  id: string;
  runner: string;
  expires_at: number;
  used_at: number | null;
}

/** The token's secret hash and id; its name and binding come from the code. */
type TokenFields = Omit<NewToken, 'role' | 'runner' | 'name'>;

export class EnrollmentQueries {
  constructor(
    private readonly db: Database,
    private readonly registry: RegistryQueries,
  ) {}

  async create(enrollment: NewEnrollment, now: number): Promise<void> {
    const { id, runner, hash, expiresAt } = enrollment;
    await this.db.run(SQL.insert, [id, runner, hash, now, expiresAt]);
  }

  redeem(hash: string, token: TokenFields, now: number): Promise<RedeemResult> {
    return this.db.transaction((tx) => this.redeemInTx(tx, hash, token, now));
  }

  private async redeemInTx(
    tx: Tx,
    hash: string,
    token: TokenFields,
    now: number,
  ): Promise<RedeemResult> {
    const row = await tx.row<EnrollmentRow>(SQL.byHash, [hash]);
    if (row === undefined) return { refused: 'unknown' };
    const refused = refusalOf(row, now);
    if (refused !== undefined) return { refused };
    const created = await this.registry.createTokenInTx(
      tx,
      // Names are unique among live tokens; the code's id keeps two enrolments of one runner apart.
      {
        ...token,
        name: `${row.runner}-enrolled-${row.id.slice(-8)}`,
        role: 'runner',
        runner: row.runner,
      },
      now,
    );
    await tx.run(SQL.markUsed, [now, created.id, row.id]);
    return { token: tokenFromRow(created) };
  }
}

function refusalOf(row: EnrollmentRow, now: number): EnrollmentRefusal | undefined {
  if (row.used_at !== null) return 'used';
  if (row.expires_at <= now) return 'expired';
  return undefined;
}
