// The texts a shell command's rules are tested against. A deny rule is a tripwire against the
// obvious forms of a command, not a sandbox: a shell can always build a command at run time
// (`$(printf r)m`, base64), so docs/security.md says to restrict `kinds` where that matters.

/** Shells whose `-c <script>` argv form is unwrapped so the script itself is checked too. */
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'fish', 'busybox']);
/** Where one command ends and another starts in a script: ; & | newlines, $( and backticks. */
const SEPARATORS = /;|&&?|\|\|?|\n|\$\(|`|\(|\)/;

/** Whitespace runs become one space, so `rm   -rf` and `rm\t-rf` read as `rm -rf`. */
export function normaliseSpaces(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The whole command as one normalised line: a string as given, an argv joined with spaces. */
export function commandText(command: string | readonly string[]): string {
  return normaliseSpaces(typeof command === 'string' ? command : command.join(' '));
}

/**
 * Every text a deny or require-approval rule is tested on: the whole command; the script of an
 * argv `sh -c <script>` (and `env … sh -c`); each segment between shell separators; and each of
 * those again with quotes and backslashes removed (`r'm' -rf` → `rm -rf`). Extra candidates only
 * make such rules match more often, never less.
 */
export function commandCandidates(command: string | readonly string[]): string[] {
  const scripts = [commandText(command)];
  if (typeof command !== 'string') {
    const script = shellScriptOf(command);
    if (script !== undefined) scripts.push(normaliseSpaces(script));
  }
  const texts = new Set<string>();
  for (const script of scripts) {
    for (const text of [script, unquote(script)]) {
      texts.add(text);
      for (const part of text.split(SEPARATORS)) {
        const segment = normaliseSpaces(part);
        if (segment !== '') texts.add(segment);
      }
    }
  }
  return [...texts];
}

/** The script of `[…/sh, -c, script]`, `[…/bash, -lc, script]` or `[env, X=1, sh, -c, script]`. */
function shellScriptOf(argv: readonly string[]): string | undefined {
  let i = 0;
  if (basename(argv[0]) === 'env') {
    i = 1;
    while (i < argv.length && (argv[i]?.includes('=') || argv[i]?.startsWith('-'))) i++;
  }
  if (!SHELLS.has(basename(argv[i]))) return undefined;
  const flagAt = argv.findIndex((arg, j) => j > i && /^-[A-Za-z]*c[A-Za-z]*$/.test(arg));
  return flagAt < 0 ? undefined : argv[flagAt + 1];
}

function basename(path: string | undefined): string {
  return (path ?? '').split('/').pop() ?? '';
}

function unquote(text: string): string {
  return normaliseSpaces(text.replace(/['"\\]/g, ''));
}
