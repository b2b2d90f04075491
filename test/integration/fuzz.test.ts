// Property test (fast-check): random bodies and query strings at every v1 and in-scope legacy
// route. Never a 5xx; every error in the route's shape; a rejected request leaves tasks untouched.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildTestApp, type TestApp } from '../helpers/app.ts';
import { startMockDiscord, type MockDiscord } from '../helpers/mock-discord.ts';
import { encodeCursor } from '../../src/store/cursor.ts';
import { isTerminal, KINDS, STATES, TERMINAL_STATES } from '../../src/protocol/tasks.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import type { StoredTask } from '../../src/store/types.ts';

// ---- Markers: generated now, replaced at send time by a task, lease or token that exists then.
const MARK = '\u0001';
const knownTask = fc.nat().map((n) => `${MARK}task:${n}`);
/** 0 (often) is the newest: the lease a case's setup just made, still live. */
const recentIndex = fc.oneof(
  { weight: 2, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.nat() },
);
const knownLegacy = recentIndex.map((n) => `${MARK}legacy:${n}`);
const knownToken = fc.nat().map((n) => `${MARK}token:${n}`);
const knownCursor = fc.nat().map((n) => `${MARK}cursor:${n}`);
/** An object with this key gets `{taskId, leaseToken}` of a live v1 lease merged in. */
const LEASE = `${MARK}lease`;

interface Ctx {
  ids: string[];
  legacyIds: string[];
  leases: { taskId: string; leaseToken: string }[];
  tokenIds: string[];
}

const pick = <T>(list: T[], n: number): T | undefined =>
  list.length === 0 ? undefined : list[n % list.length];
const recent = <T>(list: T[], n: number): T | undefined =>
  pick(list, list.length - 1 - (n % Math.max(1, list.length)));

function resolve(value: unknown, ctx: Ctx): unknown {
  if (typeof value === 'string' && value.startsWith(MARK)) {
    const [kind, n] = [
      value.slice(1, value.indexOf(':')),
      Number(value.slice(value.indexOf(':') + 1)),
    ];
    if (kind === 'task') return pick(ctx.ids, n) ?? 'no-task';
    if (kind === 'legacy') return recent(ctx.legacyIds, n) ?? pick(ctx.ids, n) ?? 'no-task';
    if (kind === 'token') return pick(ctx.tokenIds, n) ?? 'no-token';
    if (kind === 'cursor') return encodeCursor(pick(ctx.ids, n) ?? 'none');
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => resolve(v, ctx));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === LEASE)
        Object.assign(out, recent(ctx.leases, Number(v)) ?? { taskId: 'none', leaseToken: 'none' });
      // defineProperty keeps a generated "__proto__" key as data, as JSON.parse would.
      else
        Object.defineProperty(out, k, {
          value: resolve(v, ctx),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    return out;
  }
  return value;
}

// ---- Hostile values.
const nasty = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '../../etc/passwd',
  '..\\..\\windows\\system32',
  '/etc/shadow',
  '%2e%2e%2f',
  '\u202e\u0301',
  '💥🧨',
  'x'.repeat(5000),
  '__proto__',
  'constructor',
  'null',
  'true',
  '1e309',
  '-1',
  'NaN',
  '5000',
);
const weirdString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), nasty);
const weirdNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, -1, 1.5, 1e308, -1e308, 2 ** 31, 2 ** 53 + 2, 2 ** 63, -1000, 86_400_001),
);
const weird: fc.Arbitrary<unknown> = fc.oneof(
  weirdString,
  weirdNumber,
  fc.boolean(),
  fc.constant(null),
  fc.anything({ maxDepth: 2 }),
  fc.array(weirdString, { maxLength: 3 }),
  fc.dictionary(fc.string(), weirdString, { maxKeys: 3 }),
);
/** Usually a plausible value, sometimes a wrong-typed or hostile one. */
const val = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: weird });
/** Any subset of the keys: missing fields are as interesting as wrong ones. */
const keyed = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc.record(fields, { requiredKeys: [] });
/** Mostly with the required keys (so cases get past validation), sometimes any subset. */
const shaped = (fields: Record<string, fc.Arbitrary<unknown>>, required: string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.record(fields, { requiredKeys: required }) },
    { weight: 1, arbitrary: keyed(fields) },
  );

