// Runs the Store conformance suite on PostgreSQL when TEST_DATABASE_URL names a throwaway database;
// otherwise the suite is skipped with the reason printed by the test reporter.
import { describe, it } from 'node:test';

const url = process.env.TEST_DATABASE_URL;

describe('postgres store conformance', () => {
  if (url === undefined || url === '') {
    it(
      'runs the store conformance suite',
      { skip: 'TEST_DATABASE_URL not set; set it to a throwaway PostgreSQL database to run it' },
      () => {},
    );
    return;
  }
  // The hook for issue 7: replace this skip with runStoreConformance from ./conformance.ts, opening
  // the PostgreSQL store on a fresh schema for each test.
  it(
    'runs the store conformance suite',
    { skip: 'PostgreSQL store arrives with issue 7' },
    () => {},
  );
});
