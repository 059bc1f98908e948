/**
 * The seeded generator FaultServer uses: tests that draw at random take a seed, print it, and
 * can replay a failing run from it.
 */
export { prng } from '../../src/testing/random.js';
