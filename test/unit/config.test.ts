// Server and runner config loading: defaults, env and legacy aliases, flags, config files, and
// one error that lists every problem.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../../src/protocol/errors.ts';
import { boolField, listField, msField, pathField } from '../../src/lib/config-fields.ts';
import { isLoopbackHost, loadServerConfig } from '../../src/server/config.ts';
import { DEFAULT_ENV_ALLOWLIST, deniedPathsOf, loadRunnerConfig } from '../../src/runner/config.ts';
import { atLeast, type RunnerLog } from '../../src/runner/runner-log.ts';

const TOKEN = 'a-token-of-24-characters';
const DAY_MS = 86_400_000;
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-config-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** The problems of the AppError `fn` throws; fails if it does not throw one. */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError, `expected AppError, got ${String(err)}`);
    assert.equal(err.code, 'bad_request');
    const lines = err.message.split('\n');
    assert.equal(lines[0], 'Invalid configuration:');
    return lines.slice(1).map((line) => line.replace(/^ {2}- /, ''));
  }
  return assert.fail('expected the config to be refused');
}

describe('loadServerConfig', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadServerConfig({});
    assert.deepEqual(config, {
      host: '127.0.0.1',
      port: 3456,
      dataDir: join(homedir(), '.outpost'),
      dbPath: join(homedir(), '.outpost', 'outpost.db'),
      database: { kind: 'sqlite', path: join(homedir(), '.outpost', 'outpost.db') },
      leaseMs: 30_000,
      heartbeatMs: 10_000,
      legacyLeaseMarginMs: 30_000,
      reapIntervalMs: 1000,
      maxBodyBytes: 5 * 1024 * 1024,
      outputCapBytes: 16 * 1024 * 1024,
      retryBaseMs: 1_000,
      retryMaxMs: 300_000,
      logLevel: 'info',
      taskRetentionMs: 7 * DAY_MS,
      resultRetentionMs: DAY_MS,
      maxFinishedTasks: 100_000,
      eventRetentionMs: 14 * DAY_MS,
      maxEvents: 100_000,
      sessionRetentionMs: 30 * 86_400_000,
      retentionIntervalMs: 60_000,
      callbackApiBaseUrl: 'https://discord.com/api/v10',
      callbackMaxAttempts: 6,
      callbackRetryBaseMs: 2_000,
      callbackRetryMaxMs: 300_000,
      rateLimitSubmitMax: 6_000,
      rateLimitSubmitWindowMs: 60_000,
      rateLimitAuthFailMax: 20,
      rateLimitAuthFailWindowMs: 60_000,
    });
    assert.ok(Object.isFrozen(config));
  });

  it('reads rate limits and TLS files, and wants both TLS files or neither', () => {
    const config = loadServerConfig({
      OUTPOST_RATE_LIMIT_SUBMIT_MAX: '0',
      OUTPOST_RATE_LIMIT_AUTH_FAIL_WINDOW_MS: '5m',
      OUTPOST_TLS_CERT: '/etc/outpost/cert.pem',
      OUTPOST_TLS_KEY: '/etc/outpost/key.pem',
    });
    assert.equal(config.rateLimitSubmitMax, 0);
    assert.equal(config.rateLimitAuthFailWindowMs, 300_000);
    assert.equal(config.tlsCert, '/etc/outpost/cert.pem');
    assert.throws(
      () =>
        loadServerConfig({ OUTPOST_TLS_CERT: '/c.pem', OUTPOST_RATE_LIMIT_AUTH_FAIL_MAX: '-1' }),
      (err: Error) =>
        /both a certificate and a key/.test(err.message) &&
        /OUTPOST_RATE_LIMIT_AUTH_FAIL_MAX/.test(err.message),
    );
  });

  it('reads the callback settings and their legacy aliases, OUTPOST_* and CALLBACK_* first', () => {
    const legacy = loadServerConfig({
      DISCORD_BOT_TOKEN: 'discord-token',
      DISCORD_API_BASE_URL: 'http://127.0.0.1:9/api/',
    });
    assert.equal(legacy.callbackBotToken, 'discord-token');
    assert.equal(legacy.callbackApiBaseUrl, 'http://127.0.0.1:9/api');
    const both = loadServerConfig({
      CALLBACK_BOT_TOKEN: 'callback-token',
      DISCORD_BOT_TOKEN: 'discord-token',
      CALLBACK_API_BASE_URL: 'https://chat.example.com/api',
      DISCORD_API_BASE_URL: 'http://127.0.0.1:9/api',
      OUTPOST_WEBHOOK_SECRET: 'webhook-secret-0123456789',
      OUTPOST_CALLBACK_MAX_ATTEMPTS: '3',
      OUTPOST_CALLBACK_RETRY_BASE_MS: '100',
      OUTPOST_CALLBACK_RETRY_MAX_MS: '1s',
    });
    assert.equal(both.callbackBotToken, 'callback-token');
    assert.equal(both.callbackApiBaseUrl, 'https://chat.example.com/api');
    assert.equal(both.webhookSecret, 'webhook-secret-0123456789');
    assert.deepEqual(
      [both.callbackMaxAttempts, both.callbackRetryBaseMs, both.callbackRetryMaxMs],
      [3, 100, 1000],
    );
    const own = loadServerConfig({ OUTPOST_CALLBACK_BOT_TOKEN: 'own', CALLBACK_BOT_TOKEN: 'x' });
    assert.equal(own.callbackBotToken, 'own');
  });

  it('refuses bad callback settings without echoing a secret', () => {
    const problems = problemsOf(() =>
      loadServerConfig({
        CALLBACK_BOT_TOKEN: 'has a space-secret',
        OUTPOST_WEBHOOK_SECRET: 'short-secret',
        CALLBACK_API_BASE_URL: 'ftp://example.com',
        OUTPOST_CALLBACK_MAX_ATTEMPTS: '0',
      }),
    );
    const text = problems.join('\n');
    assert.equal(problems.length, 4, text);
    assert.match(text, /CALLBACK_BOT_TOKEN: must be visible ASCII without spaces/);
    assert.match(text, /OUTPOST_WEBHOOK_SECRET: must be at least 16 characters/);
    assert.match(text, /CALLBACK_API_BASE_URL: must be a URL/);
    assert.match(text, /OUTPOST_CALLBACK_MAX_ATTEMPTS: must be an integer/);
    assert.doesNotMatch(text, /space-secret|short-secret/);
  });

  it('reads OUTPOST_* variables and derives dbPath from dataDir', () => {
    const config = loadServerConfig({
      OUTPOST_HOST: '0.0.0.0',
      OUTPOST_PORT: '8080',
      OUTPOST_DATA_DIR: '/srv/outpost',
      OUTPOST_LEASE_MS: '1m',
      OUTPOST_LOG_LEVEL: 'debug',
      OUTPOST_TOKEN: TOKEN,
    });
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, 8080);
    assert.equal(config.dbPath, '/srv/outpost/outpost.db');
    assert.equal(config.leaseMs, 60_000);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.token, TOKEN);
  });

  it('selects PostgreSQL by URL and keeps SQLite for a path or sqlite:<path>', () => {
    const pg = 'postgres://outpost@db.internal:5432/outpost';
    assert.deepEqual(loadServerConfig({ OUTPOST_DATABASE_URL: pg }).database, {
      kind: 'postgres',
      url: pg,
    });
    const flagged = loadServerConfig({ OUTPOST_DATABASE_URL: pg }, { flags: { dbPath: '/x.db' } });
    assert.equal(flagged.database.kind, 'postgres', 'a URL beats the SQLite file setting');
    const file = loadServerConfig({ OUTPOST_DATABASE_URL: 'sqlite:/srv/o.db' });
    assert.deepEqual(
      [file.database, file.dbPath],
      [{ kind: 'sqlite', path: '/srv/o.db' }, '/srv/o.db'],
    );
    const raw = { database: 'postgresql://h/db' } as Record<string, unknown>;
    assert.equal(loadServerConfig({}, { flags: raw }).database.kind, 'postgres');
  });

  it('refuses a malformed database URL, naming the setting and hiding the password', () => {
    const problems = problemsOf(() =>
      loadServerConfig({ OUTPOST_DATABASE_URL: 'postgres://me:hunter2@db.internal' }),
    );
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^OUTPOST_DATABASE_URL: must name a host and a database/);
    assert.doesNotMatch(problems[0]!, /hunter2/);
    const mysql = { database: 'mysql://h/db' } as Record<string, unknown>;
    const [flag] = problemsOf(() => loadServerConfig({}, { flags: mysql }));
    assert.match(flag!, /^--database: must be a postgres:\/\/ URL, sqlite:<path> or a file path/);
  });

  it('honours the legacy WORKER_* aliases, with OUTPOST_* winning when both are set', () => {
    const legacy = { WORKER_PORT: '4000', WORKER_TOKEN: TOKEN, WORKER_TASK_DB: '/tmp/tasks.db' };
    const config = loadServerConfig(legacy);
    assert.deepEqual([config.port, config.token, config.dbPath], [4000, TOKEN, '/tmp/tasks.db']);
    const both = loadServerConfig({
      ...legacy,
      OUTPOST_PORT: '5000',
      OUTPOST_TOKEN: `${TOKEN}-new`,
    });
    assert.deepEqual([both.port, both.token], [5000, `${TOKEN}-new`]);
  });

  it('reads retention from OUTPOST_* and the legacy aliases, the event one counted in days', () => {
    const legacy = loadServerConfig({
      WORKER_TASK_RETENTION_MS: '3600000',
      WORKER_RESULT_RETENTION_MS: '600000',
      WORKER_EVENT_RETENTION_DAYS: '3',
      WORKER_MAX_EVENTS: '2000',
      WORKER_SESSION_RETENTION_MS: '86400000',
    });
    assert.deepEqual(
      [
        legacy.taskRetentionMs,
        legacy.resultRetentionMs,
        legacy.eventRetentionMs,
        legacy.maxEvents,
        legacy.sessionRetentionMs,
      ],
      [3_600_000, 600_000, 3 * DAY_MS, 2000, DAY_MS],
    );
    const own = loadServerConfig({
      WORKER_EVENT_RETENTION_DAYS: '3',
      OUTPOST_EVENT_RETENTION_MS: '2d',
      OUTPOST_MAX_FINISHED_TASKS: '500',
      OUTPOST_RETENTION_INTERVAL_MS: '5s',
    });
    assert.deepEqual(
      [own.eventRetentionMs, own.maxFinishedTasks, own.retentionIntervalMs],
      [2 * DAY_MS, 500, 5000],
    );
  });

  it('refuses bad retention values, naming the variable that held them', () => {
    const problems = problemsOf(() =>
      loadServerConfig({ WORKER_EVENT_RETENTION_DAYS: '1.5', OUTPOST_MAX_EVENTS: '0' }),
    );
    assert.deepEqual(problems, [
      'WORKER_EVENT_RETENTION_DAYS: must be an integer between 1 and 3650, got "1.5" (days)',
      'OUTPOST_MAX_EVENTS: must be an integer between 1 and 1000000000, got "0"',
    ]);
  });

  it('lets flags beat env, and env beat the config file', () => {
    const file = writeConfig('server.json', { port: 7000, leaseMs: 40_000, logLevel: 'warn' });
    const env = { OUTPOST_PORT: '8000', OUTPOST_LEASE_MS: '50000' };
    const config = loadServerConfig(env, { file, flags: { port: 9000 } });
    assert.deepEqual([config.port, config.leaseMs, config.logLevel], [9000, 50_000, 'warn']);
  });

  it('finds the config file through OUTPOST_CONFIG', () => {
    const file = writeConfig('via-env.json', { host: '::1', reapIntervalMs: 500 });
    const config = loadServerConfig({ OUTPOST_CONFIG: file });
    assert.deepEqual([config.host, config.reapIntervalMs], ['::1', 500]);
  });

  it('refuses an unknown key, malformed JSON and a missing file in the config file', () => {
    const unknown = writeConfig('unknown.json', { port: 3000, prot: 3001 });
    assert.deepEqual(
      problemsOf(() => loadServerConfig({}, { file: unknown })),
      [`config file ${unknown}: unknown key 'prot'`],
    );
    const broken = writeConfig('broken.json', '{ "port": ');
    assert.match(problemsOf(() => loadServerConfig({}, { file: broken }))[0]!, /not valid JSON/);
    const missing = join(dir, 'missing.json');
    assert.deepEqual(
      problemsOf(() => loadServerConfig({}, { file: missing })),
      [`config file ${missing}: cannot be read (ENOENT)`],
    );
  });

  it('refuses a token shorter than 16 characters without echoing it', () => {
    const problems = problemsOf(() => loadServerConfig({ WORKER_TOKEN: 'short-secret' }));
    assert.deepEqual(problems, ['WORKER_TOKEN: must be at least 16 characters']);
  });

  it('reports every bad value in one error', () => {
    const file = writeConfig('bad.json', { leaseMs: -5, colour: 'blue' });
    const problems = problemsOf(() =>
      loadServerConfig({ OUTPOST_PORT: 'abc', OUTPOST_LOG_LEVEL: 'loud' }, { file }),
    );
    assert.deepEqual(problems, [
      'OUTPOST_PORT: must be an integer between 0 and 65535, got "abc"',
      'OUTPOST_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      `config file ${file}: key 'leaseMs': must be a duration between 1000 and 600000 ms (a number of ms, or e.g. "30s"), got -5`,
      `config file ${file}: unknown key 'colour'`,
    ]);
  });

  it('refuses a heartbeat of half the lease or more', () => {
    const env = { OUTPOST_LEASE_MS: '20000', OUTPOST_HEARTBEAT_MS: '10000' };
    assert.deepEqual(
      problemsOf(() => loadServerConfig(env)),
      ['OUTPOST_HEARTBEAT_MS: must be less than half of leaseMs (20000), got 10000'],
    );
    assert.equal(loadServerConfig({ ...env, OUTPOST_HEARTBEAT_MS: '9999' }).heartbeatMs, 9999);
  });

  it('does not add a cross-field problem on top of a malformed lease', () => {
    const env = { OUTPOST_LEASE_MS: 'soon', OUTPOST_HEARTBEAT_MS: '20000' };
    assert.equal(problemsOf(() => loadServerConfig(env)).length, 1);
  });

  it('checks flags too', () => {
    const problems = problemsOf(() => loadServerConfig({}, { flags: { port: 70_000 } }));
    assert.deepEqual(problems, ['--port: must be an integer between 0 and 65535, got 70000']);
  });
});