const path = fc.oneof(
  fc.constantFrom(
    '/tmp/outpost-fuzz/a.txt',
    'rel/b.txt',
    '../../etc/passwd',
    '/tmp/\u0000x',
    '/tmp/ü/ñ.txt',
  ),
  fc.string({ minLength: 1 }),
);
const text = fc.string({ maxLength: 40 });
const name = fc.oneof(
  fc.constantFrom('r1', 'r2', 'legacy-worker', 'a.b_c-d'),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/),
);
const int = (min: number, max: number) => fc.integer({ min, max });
const labels = fc.array(fc.string({ minLength: 1, maxLength: 10 }), { maxLength: 3 });

const encoding = fc.constantFrom('utf8', 'base64');
const SPEC_FIELDS: Record<
  (typeof KINDS)[number],
  [Record<string, fc.Arbitrary<unknown>>, string[]]
> = {
  shell: [
    {
      command: val(
        fc.oneof(
          fc.string({ minLength: 1 }),
          fc.array(fc.string(), { minLength: 1, maxLength: 3 }),
        ),
      ),
      cwd: val(path),
      env: val(fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), text, { maxKeys: 2 })),
    },
    ['command'],
  ],
  'file.read': [
    { path: val(path), encoding: val(encoding), maxBytes: val(int(1, 1000)) },
    ['path'],
  ],
  'file.write': [
    { path: val(path), content: val(text), encoding: val(encoding) },
    ['path', 'content'],
  ],
  'file.edit': [
    {
      path: val(path),
      oldString: val(fc.string({ minLength: 1 })),
      newString: val(text),
      replaceAll: val(fc.boolean()),
    },
    ['path', 'oldString', 'newString'],
  ],
  'file.list': [{ path: val(path) }, ['path']],
  agent: [
    {
      agent: val(fc.constantFrom('claude', 'codex', 'gemini', 'gpt')),
      prompt: val(text),
      model: val(fc.oneof(fc.constantFrom('sonnet', 'gpt-5'), fc.string())),
      resume: val(fc.oneof(fc.uuid(), fc.constantFrom('--help', 'a b'))),
      fresh: val(fc.boolean()),
    },
    ['agent', 'prompt'],
  ],
};
const specFor = (kind: (typeof KINDS)[number]) => shaped(...SPEC_FIELDS[kind]);
const anySpec = fc.constantFrom(...KINDS).chain(specFor);
const createFields = {
  timeoutMs: val(int(1000, 86_400_000)),
  priority: val(int(-1000, 1000)),
  runAt: val(fc.oneof(int(0, 2_000_000_000_000), fc.constant(Date.now() + 3_600_000))),
  maxAttempts: val(int(1, 100)),
  target: val(keyed({ runner: val(name), labels: val(labels) })),
  labels: val(labels),
  sessionKey: val(fc.string({ minLength: 1 })),
};
/** A spec that fits its kind (usually), or one of another kind, or no kind at all. */
const createBody = fc
  .oneof(
    {
      weight: 3,
      arbitrary: fc
        .constantFrom(...KINDS)
        .chain((kind) => fc.tuple(fc.constant(kind), specFor(kind), keyed(createFields))),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(val(fc.constantFrom(...KINDS)), val(anySpec), keyed(createFields)),
    },
  )
  .chain(([kind, spec, rest]) =>
    shaped({ kind: fc.constant(kind), spec: fc.constant(spec) }, ['kind', 'spec']).map((b) => ({
      ...b,
      ...rest,
    })),
  );
