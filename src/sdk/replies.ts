// Reply shapes of the admin and health routes that src/protocol does not name, so the SDK can
// validate every response it returns.
import { Type, type Static } from 'typebox';
import { RunnerInfo, TokenInfo } from '../protocol/auth.ts';
import { TaskState } from '../protocol/tasks.ts';

/** `GET /v1/tokens`. @example const { tokens } = await client.listTokens(); */
export const TokenList = Type.Object({ tokens: Type.Array(TokenInfo) });
export type TokenList = Static<typeof TokenList>;

/** `DELETE /v1/tokens/:id`. @example const { revoked } = await client.revokeToken(id); */
export const RevokedToken = Type.Object({ revoked: Type.Boolean() });
export type RevokedToken = Static<typeof RevokedToken>;

/** `GET /v1/runners`. @example const { runners } = await client.listRunners(); */
export const RunnerList = Type.Object({ runners: Type.Array(RunnerInfo) });
export type RunnerList = Static<typeof RunnerList>;

/** `GET /v1/stats`. @example const { tasks, runners } = await client.getStats(); */
export const Stats = Type.Object({
  /** Tasks per state; every state is present, zero when empty. */
  tasks: Type.Record(TaskState, Type.Integer()),
  runners: Type.Object({ total: Type.Integer(), online: Type.Integer() }),
  /** Long polls open on the server right now (claims and task waits). */
  longPolls: Type.Integer(),
});
export type Stats = Static<typeof Stats>;

/** `GET /health`. @example const { status } = await client.health(); */
export const Health = Type.Object({ status: Type.String() });
export type Health = Static<typeof Health>;
