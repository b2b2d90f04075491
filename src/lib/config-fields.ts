// Pure config parsing: one parser per kind of field, and a reader that takes each field from flags,
// env or a config file (highest first) and collects every problem so one error can list them all.

/** What a field parser returns: the value, or a message saying what was wrong with the input. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/** Parses one raw value: a string from env, or any JSON value from a config file or a flag. */
export type FieldParser<T> = (raw: unknown) => Parsed<T>;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(message: string, raw: unknown): Parsed<T> => ({
  ok: false,
  message: `${message}, got ${shown(raw)}`,
});

/** The offending input as JSON, shortened so a pasted blob does not flood the error. */
function shown(raw: unknown): string {
  const text = JSON.stringify(raw) ?? String(raw);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** An integer in [min, max]; strings must be plain decimal digits ("1e3", "12abc" are refused). */
export function intField(min: number, max: number): FieldParser<number> {
  const what = `must be an integer between ${min} and ${max}`;
  return (raw) => {
    const n = toInteger(raw);
    return n !== undefined && n >= min && n <= max ? ok(n) : bad(what, raw);
  };
}

function toInteger(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
  if (typeof raw !== 'string' || !/^\s*-?\d+\s*$/.test(raw)) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : undefined;
}

const DAY_MS = 86_400_000;
const MS_PER_UNIT: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: DAY_MS,
};

/** A duration in ms within [min, max]: a number of ms, or a string like "500", "30s", "5m", "1h", "7d". */
export function msField(min: number, max: number): FieldParser<number> {
  const what = `must be a duration between ${min} and ${max} ms (a number of ms, or e.g. "30s")`;
  return (raw) => {
    const n = toMs(raw);
    return n !== undefined && n >= min && n <= max ? ok(n) : bad(what, raw);
  };
}

