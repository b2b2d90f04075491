// One-time enrolment codes: an admin makes one for a runner name; whoever holds it exchanges it,
// once and before it expires, for a runner token bound to that name. Only hashes are stored.
import type Database from 'better-sqlite3';
import type { EnrollmentRefusal, NewEnrollment, NewToken, RedeemResult } from '../types.ts';
import { prepareStatements, type Prepared, type Transaction } from './statements.ts';
import type { RegistryQueries } from './registry-queries.ts';
import { tokenFromRow } from './rows.ts';

const SQL = {
  insert: `INSERT INTO enrollments (id, runner, hash, created_at, expires_at)
    VALUES (@id, @runner, @hash, @now, @expiresAt)`,
  byHash: 'SELECT * FROM enrollments WHERE hash = ?',
  markUsed: 'UPDATE enrollments SET used_at = ?, token_id = ? WHERE id = ? AND used_at IS NULL',
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
  private readonly statements: Prepared<typeof SQL>;
  private readonly redeemTx: Transaction<[string, TokenFields, number], RedeemResult>;

  constructor(
    db: Database.Database,
    private readonly registry: RegistryQueries,
  ) {
    this.statements = prepareStatements(db, SQL);
    this.redeemTx = db.transaction((hash: string, token: TokenFields, now: number) =>
      this.redeemInTx(hash, token, now),
    );
  }

  create(enrollment: NewEnrollment, now: number): void {
    this.statements.insert.run({ ...enrollment, now });
  }

  /** IMMEDIATE: two redeems of one code cannot both read it unused. */
  redeem(hash: string, token: TokenFields, now: number): RedeemResult {
    return this.redeemTx.immediate(hash, token, now);
  }

  private redeemInTx(hash: string, token: TokenFields, now: number): RedeemResult {
    const row = this.statements.byHash.get(hash) as EnrollmentRow | undefined;
    if (row === undefined) return { refused: 'unknown' };
    const refused = refusalOf(row, now);
    if (refused !== undefined) return { refused };
    const created = this.registry.createTokenInTx(
      // Names are unique among live tokens; the code's id keeps two enrolments of one runner apart.
      {
        ...token,
        name: `${row.runner}-enrolled-${row.id.slice(-8)}`,
        role: 'runner',
        runner: row.runner,
      },
      now,
    );
    this.statements.markUsed.run(now, created.id, row.id);
    return { token: tokenFromRow(created) };
  }
}

function refusalOf(row: EnrollmentRow, now: number): EnrollmentRefusal | undefined {
  if (row.used_at !== null) return 'used';
  if (row.expires_at <= now) return 'expired';
  return undefined;
}
