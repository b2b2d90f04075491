// The channel to a spawn helper: a connected pair of unix sockets, one end for the runner and one
// for the helper's fd 3. The runner makes the pair itself (it listens on a private path and
// connects to it) because only a socket it creates can read into one reused buffer (net's
// `onread`): a pipe from child_process allocates a fresh 64 KiB buffer per read, so a task that
// prints 1 GiB left 1 GiB of short-lived buffers to the garbage collector and malloc, which
// pushed the runner's peak RSS to idle + ~100 MiB.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The most one read takes in; as much as a pipe read of the helper's, which made the frames. */
export const CHANNEL_READ_BYTES = 64 * 1024;

export interface ChannelPair {
  /** The runner's end: each read goes to `onRead`, a view of a buffer the next read overwrites. */
  ours: Socket;
  /** The helper's end: hand it to the helper's spawn (stdio), then destroy this copy. */
  theirs: Socket;
}

/**
 * Connects a pair through a socket file in a fresh 0700 directory (so no other user can connect
 * first), and removes both once connected.
 * @example const { ours, theirs } = await openChannelPair((bytes) => reader.push(bytes));
 */
export async function openChannelPair(onRead: (bytes: Buffer) => void): Promise<ChannelPair> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-helper-'));
  // Paused: this end is the helper's; nothing here may read what the runner sends it.
  const server = createServer({ pauseOnConnect: true });
  let ours: Socket | undefined;
  try {
    const path = join(dir, 'channel');
    server.listen(path);
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    accepted.catch(() => undefined); // a failed connect below is the error to report
    const buffer = Buffer.allocUnsafe(CHANNEL_READ_BYTES);
    ours = connect({
      path,
      onread: {
        buffer,
        callback: (size) => {
          onRead(buffer.subarray(0, size));
          return true; // keep reading: flow control is the helper's window, not this socket's
        },
      },
    });
    await once(ours, 'connect');
    const [theirs] = await accepted;
    return { ours, theirs };
  } catch (err) {
    ours?.destroy();
    throw err;
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