describe('isLoopbackHost', () => {
  it('accepts 127.0.0.0/8, ::1 and localhost, and nothing else', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST']) {
      assert.equal(isLoopbackHost(host), true, host);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '127.0.0.256', 'example.com']) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });
});

describe('loadRunnerConfig', () => {
  it('needs a token', () => {
    assert.deepEqual(
      problemsOf(() => loadRunnerConfig({})),
      ['OUTPOST_TOKEN: a runner needs a token'],
    );
  });

  it('uses the documented defaults besides the token', () => {
    const config = loadRunnerConfig({ OUTPOST_TOKEN: TOKEN });
    assert.equal(config.serverUrl, 'http://127.0.0.1:3456');
    assert.match(config.name, /^[A-Za-z0-9][A-Za-z0-9._-]*$/);
    assert.deepEqual(config.labels, []);
    assert.deepEqual(
      [config.capacity, config.longPollMs, config.retryBaseMs, config.retryMaxMs],
      [5, 30_000, 500, 30_000],
    );
    assert.deepEqual(config.roots, [homedir()]);
    assert.deepEqual(config.shell, ['/bin/sh', '-c']);
    assert.deepEqual(config.envAllowlist, DEFAULT_ENV_ALLOWLIST);
    assert.deepEqual([config.maxOutputBytes, config.maxReadBytes], [1024 * 1024, 10 * 1024 * 1024]);
    assert.deepEqual([config.killGraceMs, config.drainGraceMs], [5000, 30_000]);
    assert.deepEqual([config.outputSpoolBytes, config.keepOutput], [64 * 1024 * 1024, false]);
    assert.equal(config.configPath, undefined);
    assert.equal(config.logLevel, 'info');
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.roots));
  });

  it('reads OUTPOST_LOG_LEVEL as the server does, and the logger honours it', () => {
    assert.equal(
      loadRunnerConfig({ OUTPOST_TOKEN: TOKEN, OUTPOST_LOG_LEVEL: 'warn' }).logLevel,
      'warn',
    );
    assert.deepEqual(
      problemsOf(() => loadRunnerConfig({ OUTPOST_TOKEN: TOKEN, OUTPOST_LOG_LEVEL: 'loud' })),
      [
        'OUTPOST_LOG_LEVEL: must be one of trace, debug, info, warn, error, fatal, silent, got "loud"',
      ],
    );
    const lines: string[] = [];
    const collect: RunnerLog = (level, msg) => lines.push(`${level} ${msg}`);
    for (const min of ['trace', 'warn', 'fatal', 'silent'] as const) {
      const log = atLeast(min, collect);
      for (const level of ['debug', 'info', 'warn', 'error'] as const) log(level, min);
    }
    assert.deepEqual(lines, [
      'debug trace',
      'info trace',
      'warn trace',
      'error trace',
      'warn warn',
      'error warn',
      'error fatal',
    ]);
  });

  it('honours WORKER_URL, WORKER_TOKEN, MAX_CONCURRENT and LONG_POLL_WAIT', () => {
    const legacy = {
      WORKER_URL: 'https://outpost.example:8443/',
      WORKER_TOKEN: TOKEN,
      MAX_CONCURRENT: '2',
      LONG_POLL_WAIT: '15000',
      POLL_INTERVAL: '250',
    };
    const config = loadRunnerConfig(legacy);
    assert.equal(config.serverUrl, 'https://outpost.example:8443');
    assert.deepEqual([config.token, config.capacity, config.longPollMs], [TOKEN, 2, 15_000]);
    assert.equal(config.retryBaseMs, 250);
    const both = loadRunnerConfig({
      ...legacy,
      OUTPOST_URL: 'http://10.0.0.2:3456',
      OUTPOST_CAPACITY: '8',
      OUTPOST_LONG_POLL_MS: '20000',
    });
    assert.deepEqual(
      [both.serverUrl, both.capacity, both.longPollMs],
      ['http://10.0.0.2:3456', 8, 20_000],
    );
  });

  it('takes several server URLs, comma-separated or as a JSON array, the first preferred', () => {
    const config = loadRunnerConfig({
      OUTPOST_TOKEN: TOKEN,
      OUTPOST_URL: 'http://10.0.0.2:3456/, https://b.example , http://10.0.0.2:3456',
    });
    assert.deepEqual(config.serverUrls, ['http://10.0.0.2:3456', 'https://b.example']);
    assert.equal(config.serverUrl, 'http://10.0.0.2:3456');
    const flagged = loadRunnerConfig(
      { OUTPOST_TOKEN: TOKEN },
      { flags: { serverUrl: 'http://a:1,http://b:2' } },
    );
    assert.deepEqual(flagged.serverUrls, ['http://a:1', 'http://b:2']);
    assert.deepEqual(loadRunnerConfig({ OUTPOST_TOKEN: TOKEN }).serverUrls, [
      'http://127.0.0.1:3456',
    ]);
    assert.deepEqual(
      problemsOf(() =>
        loadRunnerConfig({ OUTPOST_TOKEN: TOKEN, OUTPOST_URL: 'http://a:1,ftp://b' }),
      ),
      ['OUTPOST_URL: must be a URL starting with http:// or https://, got "ftp://b"'],
    );
    assert.deepEqual(
      problemsOf(() => loadRunnerConfig({ OUTPOST_TOKEN: TOKEN, OUTPOST_URL: ' , ' })),
      ['OUTPOST_URL: must name at least one URL, got " , "'],
    );
  });

  it('parses lists, roots, shell and adds to the env allowlist', () => {
    const config = loadRunnerConfig({
      OUTPOST_TOKEN: TOKEN,
      OUTPOST_LABELS: 'gpu, mac,,',
      OUTPOST_ROOTS: '/srv/work:~/code',
      OUTPOST_SHELL: '/bin/bash  -lc',
      OUTPOST_ENV_ALLOW: 'GOPATH,NODE_*',
    });
    assert.deepEqual(config.labels, ['gpu', 'mac']);
    assert.deepEqual(config.roots, ['/srv/work', join(homedir(), 'code')]);
    assert.deepEqual(config.shell, ['/bin/bash', '-lc']);
    assert.deepEqual(config.envAllowlist, [...DEFAULT_ENV_ALLOWLIST, 'GOPATH', 'NODE_*']);
  });

  it('lets flags beat env and keeps the config file out of reach of tasks', () => {
    const file = writeConfig('runner.json', {
      name: 'from-file',
      labels: ['a', 'b'],
      token: TOKEN,
    });
    const config = loadRunnerConfig(
      { OUTPOST_RUNNER_NAME: 'from-env', OUTPOST_DATA_DIR: '/var/lib/outpost' },
      { file, flags: { name: 'from-flag' } },
    );
    assert.deepEqual([config.name, config.labels, config.token], ['from-flag', ['a', 'b'], TOKEN]);
    assert.equal(config.configPath, file);
    assert.deepEqual(deniedPathsOf(config), ['/var/lib/outpost', file]);
  });

  it('reports every bad value in one error', () => {
    const file = writeConfig('runner-bad.json', { shell: [], runnerName: 'x' });
    const problems = problemsOf(() =>
      loadRunnerConfig(
        {
          OUTPOST_URL: 'not a url',
          MAX_CONCURRENT: '1000',
          OUTPOST_ROOTS: '/ok:relative/dir',
          OUTPOST_ENV_ALLOW: 'WORKER_*',
        },
        { file },
      ),
    );
    assert.deepEqual(problems, [
      'OUTPOST_URL: must be a URL starting with http:// or https://, got "not a url"',
      'OUTPOST_TOKEN: a runner needs a token',
      'MAX_CONCURRENT: must be an integer between 1 and 256, got "1000"',
      'OUTPOST_ROOTS: every item must be an absolute path, got "relative/dir"',
      `config file ${file}: key 'shell': must name a program, got []`,
      "OUTPOST_ENV_ALLOW: must not pass the runner's own secrets (WORKER_TOKEN)",
      `config file ${file}: unknown key 'runnerName'`,
    ]);
  });

  it('reads the live output settings and refuses a spool under 1 MiB', () => {
    const config = loadRunnerConfig({
      OUTPOST_TOKEN: TOKEN,
      OUTPOST_OUTPUT_SPOOL_BYTES: '2097152',
      OUTPOST_KEEP_OUTPUT: 'yes',
    });
    assert.deepEqual([config.outputSpoolBytes, config.keepOutput], [2 * 1024 * 1024, true]);
    const problems = problemsOf(() =>
      loadRunnerConfig({
        OUTPOST_TOKEN: TOKEN,
        OUTPOST_OUTPUT_SPOOL_BYTES: '1000',
        OUTPOST_KEEP_OUTPUT: 'sometimes',
      }),
    );
    assert.deepEqual(problems, [
      'OUTPOST_OUTPUT_SPOOL_BYTES: must be an integer between 1048576 and 1099511627776, got "1000"',
      'OUTPOST_KEEP_OUTPUT: must be true or false, got "sometimes"',
    ]);
  });

  it('refuses a short token and a bad runner name', () => {
    const problems = problemsOf(() =>
      loadRunnerConfig({ OUTPOST_TOKEN: 'short', OUTPOST_RUNNER_NAME: 'my laptop' }),
    );
    assert.deepEqual(problems, [
      'OUTPOST_TOKEN: must be at least 16 characters',
      'OUTPOST_RUNNER_NAME: must be 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit, got "my laptop"',
    ]);
  });
});

