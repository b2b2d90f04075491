// A short, safe summary of a task's spec for the audit log: what it asked to do, without file
// contents, env values or whole prompts (those can be large or private).
import type { Kind } from '../../protocol/tasks.ts';

const MAX_TEXT = 200;

export function summariseSpec(kind: Kind, spec: Record<string, unknown>): Record<string, unknown> {
  switch (kind) {
    case 'shell':
      return defined({
        command: clip(Array.isArray(spec.command) ? JSON.stringify(spec.command) : spec.command),
        cwd: clip(spec.cwd),
        envNames: isRecord(spec.env) ? Object.keys(spec.env) : undefined,
      });
    case 'agent':
      return defined({
        agent: clip(spec.agent),
        model: clip(spec.model),
        cwd: clip(spec.cwd),
        prompt: clip(spec.prompt, 80),
      });
    case 'file.write':
      return defined({
        path: clip(spec.path),
        contentChars: typeof spec.content === 'string' ? spec.content.length : undefined,
      });
    default:
      return defined({ path: clip(spec.path) });
  }
}

function clip(value: unknown, max = MAX_TEXT): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function defined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}
