import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, systemClock } from '../src/clock.js';

test('FakeClock: runs due callbacks in time order, including ones scheduled by callbacks', () => {
  const clock = new FakeClock();
  const log: string[] = [];
  clock.schedule(() => log.push(`b@${clock.now()}`), 20);
  clock.schedule(() => {
    log.push(`a@${clock.now()}`);
    clock.schedule(() => log.push(`c@${clock.now()}`), 5);
  }, 10);
  const cancelled = clock.schedule(() => log.push('never'), 12);
  cancelled.cancel();
  assert.equal(clock.pending, 2);
  clock.advance(14);
  assert.deepEqual(log, ['a@10']);
  assert.equal(clock.now(), 14);
  assert.equal(clock.pending, 2);
  clock.advance(100);
  assert.deepEqual(log, ['a@10', 'c@15', 'b@20']);
  assert.equal(clock.pending, 0);
  assert.throws(() => clock.advance(-1), RangeError);
});

test('systemClock: fires after the delay, can be cancelled, never fires for Infinity', async () => {
  // systemClock's timers are unref'd; this ref'd one keeps the test's event loop alive meanwhile.
  const keepAlive = setTimeout(() => {}, 1000);
  const start = systemClock.now();
  const fired = await new Promise<number>((resolve) =>
    systemClock.schedule(() => resolve(systemClock.now()), 5),
  );
  assert.ok(fired - start >= 4, `fired after ${fired - start} ms`);
  let late = false;
  systemClock.schedule(() => (late = true), 1).cancel();
  // Beyond Node's 2^31-1 ms cap a plain setTimeout would fire at once; ours must not.
  const huge = systemClock.schedule(() => (late = true), 2 ** 31 + 10);
  systemClock.schedule(() => (late = true), Number.POSITIVE_INFINITY);
  await new Promise((resolve) => setTimeout(resolve, 10));
  huge.cancel();
  clearTimeout(keepAlive);
  assert.equal(late, false);
});
