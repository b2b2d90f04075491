// Token administration straight on a server's database (its SQLite file or PostgreSQL URL), for
// bootstrapping a fresh server host.
import { existsSync } from 'node:fs';
import { AppError } from '../protocol/errors.ts';
import {
  ENROLLMENT_TTL,
  type CreateEnrollmentBody,
  type CreateTokenBody,
} from '../protocol/auth.ts';
import { newId, newSecret } from '../lib/ids.ts';
import { hashSecret } from '../server/auth.ts';
import { databaseField } from '../server/database-config.ts';
import { openStore } from './open-store.ts';

export async function openLocalTokenAdmin(db: string) {
  const parsed = databaseField()(db);
  if (!parsed.ok) throw new AppError('bad_request', `--db: ${parsed.message}`);
  const target = parsed.value;
  if (target.kind === 'sqlite' && !existsSync(target.path))
    throw new AppError(
      'not_found',
      `--db: no database at ${target.path} (start \`outpost serve\` once first)`,
    );
  const store = await openStore(target);
  return {
    async createToken(body: CreateTokenBody) {
      if (body.runner !== undefined && body.role !== 'runner')
        throw new AppError('bad_request', '--runner: only a runner token can be bound to a runner');
      const secret = `op_${newSecret()}`;
      const token = await store.createToken(
        { id: newId(), ...body, hash: hashSecret(secret) },
        Date.now(),
      );
      return { token, secret };
    },
    listTokens: async () => ({ tokens: await store.listTokens() }),
    async revokeToken(idOrName: string) {
      if (!(await store.revokeToken(idOrName, Date.now())))
        throw new AppError('not_found', `No live token ${idOrName}`);
    },
    async rotateToken(idOrName: string) {
      const secret = `op_${newSecret()}`;
      const token = await store.rotateToken(idOrName, hashSecret(secret), Date.now());
      if (!token) throw new AppError('not_found', `No live token ${idOrName}`);
      // A running server may have the old secret cached for up to 5 s; the API path clears it.
      return { token, secret };
    },
    async createEnrollment(body: CreateEnrollmentBody) {
      const code = `opc_${newSecret()}`;
      const expiresAt = Date.now() + (body.ttlMs ?? ENROLLMENT_TTL.defaultMs);
      const enrollment = { id: newId(), runner: body.runner, expiresAt };
      await store.createEnrollment({ ...enrollment, hash: hashSecret(code) }, Date.now());
      return { ...enrollment, code };
    },
    close: () => store.close(),
  };
}
