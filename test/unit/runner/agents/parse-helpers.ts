// Feeds JSON events to a driver's parser the way run-cli does, for the parser tests.
import type {
  AgentDriver,
  ProgressItem,
  TurnOptions,
  TurnReport,
} from '../../../../src/runner/agents/types.ts';

export function parseEvents(
  driver: AgentDriver,
  events: readonly Record<string, unknown>[],
): { items: ProgressItem[]; report: TurnReport } {
  const parser = driver.createParser();
  const items = events.flatMap((event) => parser.accept(event));
  return { items, report: parser.finish() };
}

export function turn(extra: Partial<TurnOptions> = {}): TurnOptions {
  return { prompt: 'fix the flaky test', extraArgs: [], inGitRepo: true, ...extra };
}

/** A prompt a shell would expand in several ways; it must reach the CLI as one untouched element. */
export const HOSTILE_PROMPT = '"; rm -rf / $(x) `y` && echo $HOME\n--help';
