// The source of a spawn helper: a small node process that forks the runner's task processes, so
// that the fork and libuv's wait for exec (about 1.5 ms per spawn, 60 % of a spawn-bound runner's
// main thread) block the helper instead of the runner. Plain CommonJS in a string, run with
// `node -e`: it must not depend on tsx or on where the bundler put the runner's files.
import { FRAME, FRAME_HEADER_BYTES } from './spawn-frames.ts';

/**
 * Output bytes of one child in flight to the runner before the helper stops reading its pipes,
 * so a task that prints faster than the runner can take stays blocked on its own pipe (as it
 * did when the runner read the pipe itself) instead of filling either process's memory.
 */
export const HELPER_WINDOW_BYTES = 1024 * 1024;

/** The channel to the runner is fd 3, a socket pair; fd 1 is not used (a pipe there writes synchronously). */
export const SPAWN_HELPER_SCRIPT = `'use strict';
const { spawn } = require('node:child_process');
const { Socket } = require('node:net');
const F = ${JSON.stringify(FRAME)};
const HEADER = ${FRAME_HEADER_BYTES};
const WINDOW = ${HELPER_WINDOW_BYTES};
const channel = new Socket({ fd: 3, readable: true, writable: true });
const children = new Map();

function send(type, id, payload) {
  const head = Buffer.allocUnsafe(HEADER);
  head.writeUInt32LE(payload ? payload.length : 0, 0);
  head[4] = type;
  head.writeUInt32LE(id, 5);
  channel.cork();
  channel.write(head);
  if (payload && payload.length > 0) channel.write(payload);
  channel.uncork();
}

function sendJson(type, id, value) {
  send(type, id, Buffer.from(JSON.stringify(value)));
}

function fail(id, err) {
  sendJson(F.failed, id, { code: err && err.code, message: err instanceof Error ? err.message : String(err) });
}

function launch(req) {
  let child;
  try {
    child = spawn(req.file, req.args, { cwd: req.cwd, env: req.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return fail(req.id, err);
  }
  if (child.pid === undefined) return void child.once('error', (err) => fail(req.id, err));
  child.on('error', () => {});
  const entry = { child, unacked: 0, paused: false };
  children.set(req.id, entry);
  sendJson(F.started, req.id, { pid: child.pid });
  child.stdout.on('data', (bytes) => relay(entry, req.id, F.stdout, bytes));
  child.stderr.on('data', (bytes) => relay(entry, req.id, F.stderr, bytes));
  child.once('exit', (code, signal) => sendJson(F.exited, req.id, { code, signal }));
  child.once('close', () => {
    children.delete(req.id);
    send(F.closed, req.id);
  });
}

function relay(entry, id, type, bytes) {
  send(type, id, bytes);
  entry.unacked += bytes.length;
  if (entry.unacked < WINDOW || entry.paused) return;
  entry.paused = true;
  entry.child.stdout.pause();
  entry.child.stderr.pause();
}

function ack(entry, n) {
  entry.unacked -= n;
  if (!entry.paused || entry.unacked > WINDOW / 2) return;
  entry.paused = false;
  entry.child.stdout.resume();
  entry.child.stderr.resume();
}

function handle(req) {
  if (req.t === 'spawn') return launch(req);
  const entry = children.get(req.id);
  if (!entry) return;
  if (req.t === 'ack') return ack(entry, req.n);
  if (req.t === 'release') {
    entry.child.stdout.destroy();
    entry.child.stderr.destroy();
  }
}

let partial = '';
channel.setEncoding('utf8');
channel.on('data', (text) => {
  const lines = (partial + text).split('\\n');
  partial = lines.pop();
  for (const line of lines) handle(JSON.parse(line));
});
// The runner is gone (or dropped us): nothing is left to report to. Its task processes keep
// running, as they would have had the runner itself died; its next start sweeps them by tag.
channel.on('end', () => process.exit(0));
channel.on('error', () => process.exit(0));
send(F.ready, 0);
`;
