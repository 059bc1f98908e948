/** Test helpers for the pool: fake resources, test-controlled creates, a fake clock. */
import { FakeClock } from '../../src/clock.js';
import type { CloseReason, ResourcePoolOptions } from '../../src/pool/resource-pool.js';
import { ResourcePool } from '../../src/pool/resource-pool.js';

/** A fake resource: identity is all the pool cares about. */
export interface Res {
  readonly id: number;
}

/** A create the test resolves or rejects by hand. */
export interface PendingCreate {
  readonly signal: AbortSignal;
  succeed(): Res;
  fail(error: unknown): void;
}

/** Lets every queued promise callback run. */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Settles a promise into a value the test can inspect synchronously after flush(). */
export function track<T>(promise: Promise<T>): {
  state: 'pending' | 'ok' | 'err';
  value?: T;
  error?: unknown;
} {
  const out: { state: 'pending' | 'ok' | 'err'; value?: T; error?: unknown } = { state: 'pending' };
  promise.then(
    (value) => {
      out.state = 'ok';
      out.value = value;
    },
    (error: unknown) => {
      out.state = 'err';
      out.error = error;
    },
  );
  return out;
}

/** A pool over fake resources. `manual: true` makes creates wait for the test. */
export function harness(
  options: Omit<Partial<ResourcePoolOptions<Res>>, 'create' | 'destroy'> & {
    manual?: boolean;
  } = {},
) {
  const { manual = false, ...rest } = options;
  const clock = new FakeClock();
  const destroyed: Array<[number, CloseReason]> = [];
  const creates: PendingCreate[] = [];
  let nextId = 1;
  const pool = new ResourcePool<Res>({
    clock,
    ...rest,
    create: (signal) => {
      if (!manual) return Promise.resolve({ id: nextId++ });
      return new Promise<Res>((resolve, reject) => {
        const entry: PendingCreate = {
          signal,
          succeed: () => {
            creates.splice(creates.indexOf(entry), 1);
            const r = { id: nextId++ };
            resolve(r);
            return r;
          },
          fail: (error) => {
            creates.splice(creates.indexOf(entry), 1);
            reject(error);
          },
        };
        creates.push(entry);
      });
    },
    destroy: (r, reason) => {
      destroyed.push([r.id, reason]);
    },
  });
  return { pool, clock, destroyed, creates };
}