function toMs(raw: unknown): number | undefined {
  if (typeof raw !== 'string') return toInteger(raw);
  const match = /^\s*(\d+)\s*(ms|s|m|h|d)?\s*$/.exec(raw);
  if (!match) return undefined;
  const n = Number(match[1]) * (MS_PER_UNIT[match[2] ?? 'ms'] ?? 1);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * A whole number of days in [minDays, maxDays], returned in ms: for legacy settings counted in
 * days (WORKER_EVENT_RETENTION_DAYS) that feed a field kept in ms.
 * @example daysField(1, 3650)('14') // { ok: true, value: 1_209_600_000 }
 */
export function daysField(minDays: number, maxDays: number): FieldParser<number> {
  const days = intField(minDays, maxDays);
  return (raw) => {
    const parsed = days(raw);
    return parsed.ok
      ? ok(parsed.value * DAY_MS)
      : { ok: false, message: `${parsed.message} (days)` };
  };
}

/** An absolute URL whose scheme is one of `protocols` (default http and https). */
export function urlField(protocols: readonly string[] = ['http:', 'https:']): FieldParser<string> {
  const what = `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`;
  return (raw) => {
    const url = typeof raw === 'string' && URL.canParse(raw.trim()) ? new URL(raw.trim()) : null;
    return url && protocols.includes(url.protocol)
      ? ok(url.href.replace(/\/$/, ''))
      : bad(what, raw);
  };
}

/**
 * One URL or several (comma-separated, or a JSON array), each as urlField, returned as one
 * "a,b" string without repeats, in the order given (split it on commas to use it).
 */
export function urlListField(protocols?: readonly string[]): FieldParser<string> {
  const one = urlField(protocols);
  return (raw) => {
    const parts: unknown = typeof raw === 'string' ? raw.split(',') : raw;
    if (!Array.isArray(parts)) return one(raw);
    const urls: string[] = [];
    for (const part of parts as unknown[]) {
      if (typeof part === 'string' && part.trim() === '') continue;
      const parsed = one(part);
      if (!parsed.ok) return parsed;
      urls.push(parsed.value);
    }
    return urls.length > 0
      ? ok([...new Set(urls)].join(','))
      : bad('must name at least one URL', raw);
  };
}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

/** A boolean: JSON true/false, or one of true/false, 1/0, yes/no, on/off (any case). */
export function boolField(): FieldParser<boolean> {
  return (raw) => {
    if (typeof raw === 'boolean') return ok(raw);
    const word = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
    if (TRUE_WORDS.includes(word)) return ok(true);
    if (FALSE_WORDS.includes(word)) return ok(false);
    return bad('must be true or false', raw);
  };
}

/** One of a closed set of strings. */
export function enumField<T extends string>(values: readonly T[]): FieldParser<T> {
  const what = `must be one of ${values.join(', ')}`;
  return (raw) => (values.includes(raw as T) ? ok(raw as T) : bad(what, raw));
}

/** A string matching `pattern` (default: non-empty, no whitespace). */
export function stringField(
  pattern = /^\S+$/,
  what = 'must be a non-empty string without spaces',
): FieldParser<string> {
  return (raw) => (typeof raw === 'string' && pattern.test(raw) ? ok(raw) : bad(what, raw));
}

/**
 * A secret of at least `minLength` characters, optionally matching `allowed`; the value never
 * appears in a message.
 */
export function secretField(
  minLength: number,
  allowed?: { pattern: RegExp; what: string },
): FieldParser<string> {
  return (raw) => {
    if (typeof raw !== 'string' || raw.length < minLength) {
      return { ok: false, message: `must be at least ${minLength} characters` };
    }
    return !allowed || allowed.pattern.test(raw) ? ok(raw) : { ok: false, message: allowed.what };
  };
}

/**
 * A list: a JSON array of strings, or a string split on `separator`; blanks are dropped and every
 * item must pass `item`. @example listField(',')('a, b,,c') // { ok: true, value: ['a','b','c'] }
 */
export function listField(
  separator: string | RegExp,
  item: FieldParser<string> = stringField(),
): FieldParser<string[]> {
  return (raw) => {
    const parts = toParts(raw, separator);
    if (!parts) return bad('must be a list of strings', raw);
    const values: string[] = [];
    for (const part of parts) {
      const parsed = item(part);
      if (!parsed.ok) return { ok: false, message: `every item ${parsed.message}` };
      values.push(parsed.value);
    }
    return ok(values);
  };
}

function toParts(raw: unknown, separator: string | RegExp): string[] | undefined {
  const parts = typeof raw === 'string' ? raw.split(separator) : raw;
  if (!Array.isArray(parts) || !parts.every((p) => typeof p === 'string')) return undefined;
  return parts.map((p: string) => p.trim()).filter((p) => p !== '');
}

/** An argv: a JSON array of strings, or a string split on whitespace ('/bin/sh -c'). */
export function argvField(): FieldParser<string[]> {
  // Items of a JSON array may hold spaces ("/opt/My Tools/sh"); a string is split on them.
  const list = listField(/\s+/, stringField(/\S/, 'must not be empty'));
  return (raw) => {
    const parsed = list(raw);
    return parsed.ok && parsed.value.length === 0 ? bad('must name a program', raw) : parsed;
  };
}

export interface PathOptions {
  /** The home directory a leading `~` expands to (service managers do not expand it for us). */
  home: string;
  /** Resolves relative paths and normalises absolute ones (node's path.resolve, injected). */
  resolve?: (path: string) => string;
  /** Whether a relative path is accepted (and resolved) instead of being a problem. */
  allowRelative?: boolean;
}

/** A filesystem path; `~` expands to `home`; relative paths are refused unless allowed. */
export function pathField(opts: PathOptions): FieldParser<string> {
  return (raw) => {
    if (typeof raw !== 'string' || raw.trim() === '') return bad('must be a path', raw);
    const path = raw.trim().replace(/^~(?=$|\/)/, opts.home);
    if (!isAbsolutePath(path) && !opts.allowRelative) return bad('must be an absolute path', raw);
    return ok(opts.resolve ? opts.resolve(path) : path);
  };
}

/** POSIX `/x` or Windows `C:\x`: the runner may live on either. */
export function isAbsolutePath(path: string): boolean {
  return path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path);
}

/** A parsed config file: `label` names it in problems ("config file /etc/outpost.json"). */
export interface ConfigFile {
  label: string;
  values: Readonly<Record<string, unknown>>;
}

/** Where values come from, highest precedence first. Flags and file keys are camelCase field names. */
export interface ConfigSources {
  flags?: Readonly<Record<string, unknown>>;
  env?: Readonly<Record<string, string | undefined>>;
  file?: ConfigFile;
}

/**
 * An env variable that sets a field: its name, or its name and its own parser, for a legacy alias
 * that counts in other units (`{ name: 'WORKER_EVENT_RETENTION_DAYS', parse: daysField(1, 3650) }`).
 */
export type EnvName<T> = string | { name: string; parse: FieldParser<T> };