const outcome = shaped(
  {
    status: val(fc.constantFrom(...TERMINAL_STATES)),
    exitCode: val(fc.oneof(fc.integer(), fc.constant(null))),
    signal: val(fc.constantFrom('SIGTERM', 'SIGKILL')),
    stdout: val(text),
    stderr: val(text),
    stdoutBytes: val(fc.nat()),
    truncated: val(fc.boolean()),
    output: fc.anything({ maxDepth: 2 }),
    error: val(
      shaped(
        {
          kind: val(text),
          message: val(text),
          exitCode: val(fc.integer()),
          retryable: val(fc.boolean()),
        },
        ['kind', 'message', 'retryable'],
      ),
    ),
    metadata: val(fc.dictionary(fc.string(), fc.anything({ maxDepth: 1 }), { maxKeys: 3 })),
    durationMs: val(fc.nat()),
  },
  ['status'],
);
const leaseRef = fc.oneof(
  fc.record({ [LEASE]: recentIndex }),
  keyed({ taskId: val(knownTask), leaseToken: val(text) }),
);

// ---- Query strings. v1 waits are validated (a valid positive one would really wait), so they are
// drawn from values that are invalid or 0; legacy waits are clamped, so only ones that clamp to 0.
const V1_WAITS = ['0', '', 'abc', '-1', '1.5', '60001', '99999999999999999999', ' 0'];
const LEGACY_ZERO_WAITS = ['0', '', 'abc', '-5', '-99999999999', 'NaN', '-1e9', '0x1F', '%00'];
const queryValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  nasty,
  weirdNumber.map(String),
);
const badEscape = fc.constantFrom('', '', '', '&', '%', '%zz', '=&=', '&&a', 'a[b]=1', 'wait');

type Waits = 'v1' | 'legacy' | 'none';
interface Query {
  pairs: (readonly [string, string])[];
  /** Appended as is: a bad escape, a stray '&', a key without a value. */
  tail: string;
}
function queryArb(
  keys: string[],
  waits: Waits,
  extra: Record<string, fc.Arbitrary<string>> = {},
): fc.Arbitrary<Query> {
  const key = fc.oneof(
    fc.constantFrom(...(keys.length ? keys : ['x'])),
    fc.string({ maxLength: 8 }),
  );
  const value = (k: string): fc.Arbitrary<string> =>
    Object.hasOwn(extra, k) ? extra[k]! : queryValue;
  const pair = key.chain((k) => value(k).map((v) => [k, v] as const));
  const waitValue = fc.oneof(
    fc.constant('0'),
    fc.constantFrom(...(waits === 'v1' ? V1_WAITS : LEGACY_ZERO_WAITS)),
  );
  return fc
    .tuple(fc.array(pair, { maxLength: 4 }), badEscape, waitValue)
    .map(([pairs, tail, wait]) => {
      if (waits === 'none') return { pairs, tail };
      // A bare "wait" (no value) would mean the route's default wait, so it is not added here.
      return {
        pairs: [...pairs.filter(([k]) => k !== 'wait'), ['wait', wait] as const],
        tail: tail === 'wait' ? '' : tail,
      };
    });
}

