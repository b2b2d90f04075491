// The `file.edit` kind: an exact, literal replacement of `oldString` (no `$&` or regex meaning),
// which must occur once unless `replaceAll`; the result is written atomically.
import { isUtf8 } from 'node:buffer';
import type { FileEditSpec, Outcome } from '../../protocol/tasks.ts';
import { resolveInRoots } from '../roots.ts';
import { readFileBounded } from './file-read.ts';
import { writeFileAtomic } from './file-write.ts';
import { TaskFailure, defineExecutor } from './outcome.ts';
import type { ExecContext } from './types.ts';

export const executeFileEdit = defineExecutor('file.edit', editTask);

async function editTask(spec: FileEditSpec, ctx: ExecContext): Promise<Outcome> {
  const path = await resolveInRoots(spec.path, ctx.settings);
  const data = await readFileBounded(path, ctx.settings.maxReadBytes, spec.path);
  if (!isUtf8(data))
    throw new TaskFailure('io', `${spec.path} is not UTF-8 text; file.edit edits text only`);
  const text = data.toString('utf8');
  const count = countOccurrences(text, spec.oldString);
  if (count === 0) throw new TaskFailure('not_found', `old_string not found in ${spec.path}`);
  if (count > 1 && !spec.replaceAll) {
    const hint = 'pass replaceAll or a longer string';
    throw new TaskFailure(
      'not_unique',
      `old_string occurs ${count} times in ${spec.path}; ${hint}`,
    );
  }
  const edited = replaceLiteral(text, spec.oldString, spec.newString, spec.replaceAll === true);
  await writeFileAtomic(path, Buffer.from(edited, 'utf8'));
  return {
    status: 'succeeded',
    exitCode: 0,
    output: { replacements: spec.replaceAll ? count : 1 },
  };
}

/** Non-overlapping occurrences, the same ones `replaceLiteral` replaces. */
export function countOccurrences(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length))
    count++;
  return count;
}

/** split/join and slicing never read `$&`, `$1` or `$$` in the replacement, unlike String.replace. */
export function replaceLiteral(
  text: string,
  oldString: string,
  newString: string,
  all: boolean,
): string {
  if (all) return text.split(oldString).join(newString);
  const at = text.indexOf(oldString);
  return at === -1 ? text : text.slice(0, at) + newString + text.slice(at + oldString.length);
}