/** Reads the fields of config type `C` one by one, collecting problems instead of throwing. */
export interface FieldReader<C> {
  /** The first of flag, env names (in order), file key that is set, parsed; else `fallback`. */
  read<K extends keyof C & string>(
    key: K,
    envNames: readonly EnvName<C[K]>[],
    parse: FieldParser<C[K]>,
    fallback: C[K],
  ): C[K];
  /** Like `read`, but undefined when no source sets the field. */
  readOptional<K extends keyof C & string>(
    key: K,
    envNames: readonly EnvName<C[K]>[],
    parse: FieldParser<C[K]>,
  ): C[K] | undefined;
  /** How a problem should name the field: the source that set it, else its first env name. */
  labelOf(key: keyof C & string): string;
  /** True when none of `keys` had a malformed value (cross-field checks need real values). */
  valid(...keys: (keyof C & string)[]): boolean;
  addProblem(label: string, message: string): void;
  /** Every problem so far, plus one per config file key that no field read. */
  finish(): string[];
}

interface Picked<T> {
  label: string;
  raw: unknown;
  /** Set when the value came from an env alias with its own parser. */
  parse?: FieldParser<T>;
}

const envNameOf = <T>(env: EnvName<T>): string => (typeof env === 'string' ? env : env.name);

/** @example const r = createFieldReader<{ port: number }>({ env }); r.read('port', ['PORT'], intField(1, 65535), 80) */
export function createFieldReader<C>(sources: ConfigSources): FieldReader<C> {
  const problems: string[] = [];
  const known = new Set<string>();
  const labels = new Map<string, string>();
  const invalid = new Set<string>();

  function readOptional<T>(key: string, envNames: readonly EnvName<T>[], parse: FieldParser<T>) {
    known.add(key);
    labels.set(key, envNames[0] === undefined ? `--${kebab(key)}` : envNameOf(envNames[0]));
    const picked = pick(sources, key, envNames);
    if (!picked) return undefined;
    labels.set(key, picked.label);
    const parsed = (picked.parse ?? parse)(picked.raw);
    if (parsed.ok) return parsed.value;
    invalid.add(key);
    problems.push(`${picked.label}: ${parsed.message}`);
    return undefined;
  }

  return {
    readOptional,
    read: (key, envNames, parse, fallback) => readOptional(key, envNames, parse) ?? fallback,
    labelOf: (key) => labels.get(key) ?? key,
    valid: (...keys) => keys.every((key) => !invalid.has(key)),
    addProblem: (label, message) => problems.push(`${label}: ${message}`),
    finish: () => [...problems, ...unknownKeyProblems(sources.file, known)],
  };
}

/** Flags beat env; an env name earlier in the list beats a later one (OUTPOST_* before legacy). */
function pick<T>(
  sources: ConfigSources,
  key: string,
  envNames: readonly EnvName<T>[],
): Picked<T> | undefined {
  const flag = sources.flags?.[key];
  if (flag !== undefined) return { label: `--${kebab(key)}`, raw: flag };
  for (const env of envNames) {
    const name = envNameOf(env);
    const value = sources.env?.[name];
    // An empty variable counts as unset: `FOO=` in a unit file or compose file means "no value".
    if (value === undefined || value === '') continue;
    return typeof env === 'string'
      ? { label: name, raw: value }
      : { label: name, raw: value, parse: env.parse };
  }
  const file = sources.file;
  if (file && Object.hasOwn(file.values, key)) {
    return { label: `${file.label}: key '${key}'`, raw: file.values[key] };
  }
  return undefined;
}

function unknownKeyProblems(file: ConfigFile | undefined, known: ReadonlySet<string>): string[] {
  if (!file) return [];
  return Object.keys(file.values)
    .filter((key) => !known.has(key))
    .map((key) => `${file.label}: unknown key '${key}'`);
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * Reads a JSON config file (an object whose keys are field names) through `readText`, which is
 * node's fs injected so this module stays pure. A missing or malformed file is a problem.
 */
export function readConfigFile(
  path: string,
  readText: (path: string) => string,
): { file?: ConfigFile; problem?: string } {
  const label = `config file ${path}`;
  let text: string;
  try {
    text = readText(path);
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : 'unknown error';
    return { problem: `${label}: cannot be read (${code})` };
  }
  return parseConfigText(text, label);
}

function parseConfigText(text: string, label: string): { file?: ConfigFile; problem?: string } {
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (err) {
    return {
      problem: `${label}: not valid JSON (${err instanceof Error ? err.message : 'unparsable'})`,
    };
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    return { problem: `${label}: must hold a JSON object` };
  }
  return { file: { label, values: values as Record<string, unknown> } };
}

/** The one message listing every problem, one per line, for AppError('bad_request', …). */
export function formatConfigProblems(problems: readonly string[]): string {
  return ['Invalid configuration:', ...problems.map((p) => `  - ${p}`)].join('\n');
}
