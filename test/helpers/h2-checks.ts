/** Small checks the HTTP/2 fault suites share. */
import type { ConnectionPool } from '../../src/index.js';
import { eventually } from './servers.js';

/** Settles `promise` as a value or an error, never a rejection. */
export function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** Nothing leased, waiting or streaming once the dust settled. */
export async function assertClean(pool: ConnectionPool): Promise<void> {
  await eventually(
    () => {
      const s = pool.stats();
      return s.leased === 0 && s.waiting === 0 && s.streams === 0;
    },
    3000,
    'the pool to have nothing leased',
  );
}
