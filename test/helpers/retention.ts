// The server's own retention defaults (from loadServerConfig), for apps that tests build directly.
import { loadServerConfig } from '../../src/server/config.ts';

const defaults = loadServerConfig({});

export const RETENTION_DEFAULTS = {
  taskRetentionMs: defaults.taskRetentionMs,
  resultRetentionMs: defaults.resultRetentionMs,
  maxFinishedTasks: defaults.maxFinishedTasks,
  eventRetentionMs: defaults.eventRetentionMs,
  maxEvents: defaults.maxEvents,
  sessionRetentionMs: defaults.sessionRetentionMs,
  retentionIntervalMs: defaults.retentionIntervalMs,
};
