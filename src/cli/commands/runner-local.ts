// `outpost runner policy` and `outpost runner audit`: read this machine's runner config and audit
// log; they need no server and no token.
import type { Command } from 'commander';
import { AUDIT_DECISIONS } from '../../runner/audit/audit-log.ts';
import type { AuditFilter } from '../../runner/audit/read-audit.ts';
import { parseDurationOption } from '../options.ts';
import { runnerConfigFile } from './runner-enroll.ts';

export interface LocalFlags {
  config?: string;
  dataDir?: string;
  json?: boolean;
}

interface AuditFlags extends LocalFlags {
  task?: string;
  decision?: string;
  since?: number;
}

export function registerRunnerLocal(runner: Command): void {
  runner
    .command('policy')
    .description('Print the effective local policy of this runner and its digest (sent at hello)')
    .option('--config <file>', 'JSON config file (env OUTPOST_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (flags: LocalFlags, cmd: Command) => {
      const config = await loadLocal({ ...cmd.parent?.opts(), ...flags });
      const { policyDigest } = await import('../../runner/policy/policy.ts');
      const digest = policyDigest(config.policy);
      if (flags.json)
        process.stdout.write(`${JSON.stringify({ digest, policy: config.policy }, null, 2)}\n`);
      else process.stdout.write(`${JSON.stringify(config.policy, null, 2)}\ndigest ${digest}\n`);
    });
  runner
    .command('audit')
    .description("Show this runner's audit log (<data dir>/audit.log), oldest first")
    .option('--task <id>', 'only this task')
    .option('--decision <decision>', `only tasks with this decision: ${AUDIT_DECISIONS.join(', ')}`)
    .option(
      '--since <duration>',
      'only entries newer than this (30s, 5m, 2h)',
      parseDurationOption('--since'),
    )
    .option('--config <file>', 'JSON config file (env OUTPOST_CONFIG)')
    .option('--data-dir <dir>', 'runner data directory (env OUTPOST_DATA_DIR)')
    .option('--json', 'print JSON lines')
    .action(async (flags: AuditFlags, cmd: Command) => {
      const decisions: readonly string[] = AUDIT_DECISIONS;
      if (flags.decision !== undefined && !decisions.includes(flags.decision)) {
        cmd.error(
          `--decision must be one of ${AUDIT_DECISIONS.join(', ')}, got "${flags.decision}"`,
        );
      }
      const config = await loadLocal({ ...cmd.parent?.opts(), ...flags });
      const { auditPathOf } = await import('../../runner/audit/audit-log.ts');
      const { readAuditLog, formatAuditEntry } = await import('../../runner/audit/read-audit.ts');
      const entries = readAuditLog(auditPathOf(config.dataDir), {
        taskId: flags.task,
        decision: flags.decision as AuditFilter['decision'],
        sinceAt: flags.since === undefined ? undefined : Date.now() - flags.since,
      });
      const lines = entries.map((e) => (flags.json ? JSON.stringify(e) : formatAuditEntry(e)));
      process.stdout.write(lines.map((l) => `${l}\n`).join(''));
    });
}

/** The runner config as the runner would load it (runner.json by default), without needing a token. */
export async function loadLocal(flags: LocalFlags) {
  const { loadRunnerConfig } = await import('../../runner/config.ts');
  const extra = flags.dataDir === undefined ? {} : { dataDir: flags.dataDir };
  const file = runnerConfigFile(flags.config, flags.dataDir);
  return loadRunnerConfig(process.env, { file, flags: extra, local: true });
}
