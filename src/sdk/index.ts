// The SDK's public surface: the client, its option types and the reply shapes it validates.
export * from './client.ts';
export * from './replies.ts';
export { delay } from './delay.ts';
export { followLogs, type FollowLogsOptions } from './follow-logs.ts';
export {
  agentOutputOf,
  type ListSessionsFilter,
  type RecentAgentSessionsOptions,
} from './sessions.ts';
export {
  signApproval,
  signTaskBody,
  DEFAULT_APPROVAL_TTL_MS,
  DEFAULT_SIGNATURE_TTL_MS,
  type SigningKey,
} from './signing.ts';
export type { DecideOptions } from './approvals.ts';
export { type ListSchedulesFilter } from './schedules.ts';
