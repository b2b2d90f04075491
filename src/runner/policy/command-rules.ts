// Shell command rules of the policy: allow (when set, the whole command must match one), deny,
// and requireApproval; each verdict names the rule by its place in the config, e.g. commands.deny[2].
import type { CommandRules } from './policy.ts';
import { commandCandidates, commandText } from './command-text.ts';

export type CommandVerdict =
  { ok: true } | { ok: false; rule: string; pattern: string; approval: boolean };

/** Compiled once per policy: a verdict is asked for every shell task. */
export function createCommandChecker(
  rules: CommandRules,
): (command: string | readonly string[]) => CommandVerdict {
  const compile = (list: readonly string[]) => list.map((p) => new RegExp(p, 'u'));
  const allow = compile(rules.allow);
  const deny = compile(rules.deny);
  const approve = compile(rules.requireApproval);
  return (command) => {
    const candidates = commandCandidates(command);
    const denied = firstMatch(deny, candidates);
    if (denied >= 0) return refusal('deny', denied, rules.deny, false);
    if (allow.length > 0 && !allow.some((re) => re.test(commandText(command)))) {
      return {
        ok: false,
        rule: 'commands.allow',
        pattern: rules.allow.join(' | '),
        approval: false,
      };
    }
    const held = firstMatch(approve, candidates);
    if (held >= 0) return refusal('requireApproval', held, rules.requireApproval, true);
    return { ok: true };
  };
}

function firstMatch(patterns: readonly RegExp[], texts: readonly string[]): number {
  return patterns.findIndex((re) => texts.some((text) => re.test(text)));
}

function refusal(
  list: 'deny' | 'requireApproval',
  index: number,
  patterns: readonly string[],
  approval: boolean,
): CommandVerdict {
  return {
    ok: false,
    rule: `commands.${list}[${index}]`,
    pattern: patterns[index] ?? '',
    approval,
  };
}
