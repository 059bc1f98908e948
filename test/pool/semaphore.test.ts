import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Semaphore } from '../../src/pool/semaphore.js';

/** Lets queued promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Semaphore (the shared connection budget)', () => {
  test('grants up to max at once, then queues; release hands the permit to the oldest waiter', async () => {
    const semaphore = new Semaphore(2);
    await semaphore.acquire();
    await semaphore.acquire();
    assert.equal(semaphore.held, 2);
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) => semaphore.acquire().then(() => order.push(n)));
    assert.equal(semaphore.waiting, 3);
    semaphore.release();
    await settle();
    assert.deepEqual(order, [1]);
    // A handed-on permit stays held: the count never dips between owners.
    assert.equal(semaphore.held, 2);
    semaphore.release();
    semaphore.release();
    await Promise.all(waits);
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(semaphore.waiting, 0);
    assert.equal(semaphore.held, 2);
  });

  test('a newcomer never overtakes a queued waiter, even when a permit is free for an instant', async () => {
    const semaphore = new Semaphore(1);
    await semaphore.acquire();
    const order: string[] = [];
    const first = semaphore.acquire().then(() => order.push('queued'));
    semaphore.release(); // goes to the queued waiter, not to whoever asks next
    const second = semaphore.acquire().then(() => order.push('newcomer'));
    await first;
    semaphore.release();
    await second;
    assert.deepEqual(order, ['queued', 'newcomer']);
  });

  test('onStarved runs each time an acquire has to wait, and only then', async () => {
    let starved = 0;
    const semaphore = new Semaphore(1, () => starved++);
    await semaphore.acquire();
    assert.equal(starved, 0);
    const waiting = semaphore.acquire();
    assert.equal(starved, 1);
    semaphore.release();
    await waiting;
    assert.equal(starved, 1);
  });

  test('an abort rejects with the reason, leaves the queue, and its permit goes to the next', async () => {
    const semaphore = new Semaphore(1);
    await semaphore.acquire();
    const controller = new AbortController();
    const aborted = semaphore.acquire(controller.signal);
    const next = semaphore.acquire();
    const reason = new Error('gave up');
    controller.abort(reason);
    await assert.rejects(aborted, (error) => error === reason);
    assert.equal(semaphore.waiting, 1);
    semaphore.release();
    await next;
    assert.equal(semaphore.held, 1);
  });

  test('an already-aborted signal is refused at once, holding nothing', async () => {
    const semaphore = new Semaphore(1);
    await assert.rejects(semaphore.acquire(AbortSignal.abort(new Error('late'))), /late/);
    assert.equal(semaphore.held, 0);
    assert.equal(semaphore.waiting, 0);
  });

  test('releasing more than was acquired is a loud internal error', () => {
    assert.throws(
      () => new Semaphore(1).release(),
      /internal: semaphore released more than acquired/,
    );
  });

  test('model: held never exceeds max, and every acquire is granted once in FIFO order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.constantFrom('acquire', 'release', 'abort'), { maxLength: 40 }),
        async (max, steps) => {
          const semaphore = new Semaphore(max);
          const granted: number[] = [];
          const pending: Array<{ id: number; controller: AbortController }> = [];
          let holders = 0;
          let next = 0;
          for (const step of steps) {
            if (step === 'acquire') {
              const id = next++;
              const controller = new AbortController();
              pending.push({ id, controller });
              semaphore.acquire(controller.signal).then(
                () => {
                  granted.push(id);
                  holders++;
                },
                () => {},
              );
            } else if (step === 'release' && holders > 0) {
              holders--;
              semaphore.release();
            } else if (step === 'abort' && pending.length > 0) {
              pending[pending.length - 1]!.controller.abort();
            }
            await settle();
            assert.ok(semaphore.held <= max, `held ${semaphore.held} > ${max}`);
            assert.equal(semaphore.held, holders);
          }
          assert.deepEqual(
            granted,
            [...granted].sort((a, b) => a - b),
            'granted out of order',
          );
        },
      ),
      { numRuns: 100 },
    );
  });
});
