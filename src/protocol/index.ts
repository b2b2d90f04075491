// The wire vocabulary shared by server, runner, SDK, CLI and dashboard. Imports nothing of ours.
export * from './errors.ts';
export * from './tasks.ts';
export * from './runner.ts';
export * from './output.ts';
export * from './auth.ts';
export * from './validate.ts';
export * from './signature.ts';
export * from './schedules.ts';
export * from './approvals.ts';