describe('config field parsers', () => {
  it('reads durations as ms or with a unit, and refuses anything else', () => {
    const ms = msField(0, 1_000_000_000);
    const values = ['250', '250ms', '30s', '5m', '1h', '2d', 42].map((raw) => ms(raw));
    assert.deepEqual(
      values.map((p) => p.ok && p.value),
      [250, 250, 30_000, 300_000, 3_600_000, 2 * 86_400_000, 42],
    );
    for (const raw of ['1.5s', '-5', '10 minutes', '', 1.5, null]) assert.equal(ms(raw).ok, false);
  });

  it('reads booleans strictly', () => {
    const bool = boolField();
    assert.deepEqual(
      ['true', 'NO', '1', 'off', false].map((raw) => bool(raw)).map((p) => p.ok && p.value),
      [true, false, true, false, false],
    );
    assert.deepEqual(bool('maybe'), { ok: false, message: 'must be true or false, got "maybe"' });
  });

  it('reads lists from a string or a JSON array, checking each item', () => {
    const paths = listField(':', pathField({ home: '/home/me' }));
    assert.deepEqual(paths('~:/srv'), { ok: true, value: ['/home/me', '/srv'] });
    assert.deepEqual(paths(['/a', '~/b']), { ok: true, value: ['/a', '/home/me/b'] });
    assert.equal(paths([1, 2]).ok, false);
    assert.equal(paths('/a:b').ok, false);
  });
});
