// The Store conformance suite: one set of behaviours every backend must show. A backend's test
// file calls runStoreConformance with a function that opens a store on an empty database.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe } from 'node:test';
import type { Store } from '../../src/store/types.ts';
import { describeCallbacks } from './conformance/callbacks.ts';
import { describeClaims } from './conformance/claims.ts';
import { describeEvents } from './conformance/events.ts';
import { describeRetention } from './conformance/retention.ts';
import { describeSchedules } from './conformance/schedules.ts';
import { describeOutput } from './conformance/output.ts';
import { describeLeases } from './conformance/leases.ts';
import { describeHolds } from './conformance/holds.ts';
import { describeListing } from './conformance/listing.ts';
import { describeRegistry } from './conformance/registry.ts';
import { describeRouting } from './conformance/routing.ts';
import { describeSessions } from './conformance/sessions.ts';
import { describeTasks } from './conformance/tasks.ts';

/**
 * Registers the suite under `name`. `open` must return a store on an empty database; each test
 * gets a fresh one, migrated, and closes it afterwards. Times are fixed, so nothing sleeps.
 */
export function runStoreConformance(name: string, open: () => Promise<Store>): void {
  describe(`${name} store conformance`, () => {
    let current: Store | undefined;
    beforeEach(async () => {
      current = await open();
      await current.migrate();
    });
    afterEach(async () => {
      await current?.close();
      current = undefined;
    });
    const store = (): Store => {
      assert.ok(current, 'no store is open');
      return current;
    };
    describeTasks(store);
    describeListing(store);
    describeClaims(store);
    describeLeases(store);
    describeHolds(store);
    describeRegistry(store);
    describeRouting(store);
    describeEvents(store);
    describeRetention(store);
    describeOutput(store);
    describeCallbacks(store);
    describeSessions(store);
    describeSchedules(store);
  });
}
