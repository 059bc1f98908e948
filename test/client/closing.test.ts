/**
 * Closing with a deadline on its own: when the destroy comes, with what reason, and which
 * deadlines are none at all.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { closeTimedOut, closeWithin } from '../../src/client/closing.js';
import { InvalidArgumentError, PoolClosedError } from '../../src/index.js';

/** A close that ends only when destroyed, and records what happened. */
function closable() {
  const log: string[] = [];
  let finish!: () => void;
  const closed = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return {
    log,
    close: () => {
      log.push('close');
      return closed;
    },
    destroy: (reason: Error) => {
      log.push(`destroy: ${reason.message}`);
      finish();
      return closed;
    },
    finish,
  };
}

describe('closeWithin', () => {
  test('without a timeout it waits for the close, however long', async () => {
    const c = closable();
    const done = closeWithin(undefined, c.close, c.destroy);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(c.log, ['close']);
    c.finish();
    await done;
    assert.deepEqual(c.log, ['close']);
  });

  test('a close that ends in time is not destroyed', async () => {
    const c = closable();
    const done = closeWithin(1000, c.close, c.destroy);
    c.finish();
    await done;
    assert.deepEqual(c.log, ['close']);
  });

  test('a close still busy at the deadline is destroyed, with a PoolClosedError saying so', async () => {
    const c = closable();
    const started = performance.now();
    await closeWithin(20, c.close, c.destroy);
    assert.ok(performance.now() - started >= 15);
    assert.deepEqual(c.log, [
      'close',
      'destroy: close() ran out of time after 20 ms; busy connections destroyed',
    ]);
    assert.ok(closeTimedOut(20) instanceof PoolClosedError);
  });

  for (const timeout of [Number.POSITIVE_INFINITY, 2 ** 31]) {
    test(`a timeout of ${timeout} ms, beyond a timer, is no deadline`, async () => {
      const c = closable();
      const done = closeWithin(timeout, c.close, c.destroy);
      c.finish();
      await done;
      assert.deepEqual(c.log, ['close']);
    });
  }

  for (const timeout of [-1, Number.NaN, '10', null]) {
    test(`a timeout of ${String(timeout)} is refused before anything is closed`, () => {
      const c = closable();
      assert.throws(() => closeWithin(timeout, c.close, c.destroy), InvalidArgumentError);
      assert.deepEqual(c.log, []);
    });
  }
});
