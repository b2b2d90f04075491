// The agent executor passes on the provider session id as soon as a CLI run prints it (real child
// processes: the fake CLIs of test/fixtures), once per id: again when a fallback run starts a new
// session, not when it continues the same one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { AgentName, AgentOutput, AgentSpec } from '../../../../src/protocol/agents.ts';
import { executeAgent } from '../../../../src/runner/executors/agent.ts';
import type { ExecSettings } from '../../../../src/runner/executors/types.ts';
import { makeCtx, makeSettings, makeTempDir } from '../exec-fixtures.ts';

const AGENTS: readonly AgentName[] = ['claude', 'codex', 'gemini'];
const FIRST_MODEL: Record<AgentName, string> = { claude: 'c-1', codex: 'x-1', gemini: 'g-1' };
const SECOND_MODEL: Record<AgentName, string> = { claude: 'c-2', codex: 'x-2', gemini: 'g-2' };
const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../fixtures/${name}`, import.meta.url));

interface Report {
  id: string;
  at: number;
}

describe('the session id of an agent turn, as soon as the CLI prints it', () => {
  let root: { dir: string; cleanup: () => Promise<void> };
  let settings: ExecSettings;
  before(async () => {
    root = await makeTempDir('outpost-session-report-');
    // This file runs in a process of its own: the fakes keep their conversations under this HOME.
    process.env.HOME = root.dir;
    const base = makeSettings([root.dir]);
    const agents = { ...base.agents };
    for (const agent of AGENTS) {
      const models = [FIRST_MODEL[agent], SECOND_MODEL[agent]];
      agents[agent] = { ...agents[agent], path: fixture(`fake-${agent}.mjs`), models };
    }
    settings = { ...base, agents };
  });
  after(() => root.cleanup());

  async function run(spec: AgentSpec) {
    const reports: Report[] = [];
    const ctx = makeCtx(settings, {
      onSessionId: (id) => reports.push({ id, at: Date.now() }),
    });
    const outcome = await executeAgent({ cwd: root.dir, ...spec }, ctx);
    const output = outcome.output as AgentOutput;
    return { outcome, output, reports, endedAt: Date.now() };
  }

  for (const agent of AGENTS) {
    it(`${agent}: reports it once, while the turn still runs`, async () => {
      const { outcome, output, reports, endedAt } = await run({ agent, prompt: 'hi SLOW:1000' });
      assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
      assert.deepEqual(
        reports.map((r) => r.id),
        [output.sessionId],
      );
      assert.ok(endedAt - reports[0]!.at >= 800, 'reported before the slow part of the turn');
    });

    it(`${agent}: reports a model fallback's new session, not a resumed one twice`, async () => {
      const prompt = `hi FAIL:model=${FIRST_MODEL[agent]}`;
      const fresh = await run({ agent, prompt });
      assert.equal(fresh.output.model, SECOND_MODEL[agent]);
      const [refused, answered] = fresh.reports.map((r) => r.id);
      assert.equal(fresh.reports.length, 2, JSON.stringify(fresh.reports));
      assert.notEqual(refused, answered);
      assert.equal(answered, fresh.output.sessionId);

      const resumed = await run({ agent, prompt, resume: answered });
      assert.equal(resumed.output.resumed, true);
      assert.deepEqual(
        resumed.reports.map((r) => r.id),
        [answered],
      );
    });
  }

  it('reports the fresh session of a refused resume', async () => {
    const resume = 'f0000000-0000-4000-8000-000000000000';
    const { output, reports } = await run({ agent: 'claude', prompt: 'hi', resume });
    assert.ok(output.freshBecause, 'the resume was refused');
    assert.deepEqual(
      reports.map((r) => r.id),
      [output.sessionId],
    );
  });
});
