import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WaiterQueue } from '../../src/pool/waiter-queue.js';

test('WaiterQueue: FIFO, skips settled items, counts only live ones', () => {
  const q = new WaiterQueue<{ id: number; settled: boolean }>();
  const items = Array.from({ length: 5 }, (_, id) => ({ id, settled: false }));
  for (const item of items) q.push(item);
  assert.equal(q.size, 5);
  items[0]!.settled = true;
  q.cancelled();
  items[2]!.settled = true;
  q.cancelled();
  assert.equal(q.size, 3);
  assert.equal(q.find((i) => i.id > 2)?.id, 3);
  assert.equal(q.take()?.id, 1);
  assert.equal(q.take()?.id, 3);
  assert.equal(q.take()?.id, 4);
  assert.equal(q.take(), undefined);
  assert.equal(q.size, 0);
  assert.throws(() => q.cancelled(), /underflow/);
});

test('WaiterQueue: stays FIFO across compaction', () => {
  const q = new WaiterQueue<{ id: number; settled: boolean }>();
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 100; i++) q.push({ id: next++, settled: false });
    for (let i = 0; i < 90; i++) assert.equal(q.take()?.id, expected++);
  }
  assert.equal(q.size, 500);
  while (q.size > 0) assert.equal(q.take()?.id, expected++);
});

test('WaiterQueue: takeFirst takes the oldest live match and keeps the rest in order', () => {
  const q = new WaiterQueue<{ id: number; settled: boolean; fresh: boolean }>();
  const items = Array.from({ length: 6 }, (_, id) => ({ id, settled: false, fresh: id < 2 }));
  for (const item of items) q.push(item);
  items[2]!.settled = true;
  q.cancelled();
  // The head does not match: a hole is left in the middle, and the size drops by one.
  assert.equal(q.takeFirst((i) => !i.fresh)?.id, 3);
  assert.equal(q.size, 4);
  assert.equal(q.find((i) => !i.fresh)?.id, 4);
  // The head matches: the same as take().
  assert.equal(q.takeFirst((i) => i.fresh)?.id, 0);
  assert.equal(
    q.takeFirst((i) => i.id > 9),
    undefined,
  );
  assert.equal(q.size, 3);
  assert.deepEqual([q.take()?.id, q.take()?.id, q.take()?.id, q.take()], [1, 4, 5, undefined]);
  assert.equal(q.size, 0);
});
