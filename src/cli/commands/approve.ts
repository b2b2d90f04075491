// `outpost approve <id>` and `outpost reject <id>`: a person's decision about a task its runner
// holds for approval, through the server. With a signing key (--sign-key / OUTPOST_SIGNING_KEY)
// the decision is signed, as a runner in require-signed mode insists.
import type { Command } from 'commander';
import type { Task } from '../../protocol/tasks.ts';
import { printJson } from '../output.ts';
import { clientOptionsOf, withTaskClientOptions, type SigningFlags } from '../signing-key.ts';
import type { ConnectionFlags } from '../connection.ts';

interface DecideFlags extends ConnectionFlags, SigningFlags {
  reason?: string;
  json?: boolean;
}

export function registerApprove(program: Command): void {
  for (const verb of ['approve', 'reject'] as const) {
    withTaskClientOptions(
      program
        .command(verb)
        .description(
          verb === 'approve'
            ? 'Approve a task its runner holds for approval (the runner must allow remote approval)'
            : 'Reject a task its runner holds for approval; the runner refuses it',
        )
        .argument('<id>', 'the held task'),
    )
      .option('--reason <text>', 'why (recorded with the decision)')
      .option('--json', 'print JSON')
      .action(async (id: string, flags: DecideFlags) => {
        const { OutpostClient } = await import('../../sdk/client.ts');
        const client = new OutpostClient(clientOptionsOf(flags));
        const opts = flags.reason === undefined ? {} : { reason: flags.reason };
        const task =
          verb === 'approve'
            ? await client.approveTask(id, opts)
            : await client.rejectTask(id, opts);
        if (flags.json) return printJson(task);
        process.stdout.write(decisionMessage(task));
      });
  }
}

function decisionMessage(task: Task): string {
  const decision = task.hold?.decision;
  const signed = decision?.signature ? `, signed by key ${decision.signature.keyId}` : '';
  return (
    `Task ${task.id}: ${decision?.decision ?? 'decided'} by ${decision?.by ?? 'you'}${signed}. ` +
    'Its runner acts on it at its next heartbeat, if its policy accepts remote decisions.\n'
  );
}