function queryString(query: Query, ctx: Ctx): string {
  const parts = query.pairs.map(
    ([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(resolve(v, ctx)))}`,
  );
  if (query.tail) parts.push(query.tail);
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Path ids: real ones, hostile ones (encoded; dots too, so URL parsing cannot resolve them) and bad escapes. */
const idSegment = (known: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 3, arbitrary: known },
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
        nasty.filter((s) => s !== ''),
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom('a'.repeat(129), 'a'.repeat(300), 'stats') },
    {
      weight: 1,
      arbitrary: fc.constantFrom('%zz', '%', '%E0%A4%A').map((raw) => `${MARK}raw:${raw}`),
    },
  );
const encodeSegment = (id: string) =>
  id.startsWith(`${MARK}raw:`) ? id.slice(5) : encodeURIComponent(id).replaceAll('.', '%2E');

// ---- Bodies, sent the many ways old and new clients send them.
type Payload =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown; type: string | undefined }
  | { kind: 'raw'; text: string; type: string | undefined };
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/x-www-form-urlencoded',
  'text/plain',
  undefined,
);
const rawText = fc.oneof(
  fc.json(),
  fc.string(),
  fc.constantFrom(
    '{',
    '{"a":',
    '[1,',
    'null',
    '"x"',
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
    '\u0000',
    'a=b&c=d',
    '1e999',
  ),
);
function payloadArb(right: fc.Arbitrary<unknown> | undefined): fc.Arbitrary<Payload> {
  const json = (value: fc.Arbitrary<unknown>) =>
    fc.tuple(value, contentType).map(([v, type]): Payload => ({ kind: 'json', value: v, type }));
  const choices: { weight: number; arbitrary: fc.Arbitrary<Payload> }[] = [
    { weight: 1, arbitrary: fc.constant<Payload>({ kind: 'none' }) },
    { weight: 2, arbitrary: json(fc.anything()) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(rawText, contentType)
        .map(([t, type]): Payload => ({ kind: 'raw', text: t, type })),
    },
  ];
  if (right) choices.push({ weight: 10, arbitrary: json(right) });
  return fc.oneof(...choices);
}

interface RouteSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** With `:id` where the path takes an id. */
  path: string;
  legacy: boolean;
  body?: fc.Arbitrary<unknown>;
  queryKeys?: string[];
  queryValues?: Record<string, fc.Arbitrary<string>>;
  waits?: Waits;
  id?: fc.Arbitrary<string>;
  headers?: fc.Arbitrary<Record<string, string>>;
  numRuns?: number;
  /** Runs before each case (and before the snapshot), e.g. to queue a task for a poll. */
  setup?: (t: TestApp, ctx: Ctx) => Promise<void>;
}

const seedLegacyTask = async (t: TestApp) => {
  await t.app.inject({
    method: 'POST',
    url: '/tasks',
    headers: t.admin,
    payload: { command: 'echo seed' },
  });
};
const seedLegacyLease = async (t: TestApp, ctx: Ctx) => {
  await seedLegacyTask(t);
  const res = await t.app.inject({
    method: 'GET',
    url: '/worker/poll?wait=1000',
    headers: t.admin,
  });
  const task = res.json<{ id: string } | null>();
  if (task) ctx.legacyIds.push(task.id);
};
const seedV1Lease = async (t: TestApp, ctx: Ctx) => {
  await t.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: t.admin,
    payload: { kind: 'shell', spec: { command: ['true'] } },
  });
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/runner/claim',
    headers: t.admin,
    payload: { runner: 'r1', max: 1 },
  });
  for (const c of res.json<{ tasks: Claim[] }>().tasks)
    ctx.leases.push({ taskId: c.task.id, leaseToken: c.leaseToken });
};

const ROUTES: RouteSpec[] = [
  {
    method: 'POST',
    path: '/v1/tasks',
    legacy: false,
    body: createBody,
    waits: 'v1',
    numRuns: 150,
    // Sometimes an Idempotency-Key: a repeat (200), a different body under a used key (409), or a bad key.
    headers: fc.oneof(
      { weight: 4, arbitrary: fc.constant({}) },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom('k1', 'k2', '', 'k'.repeat(300))
          .map((k) => ({ 'idempotency-key': k })),
      },
    ),
  },
  { method: 'GET', path: '/v1/tasks/:id', legacy: false, waits: 'v1' },
  {
    method: 'GET',
    path: '/v1/tasks',
    legacy: false,
    waits: 'none',
    queryKeys: ['state', 'kind', 'runner', 'sessionKey', 'cursor', 'limit'],
    queryValues: {
      state: fc.oneof(fc.constantFrom(...STATES), queryValue),
      kind: fc.oneof(fc.constantFrom(...KINDS), queryValue),
      cursor: fc.oneof(knownCursor, queryValue),
      limit: fc.oneof(
        fc.constantFrom('1', '50', '500', '501', '0', '-1', '1e2', '2.5'),
        queryValue,
      ),
    },
  },
  { method: 'POST', path: '/v1/tasks/:id/cancel', legacy: false, body: fc.anything() },
  {
    method: 'POST',
    path: '/v1/runner/hello',
    legacy: false,
    body: shaped(
      {
        name: val(name),
        instanceId: val(fc.string({ minLength: 1, maxLength: 20 })),
        labels: val(labels),
        capacity: val(int(1, 256)),
        kinds: val(fc.array(fc.constantFrom(...KINDS), { maxLength: 5 })),
        version: val(text),
        policyDigest: val(text),
      },
      ['name', 'instanceId', 'capacity', 'kinds', 'version'],
    ),
  },
  {
    method: 'POST',
    path: '/v1/runner/claim',
    legacy: false,
    setup: async (t) => {
      await t.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: t.admin,
        payload: { kind: 'file.list', spec: { path: '/tmp' } },
      });
    },
    body: shaped(
      {
        runner: val(name),
        instanceId: val(fc.string({ minLength: 1, maxLength: 20 })),
        max: val(int(1, 256)),
        // A valid positive waitMs would really wait on an empty queue; 0 keeps each case instant.
        waitMs: fc.oneof(
          fc.constant(0),
          weird.filter((v) => !(typeof v === 'number' && v > 0 && v <= 60_000)),
        ),
        kinds: val(fc.array(fc.constantFrom(...KINDS), { maxLength: 5 })),
      },
      ['runner', 'max'],
    ),
  },
  {
    method: 'POST',
    path: '/v1/runner/heartbeat',
    legacy: false,
    setup: seedV1Lease,
    body: shaped({ runner: val(name), leases: val(fc.array(leaseRef, { maxLength: 4 })) }, [
      'runner',
      'leases',
    ]),
  },
  {
    method: 'POST',
    path: '/v1/runner/finish',
    legacy: false,
    setup: seedV1Lease,
    body: fc.oneof(
      { weight: 3, arbitrary: fc.record({ [LEASE]: recentIndex, outcome: val(outcome) }) },
      {
        weight: 1,
        arbitrary: shaped(
          {
            results: val(
              fc.array(fc.record({ [LEASE]: recentIndex, outcome: val(outcome) }), {
                maxLength: 3,
              }),
            ),
            extra: weird,
          },
          ['results'],
        ),
      },
      {
        weight: 1,
        arbitrary: keyed({
          taskId: val(knownTask),
          leaseToken: val(text),
          outcome: val(outcome),
          extra: weird,
        }),
      },
    ),
  },
  {
    method: 'POST',
    path: '/v1/tokens',
    legacy: false,
    body: shaped(
      {
        name: val(fc.string({ minLength: 1 })),
        role: val(fc.constantFrom('client', 'runner', 'admin')),
        runner: val(name),
      },
      ['name', 'role'],
    ),
  },
  { method: 'GET', path: '/v1/tokens', legacy: false },
  { method: 'DELETE', path: '/v1/tokens/:id', legacy: false, id: knownToken, body: fc.anything() },
  { method: 'GET', path: '/v1/runners', legacy: false },
  { method: 'GET', path: '/v1/stats', legacy: false },
  {
    method: 'GET',
    path: '/v1/events',
    legacy: false,
    queryKeys: ['after', 'type', 'taskId', 'limit'],
    queryValues: {
      after: fc.oneof(fc.constantFrom('0', '1', '-1', '1e2', '99999999999999999999'), queryValue),
      type: fc.oneof(fc.constantFrom('task.created', 'callback.sent', 'a b'), queryValue),
      taskId: fc.oneof(knownTask, queryValue),
      limit: fc.oneof(fc.constantFrom('1', '100', '1000', '1001', '0', '2.5'), queryValue),
    },
  },
  {
    method: 'POST',
    path: '/v1/maintenance',
    legacy: false,
    numRuns: 30,
    body: shaped({ vacuum: val(fc.boolean()) }, []),
  },
  {
    method: 'POST',
    path: '/tasks',
    legacy: true,
    numRuns: 150,
    body: shaped(
      {
        command: val(fc.string({ minLength: 1 })),
        timeout: val(fc.oneof(fc.integer(), fc.integer().map(String))),
      },
      ['command'],
    ),
  },
  { method: 'GET', path: '/tasks/:id', legacy: true, waits: 'legacy' },
  { method: 'GET', path: '/tasks/stats', legacy: true },
  {
    method: 'GET',
    path: '/events',
    legacy: true,
    queryKeys: ['limit', 'taskId', 'type'],
    queryValues: { taskId: fc.oneof(knownTask, queryValue) },
  },
  { method: 'GET', path: '/events/stats', legacy: true },
  {
    method: 'POST',
    path: '/events/maintenance',
    legacy: true,
    numRuns: 30,
    body: shaped({ vacuum: val(fc.oneof(fc.boolean(), fc.string())) }, []),
  },
  {
    method: 'POST',
    path: '/notify',
    legacy: true,
    body: shaped(
      { channel: val(fc.oneof(fc.constantFrom('123456', '0', '../x'), text)), message: val(text) },
      ['channel', 'message'],
    ),
  },
  {
    method: 'POST',
    path: '/files/read',
    legacy: true,
    body: shaped({ path: val(path) }, ['path']),
  },
  {
    method: 'POST',
    path: '/files/write',
    legacy: true,
    body: shaped(
      {
        path: val(path),
        content: val(text),
        encoding: val(fc.constantFrom('utf8', 'base64', 'latin1')),
      },
      ['path', 'content'],
    ),
  },
  {
    method: 'POST',
    path: '/files/edit',
    legacy: true,
    body: shaped(
      {
        path: val(path),
        old_string: val(fc.string({ minLength: 1 })),
        new_string: val(text),
        replace_all: val(fc.boolean()),
      },
      ['path', 'old_string', 'new_string'],
    ),
  },
  // A task is queued before each poll, so the (clamped, >= 1 s) wait never has to run out.
  {
    method: 'GET',
    path: '/worker/poll',
    legacy: true,
    waits: 'legacy',
    numRuns: 60,
    setup: async (t) => seedLegacyTask(t),
  },
  {
    method: 'POST',
    path: '/worker/result',
    legacy: true,
    setup: seedLegacyLease,
    body: shaped(
      {
        taskId: val(
          fc.oneof({ weight: 3, arbitrary: knownLegacy }, { weight: 1, arbitrary: knownTask }),
        ),
        stdout: val(text),
        stderr: val(text),
        exitCode: val(fc.oneof(fc.integer(), fc.constant(0))),
        error: val(fc.oneof(text, fc.constant(null))),
        duration: val(fc.nat()),
        metadata: val(fc.dictionary(fc.string(), fc.anything({ maxDepth: 1 }), { maxKeys: 3 })),
      },
      ['taskId'],
    ),
  },
  {
    method: 'POST',
    path: '/worker/event',
    legacy: true,
    body: shaped(
      {
        type: val(text),
        taskId: val(knownTask),
        details: val(fc.anything()),
        metadata: val(fc.anything()),
      },
      ['type'],
    ),
  },
];

interface Case {
  id: string;
  query: Query;
  payload: Payload;
  headers: Record<string, string>;
}

async function snapshot(t: TestApp): Promise<{ json: string; tasks: StoredTask[] }> {
  const tasks: StoredTask[] = [];
  let cursor: string | undefined;
  do {
    const page = await t.store.listTasks({ limit: 500, cursor });
    tasks.push(...page.tasks);
    cursor = page.nextCursor;
  } while (cursor);
  return { json: JSON.stringify({ counts: await t.store.countTasks(), tasks }), tasks };
}

function assertErrorShape(route: RouteSpec, status: number, raw: string, what: string): void {
  const body = JSON.parse(raw) as { error?: unknown };
  assert.deepEqual(Object.keys(body), ['error'], what);
  if (route.legacy) {
    assert.equal(typeof body.error, 'string', what);
    return;
  }
  const error = body.error as { code?: unknown; message?: unknown };
  assert.equal(typeof error.code, 'string', what);
  assert.equal(typeof error.message, 'string', what);
  assert.ok(status >= 400 && status < 500, what);
}

describe('every route survives random input', () => {
  let t: TestApp;
  const ctx: Ctx = { ids: [], legacyIds: [], leases: [], tokenIds: [] };
  let discord: MockDiscord;
  // Long leases: the reaper must not change tasks between a snapshot and the request after it.
  // `/notify` posts to a mock Discord-compatible API on loopback.
  before(async () => {
    discord = await startMockDiscord();
    t = await buildTestApp({
      leaseMs: 3_600_000,
      legacyLeaseMarginMs: 3_600_000,
      callbackApiBaseUrl: discord.apiBaseUrl,
      callbackBotToken: 'fuzz-bot-token',
    });
  });
  after(async () => {
    await t.close();
    await discord.close();
  });

  /** Notes what a successful call created, so later cases can aim at real tasks, leases and tokens. */
  function learn(route: RouteSpec, raw: string): void {
    const body = JSON.parse(raw) as Record<string, unknown> | null;
    if (route.path === '/v1/runner/claim') {
      for (const c of (body as { tasks: Claim[] }).tasks)
        ctx.leases.push({ taskId: c.task.id, leaseToken: c.leaseToken });
    }
    if (route.path === '/worker/poll' && body) ctx.legacyIds.push(String(body.id));
    if (route.method === 'POST' && route.path === '/v1/tokens' && body)
      ctx.tokenIds.push(String((body.token as { id: string }).id));
  }

  async function runCase(route: RouteSpec, c: Case): Promise<void> {
    await route.setup?.(t, ctx);
    const before = await snapshot(t);
    ctx.ids = before.tasks.map((task) => task.id);
    const id = encodeSegment(String(resolve(c.id, ctx)));
    const url = route.path.replace(':id', id) + queryString(c.query, ctx);
    const headers: Record<string, string> = { ...t.admin, ...c.headers };
    let payload: string | undefined;
    if (c.payload.kind === 'json') payload = JSON.stringify(resolve(c.payload.value, ctx));
    if (c.payload.kind === 'raw') payload = c.payload.text;
    if (c.payload.kind !== 'none' && c.payload.type) headers['content-type'] = c.payload.type;
    const res = await t.app.inject({
      method: route.method,
      url,
      headers,
      ...(payload === undefined ? {} : { payload }),
    });
    const what = `${route.method} ${url.slice(0, 300)} ${String(payload).slice(0, 300)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
    assert.ok(res.statusCode < 500, what);
    assert.match(String(res.headers['content-type']), /application\/json/, what);
    if (res.statusCode >= 400) {
      assertErrorShape(route, res.statusCode, res.body, what);
      assert.equal(
        (await snapshot(t)).json,
        before.json,
        `stored tasks changed on a rejection: ${what}`,
      );
    } else {
      learn(route, res.body);
    }
  }

  for (const route of ROUTES) {
    it(`${route.method} ${route.path}: no 5xx, ${route.legacy ? 'legacy' : 'v1'} error shape, nothing stored on rejection`, async () => {
      const caseArb = fc.record({
        id: route.path.includes(':id') ? idSegment(route.id ?? knownTask) : fc.constant(''),
        query: queryArb(route.queryKeys ?? [], route.waits ?? 'none', route.queryValues),
        payload:
          route.method === 'GET' ? fc.constant<Payload>({ kind: 'none' }) : payloadArb(route.body),
        headers: route.headers ?? fc.constant({}),
      });
      await fc.assert(
        fc.asyncProperty(caseArb, (c) => runCase(route, c)),
        { numRuns: route.numRuns ?? 80 },
      );
    });
  }

  it('answers a body over the limit with 413 in each route shape and stores nothing', async () => {
    const huge = JSON.stringify({ command: 'x'.repeat(6 * 1024 * 1024) });
    for (const route of ROUTES.filter((r) => r.method === 'POST')) {
      const before = await snapshot(t);
      const res = await t.app.inject({
        method: 'POST',
        url: route.path.replace(':id', 'x'),
        headers: { ...t.admin, 'content-type': 'application/json' },
        payload: huge,
      });
      assert.equal(res.statusCode, 413, route.path);
      assertErrorShape(route, res.statusCode, res.body, route.path);
      assert.equal((await snapshot(t)).json, before.json);
    }
  });

  it('kept its fuzzing honest: some cases created tasks, claimed leases and finished them', async () => {
    const all = (await snapshot(t)).tasks;
    assert.ok(all.some((task) => task.origin === 'v1'));
    assert.ok(all.some((task) => task.origin === 'legacy'));
    assert.ok(all.some((task) => isTerminal(task.state) && task.outcome?.status !== 'cancelled'));
    assert.ok(ctx.leases.length > 0 && ctx.legacyIds.length > 0 && ctx.tokenIds.length > 0);
  });
});
