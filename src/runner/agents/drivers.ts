// The driver of each agent CLI, by name.
import type { AgentName } from '../../protocol/agents.ts';
import { claudeDriver } from './claude.ts';
import { codexDriver } from './codex.ts';
import { geminiDriver } from './gemini.ts';
import type { AgentDriver } from './types.ts';

export const AGENT_DRIVERS: Readonly<Record<AgentName, AgentDriver>> = Object.freeze({
  claude: claudeDriver,
  codex: codexDriver,
  gemini: geminiDriver,
});
