// `outpost runner approvals|approve|reject`: decide about tasks the runner on THIS machine holds,
// through its local listener (address and secret in <data dir>/approvals.json, mode 0600), with
// no server and no token: being this machine's user is the credential.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AppError } from '../../protocol/errors.ts';
import { loadLocal, type LocalFlags } from './runner-local.ts';

interface DecideFlags extends LocalFlags {
  reason?: string;
}

interface Endpoint {
  url: string;
  secret: string;
}

interface HeldTask {
  taskId: string;
  attempt: number;
  rule: string;
  reason: string;
  summary: Record<string, unknown>;
  expiresAt: number;
}

export function registerRunnerApprovals(runner: Command): void {
  runner
    .command('approvals')
    .description('List the tasks this machine’s runner holds for approval')
    .option('--config <file>', 'JSON config file (env OUTPOST_CONFIG)')
    .option('--data-dir <dir>', 'runner data directory (env OUTPOST_DATA_DIR)')
    .option('--json', 'print JSON')
    .action(async (flags: LocalFlags, cmd: Command) => {
      const endpoint = await endpointOf({ ...cmd.parent?.opts(), ...flags });
      const { approvals } = (await call(endpoint, 'GET', '/approvals')) as {
        approvals: HeldTask[];
      };
      if (flags.json) return void process.stdout.write(`${JSON.stringify(approvals, null, 2)}\n`);
      if (approvals.length === 0)
        return void process.stdout.write('No task is held for approval.\n');
      for (const held of approvals) process.stdout.write(describe(held));
    });
  for (const verb of ['approve', 'reject'] as const) {
    runner
      .command(verb)
      .description(
        verb === 'approve'
          ? 'Approve a task this machine’s runner holds; it runs at once'
          : 'Reject a task this machine’s runner holds; it is refused and never runs',
      )
      .argument('<id>', 'the held task (see `outpost runner approvals`)')
      .option('--reason <text>', 'why (recorded in the audit log and the outcome)')
      .option('--config <file>', 'JSON config file (env OUTPOST_CONFIG)')
      .option('--data-dir <dir>', 'runner data directory (env OUTPOST_DATA_DIR)')
      .action(async (id: string, flags: DecideFlags, cmd: Command) => {
        const endpoint = await endpointOf({ ...cmd.parent?.opts(), ...flags });
        const body = {
          user: userInfo().username,
          ...(flags.reason ? { reason: flags.reason } : {}),
        };
        await call(endpoint, 'POST', `/approvals/${encodeURIComponent(id)}/${verb}`, body);
        const done = verb === 'approve' ? 'approved; it runs now' : 'rejected; it will not run';
        process.stdout.write(`Task ${id} ${done} (by local user ${body.user}).\n`);
      });
  }
}

async function endpointOf(flags: LocalFlags): Promise<Endpoint> {
  const config = await loadLocal(flags);
  const path = join(config.dataDir, 'approvals.json');
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Endpoint;
  } catch {
    throw new AppError(
      'unavailable',
      `no runner is listening for approvals (${path} is missing): start \`outpost runner\` with commands.requireApproval rules in its policy`,
    );
  }
}

async function call(endpoint: Endpoint, method: string, path: string, body?: object) {
  let res: Response;
  try {
    res = await fetch(`${endpoint.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${endpoint.secret}`, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new AppError(
      'unavailable',
      `the runner's approval listener at ${endpoint.url} does not answer; is the runner running?`,
    );
  }
  const reply = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) {
    const code =
      res.status === 404 ? 'not_found' : res.status === 400 ? 'bad_request' : 'unavailable';
    throw new AppError(code, reply.error?.message ?? `the runner answered ${res.status}`);
  }
  return reply;
}

function describe(held: HeldTask): string {
  const what =
    typeof held.summary.command === 'string' ? held.summary.command : JSON.stringify(held.summary);
  const left = Math.max(0, Math.round((held.expiresAt - Date.now()) / 1000));
  return `${held.taskId}  ${held.rule}  expires in ${left}s\n  ${what}\n  ${held.reason}\n`;
}
