// A starting server's callback dispatcher takes over claims a previous process left only when no
// other server shares the store: on a shared store a claim may be a live replica's delivery.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';
import { CallbackDispatcher } from '../../src/server/callbacks/callback-dispatcher.ts';
import { callbackSettings } from '../../src/server/callbacks/callback-config.ts';
import { startTask, SUCCEEDED, T0 } from '../store/conformance/fixtures.ts';

const HOOK = 'http://127.0.0.1:9/hook';

describe('callback claims at dispatcher start', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-callback-claims-'));
    store = openSqliteStore(join(dir, 'outpost.db'));
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A finished task whose webhook callback another server claimed for two minutes. */
  async function claimedElsewhere(): Promise<number> {
    const claim = await startTask(store, { callbacks: [{ kind: 'webhook', target: HOOK }] });
    const ref = { taskId: claim.task.id, leaseToken: claim.leaseToken };
    await store.finishAttempt({ ...ref, outcome: SUCCEEDED, now: T0 + 10 });
    const [id] = await store.findDueCallbacks(T0 + 20, 10);
    const taken = await store.claimCallback({
      id: id!,
      claimToken: 'replica-a',
      now: T0 + 20,
      claimedUntil: T0 + 120_000,
    });
    assert.ok(taken);
    return id!;
  }

  async function startDispatcher(on: Store): Promise<{ posts: string[] }> {
    const posts: string[] = [];
    const dispatcher = new CallbackDispatcher({
      store: on,
      clock: { now: () => T0 + 30 },
      settings: callbackSettings({ webhookSecret: 'webhook-secret-0123456789' }),
      log: { debug: () => undefined, warn: () => undefined, error: () => undefined },
      fetch: (url) => {
        posts.push(url instanceof Request ? url.url : url.toString());
        return Promise.resolve(new Response('', { status: 200 }));
      },
    });
    await dispatcher.start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await dispatcher.stop();
    return { posts };
  }

  it('takes over a claim on a store only it uses (a restart resumes at once)', async () => {
    await claimedElsewhere();
    const { posts } = await startDispatcher(store);
    assert.deepEqual(posts, [HOOK]);
  });

  it('leaves a claim alone on a store other servers share, until it runs out', async () => {
    const id = await claimedElsewhere();
    const shared: Store = Object.assign(Object.create(store) as Store, {
      notifications: { subscribe: () => () => undefined },
    });
    const { posts } = await startDispatcher(shared);
    assert.deepEqual(posts, [], 'the live claim of another server is not posted again');
    const stolen = await store.claimCallback({
      id,
      claimToken: 'replica-b',
      now: T0 + 40,
      claimedUntil: T0 + 160_000,
    });
    assert.equal(stolen, undefined, 'the claim still holds');
  });
});
