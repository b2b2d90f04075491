// Which tasks an unmodified OpenClaw worker (legacy `/worker/poll`) can express and run.
import type { Kind } from '../../protocol/tasks.ts';

/**
 * Old runners know `command` (a string for their shell), `file-read` (text only), `file-write`
 * `file-edit` and the agent CLIs. Anything else (argv arrays, cwd, env, base64 reads, listings) waits for a
 * v1 runner instead of being handed to a runner that would run it wrongly.
 */
export function isLegacyCompatible(kind: Kind, spec: Record<string, unknown>): boolean {
  switch (kind) {
    case 'shell':
      return typeof spec.command === 'string' && spec.cwd === undefined && spec.env === undefined;
    case 'file.read':
      return spec.encoding !== 'base64' && spec.maxBytes === undefined;
    case 'file.write':
    case 'file.edit':
      return true;
    // Old runners ran `claude-cli`, `codex-cli` and `gemini-cli` tasks: a prompt, a model and a
    // session id. A working directory or a forced fresh start they cannot express.
    case 'agent':
      return spec.cwd === undefined && spec.fresh !== true;
    default:
      return false;
  }
}
