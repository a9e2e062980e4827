/**
 * A small run of the fuzz properties in every test run (the million-input run is
 * `npm run fuzz`, see docs/testing.md). A fixed seed per target keeps CI reproducible; a
 * failure prints the counterexample and the seed to replay it.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { TARGETS } from '../../fuzz/properties.js';

const RUNS: Record<keyof typeof TARGETS, number> = {
  'nar-parser': 3000,
  narinfo: 3000,
  listing: 2000,
  realisation: 3000,
  verifier: 500,
};

describe('fuzzing (small run)', () => {
  for (const [name, property] of Object.entries(TARGETS) as Array<[keyof typeof TARGETS, (typeof TARGETS)[keyof typeof TARGETS]]>) {
    it(`${name}: ${RUNS[name]} generated inputs, no crash, nothing non-canonical accepted`, async () => {
      await fc.assert(property as fc.IAsyncProperty<unknown[]>, { numRuns: RUNS[name], seed: 16 });
    }, 300_000);
  }
});
