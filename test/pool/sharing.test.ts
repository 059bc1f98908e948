/**
 * The pool's `capacity` option: one resource lent to several holders at once (HTTP/2
 * streams on one session), with room handed out FIFO, one-way closing, and capacity that
 * changes over a resource's life.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AcquireTimeoutError,
  EmptyPoolError,
  InvalidArgumentError,
  InvalidStateError,
  PoolClosedError,
  QueueFullError,
} from '../../src/errors.js';
import { ResourcePool } from '../../src/pool/resource-pool.js';
import { flush, harness, type Res, track } from './helpers.js';

/** A harness whose resources have capacity `initial` until the test sets theirs in `capacity`. */
function sharing(
  initial: number,
  options: Parameters<typeof harness>[0] = {},
): ReturnType<typeof harness> & { capacity: Map<number, number>; set(r: Res, n: number): void } {
  const capacity = new Map<number, number>();
  const h = harness({ ...options, capacity: (r) => capacity.get(r.id) ?? initial });
  return {
    ...h,
    capacity,
    set(r, n) {
      capacity.set(r.id, n);
      h.pool.capacityChanged(r);
    },
  };
}

describe('sharing: lending', () => {
  test('a resource is lent to up to `capacity` holders before another is created', async () => {
    const { pool } = sharing(3, { maxSize: 2 });
    const held = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    assert.deepEqual(
      held.map((r) => r.id),
      [1, 1, 1],
    );
    const fourth = await pool.acquire();
    assert.equal(fourth.id, 2);
    const s = pool.stats();
    assert.deepEqual(
      [s.open, s.leased, s.holders, s.idle, s.created, s.acquired],
      [2, 2, 4, 0, 2, 4],
    );
  });

  test('without capacity, stats() has no holders field; with it, holders counts every hold', async () => {
    const plain = harness();
    await plain.pool.acquire();
    assert.equal('holders' in plain.pool.stats(), false);
    const { pool } = sharing(2);
    const r = await pool.acquire();
    await pool.acquire();
    assert.equal(pool.stats().holders, 2);
    pool.release(r);
    assert.deepEqual([pool.stats().holders, pool.stats().leased], [1, 1]);
  });

  test('a held resource with room is preferred to an idle one', async () => {
    const { pool, capacity } = sharing(2, { maxSize: 2 });
    const a = await pool.acquire();
    await pool.acquire(); // a again: full
    const b = await pool.acquire();
    assert.notEqual(a, b);
    pool.release(b); // b idle
    pool.release(a); // a: one holder, room for one
    assert.equal(pool.stats().idle, 1);
    assert.equal(await pool.acquire(), a);
    // Full again: now the idle one.
    assert.equal(await pool.acquire(), b);
    assert.equal(capacity.size, 0);
  });

  test('room goes to the resource that most recently gained it: one fills before the next', async () => {
    const { pool } = sharing(3, { maxSize: 2 });
    const holds = await Promise.all(Array.from({ length: 6 }, () => pool.acquire()));
    const [a, b] = [holds[0]!, holds[3]!];
    assert.deepEqual(
      holds.map((r) => r.id),
      [a.id, a.id, a.id, b.id, b.id, b.id],
    );
    pool.release(a); // a gains room
    pool.release(b); // b gains room after: on top
    pool.release(a); // a already has room: keeps its place below b
    assert.equal(await pool.acquire(), b);
    assert.equal(await pool.acquire(), a);
    assert.equal(await pool.acquire(), a);
    assert.equal(pool.stats().holders, 6);
    await assert.rejects(pool.acquire({ blocking: false }), EmptyPoolError);
  });

  test('tryAcquireIdle shares a held resource with room, as acquire would', async () => {
    const { pool } = sharing(2);
    const a = await pool.acquire();
    assert.equal(pool.tryAcquireIdle(), a);
    assert.equal(pool.tryAcquireIdle(), undefined, 'full, and nothing idle');
    assert.equal(pool.stats().holders, 2);
  });

  test('capacity 1 lends exclusively, as without the option', async () => {
    const { pool } = sharing(1, { maxSize: 1 });
    const a = await pool.acquire();
    const w = track(pool.acquire());
    await flush();
    assert.equal(w.state, 'pending');
    pool.release(a);
    await flush();
    assert.equal(w.value, a);
    assert.equal(pool.stats().holders, 1);
  });

  test('bad capacity answers count as 0, fractions round down; a non-function is refused', async () => {
    let answer: () => number = () => 2.9;
    const { pool } = harness({ capacity: () => answer() });
    const a = await pool.acquire();
    assert.equal(await pool.acquire(), a);
    assert.notEqual(await pool.acquire(), a, '2.9 is 2');
    for (const bad of [
      () => Number.NaN,
      () => -1,
      () => '3' as unknown as number,
      () => {
        throw new Error('capacity failed');
      },
    ]) {
      answer = bad;
      const w = track(pool.acquire({ fresh: true }));
      await flush();
      assert.ok(w.error instanceof InvalidStateError, 'a new resource at capacity 0');
    }
    assert.throws(() => harness({ capacity: 2 as unknown as () => number }), InvalidArgumentError);
  });
});

describe('sharing: release and the last holder', () => {
  test('a resource goes idle (timer, keepIdle) only when its last holder releases it', async () => {
    const asked: number[] = [];
    const { pool, clock, destroyed } = sharing(2, {
      idleTimeout: 100,
      keepIdle: (r) => {
        asked.push(r.id);
        return true;
      },
    });
    const a = await pool.acquire();
    await pool.acquire();
    pool.release(a);
    assert.deepEqual([pool.stats().idle, clock.pending, asked.length], [0, 0, 0]);
    pool.release(a);
    assert.deepEqual([pool.stats().idle, clock.pending, asked], [1, 1, [a.id]]);
    assert.equal(pool.stats().holders, 0);
    clock.advance(100);
    assert.deepEqual(destroyed, [[a.id, 'idle-timeout']]);
  });

  test('room freed by a release goes to the oldest waiters, FIFO', async () => {
    const { pool } = sharing(2, { maxSize: 1 });
    const a = await pool.acquire();
    await pool.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => pool.acquire().then((r) => order.push(n) && r));
    pool.release(a);
    pool.release(a);
    await flush();
    assert.deepEqual(order, [1, 2]);
    assert.equal(pool.stats().waiting, 1);
    pool.release(a);
    await Promise.all(waiters);
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(pool.stats().holders, 2);
  });

  test('reusable:false from one holder stops lending; destroyed only as the last holder leaves', async () => {
    const { pool, destroyed } = sharing(3, { maxSize: 1 });
    const a = await pool.acquire();
    await pool.acquire();
    await pool.acquire();
    pool.release(a, { reusable: false });
    const w = track(pool.acquire());
    await flush();
    assert.equal(w.state, 'pending', 'a closing resource is not lent, even with room');
    pool.release(a); // a plain release does not undo it
    assert.deepEqual(destroyed, []);
    pool.release(a);
    assert.deepEqual(destroyed, [[a.id, 'not-reusable']]);
    await flush();
    assert.equal(w.state, 'ok');
    assert.notEqual(w.value, a);
  });

  test('expiresAt: a passed one retires the resource, a later one ends lending when it passes', async () => {
    const { pool, clock, destroyed } = sharing(4, { maxSize: 3 });
    const a = await pool.acquire();
    await pool.acquire();
    await pool.acquire();
    pool.release(a, { expiresAt: 50 });
    assert.equal(await pool.acquire(), a, 'still before 50');
    clock.advance(50);
    const b = await pool.acquire();
    assert.notEqual(b, a, 'past the earliest expiresAt of its holders: not lent again');
    assert.equal(await pool.acquire(), b);
    pool.release(b, { expiresAt: clock.now() });
    assert.deepEqual(destroyed, [], 'b still has a holder');
    const c = await pool.acquire();
    assert.ok(c !== a && c !== b, 'b is not lent again either');
    for (let i = 0; i < 3; i++) pool.release(a);
    assert.deepEqual(destroyed, [[a.id, 'expired']]);
  });

  test('the earliest expiresAt of its holders bounds the idle deadline after the last leaves', async () => {
    const { pool, clock, destroyed } = sharing(2, { idleTimeout: 1000 });
    const a = await pool.acquire();
    await pool.acquire();
    pool.release(a, { expiresAt: 30 });
    pool.release(a);
    assert.equal(pool.stats().idle, 1);
    clock.advance(30);
    assert.deepEqual(destroyed, [[a.id, 'expired']]);
  });

  test('discard ends one hold and retires the resource; the first verdict names the destroy', async () => {
    const { pool, destroyed } = sharing(3);
    const a = await pool.acquire();
    await pool.acquire();
    pool.discard(a);
    assert.deepEqual(destroyed, [], 'never destroyed under another holder');
    const b = await pool.acquire();
    assert.notEqual(b, a);
    pool.discard(a);
    assert.deepEqual(destroyed, [[a.id, 'discarded']]);
    assert.equal(await pool.acquire(), b);
    pool.release(b, { reusable: false });
    pool.discard(b);
    assert.deepEqual(destroyed.at(-1), [b.id, 'not-reusable']);
    assert.throws(() => pool.discard(b), InvalidStateError);
    assert.throws(() => pool.release(b), InvalidStateError);
  });

  test('evict leaves a held shared resource alone; an idle one is destroyed', async () => {
    const { pool, destroyed } = sharing(2);
    const a = await pool.acquire();
    assert.equal(pool.evict(a), false);
    assert.equal(await pool.acquire(), a, 'still lent');
    pool.release(a);
    pool.release(a);
    assert.equal(pool.evict(a), true);
    assert.deepEqual(destroyed, [[a.id, 'unhealthy']]);
  });

  test('a held resource found unhealthy is not shared, and goes as its last holder leaves', async () => {
    const sick = new Set<number>();
    const { pool, destroyed } = sharing(3, { isHealthy: (r) => !sick.has(r.id) });
    const a = await pool.acquire();
    sick.add(a.id);
    const b = await pool.acquire();
    assert.notEqual(b, a);
    sick.delete(a.id);
    assert.equal(await pool.acquire(), b, 'retired for good, even if healthy again');
    pool.release(a);
    assert.deepEqual(destroyed, [[a.id, 'unhealthy']]);
  });
});

describe('sharing: capacity changes', () => {
  test('raising capacity hands the room to waiters in order; lowering it takes nothing away', async () => {
    const { pool, set } = sharing(1, { maxSize: 1 });
    const a = await pool.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => pool.acquire().then((r) => order.push(n) && r));
    set(a, 3);
    await flush();
    assert.deepEqual(order, [1, 2]);
    set(a, 1); // three holders, capacity 1: nobody is dropped, nobody more is let in
    pool.release(a);
    pool.release(a);
    await flush();
    assert.deepEqual(order, [1, 2]);
    assert.equal(pool.stats().holders, 1);
    pool.release(a); // down to none: lent to the waiter as an unshared resource would be
    await Promise.all(waiters);
    assert.deepEqual(order, [1, 2, 3]);
  });

  test('capacity 0 lends no more without destroying; unheld, it waits idle until raised', async () => {
    const { pool, set, destroyed } = sharing(2, { maxSize: 1 });
    const a = await pool.acquire();
    set(a, 0);
    const w = track(pool.acquire());
    await flush();
    assert.equal(w.state, 'pending');
    pool.release(a);
    assert.deepEqual(destroyed, []);
    assert.deepEqual([pool.stats().idle, pool.stats().open], [1, 1]);
    await flush();
    assert.equal(w.state, 'pending', 'parked at capacity 0, it keeps its slot');
    assert.equal(pool.tryAcquireIdle(), undefined);
    set(a, 2);
    await flush();
    assert.equal(w.value, a);
    assert.equal(pool.stats().idle, 0);
    // A parked resource's capacity is also read when it is next taken from idle.
    pool.release(a);
    set(a, 0);
    assert.equal(pool.tryAcquireIdle(), undefined);
    assert.equal(pool.stats().idle, 1);
  });

  test('a parked resource whose capacity rose unannounced serves older waiters before a newcomer', async () => {
    const { pool, set, capacity } = sharing(2, { maxSize: 1 });
    const a = await pool.acquire();
    set(a, 0);
    pool.release(a);
    const order: string[] = [];
    const older = pool.acquire().then((r) => order.push('older') && r);
    await flush();
    capacity.set(a.id, 2); // no capacityChanged: the pool learns it as the next acquire looks
    const newcomer = pool.acquire().then((r) => order.push('newcomer') && r);
    assert.deepEqual(await Promise.all([older, newcomer]), [a, a]);
    assert.deepEqual(order, ['older', 'newcomer']);
  });

  test('a parked resource found unhealthy as its capacity rises is destroyed, and its slot serves the waiter', async () => {
    const sick = new Set<number>();
    const { pool, set, destroyed } = sharing(2, {
      maxSize: 1,
      isHealthy: (r) => !sick.has(r.id),
    });
    const a = await pool.acquire();
    set(a, 0);
    pool.release(a);
    const w = track(pool.acquire());
    sick.add(a.id);
    set(a, 2);
    await flush();
    assert.deepEqual(destroyed, [[a.id, 'unhealthy']]);
    assert.ok(w.value !== undefined && w.value !== a);
  });

  test('a parked resource that idles out frees its slot for a waiter', async () => {
    const { pool, set, clock, destroyed } = sharing(2, { maxSize: 1, idleTimeout: 100 });
    const a = await pool.acquire();
    set(a, 0);
    pool.release(a);
    const w = track(pool.acquire());
    await flush();
    assert.equal(w.state, 'pending');
    clock.advance(100);
    await flush();
    assert.deepEqual(destroyed, [[a.id, 'idle-timeout']]);
    assert.equal(w.state, 'ok');
    assert.notEqual(w.value, a);
  });

  test('a new resource with capacity 0 goes idle and rejects the acquire it was made for', async () => {
    let made = 0;
    const pool = new ResourcePool<Res>({
      maxSize: Number.POSITIVE_INFINITY,
      create: async () => ({ id: ++made }),
      destroy: () => {},
      capacity: () => 0,
    });
    const results = await Promise.allSettled([pool.acquire(), pool.acquire()]);
    await flush();
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(r.reason instanceof InvalidStateError);
    }
    assert.equal(made, 2, 'one create per acquire, no more');
    assert.deepEqual([pool.stats().idle, pool.stats().waiting], [2, 0]);
  });

  test('capacityChanged is a no-op without capacity, after close, and for unknown or retired resources', async () => {
    const plain = harness({ maxSize: 1 });
    const r = await plain.pool.acquire();
    plain.pool.capacityChanged(r);
    assert.equal(plain.pool.stats().leased, 1);
    const { pool, set, destroyed } = sharing(1, { maxSize: 1 });
    set({ id: 42 }, 5);
    const a = await pool.acquire();
    pool.release(a, { reusable: false }); // last holder: gone
    set(a, 5);
    const b = await pool.acquire();
    const w = track(pool.acquire());
    const closing = pool.close();
    set(b, 5);
    await flush();
    assert.ok(w.error instanceof PoolClosedError);
    assert.equal(pool.stats().holders, 1);
    pool.release(b);
    await closing;
    assert.deepEqual(destroyed, [
      [a.id, 'not-reusable'],
      [b.id, 'pool-closed'],
    ]);
  });
});

describe('sharing: waiting', () => {
  test('blocking:false shares when there is room, and rejects only when every resource is full', async () => {
    const { pool } = sharing(2, { maxSize: 1 });
    const a = await pool.acquire({ blocking: false });
    assert.equal(await pool.acquire({ blocking: false }), a);
    await assert.rejects(pool.acquire({ blocking: false }), EmptyPoolError);
  });

  test('timeouts, aborts and maxWaiting: room skips waiters that gave up', async () => {
    const { pool, clock } = sharing(2, { maxSize: 1, maxWaiting: 2 });
    const a = await pool.acquire();
    await pool.acquire();
    const timed = track(pool.acquire({ timeout: 10 }));
    const ac = new AbortController();
    const aborted = track(pool.acquire({ signal: ac.signal }));
    await assert.rejects(pool.acquire(), QueueFullError);
    clock.advance(10);
    ac.abort(new Error('gave up'));
    await flush();
    assert.ok(timed.error instanceof AcquireTimeoutError);
    assert.equal((aborted.error as Error).message, 'gave up');
    const next = track(pool.acquire());
    pool.release(a);
    await flush();
    assert.equal(next.value, a);
    assert.deepEqual([pool.stats().waiting, pool.stats().holders], [0, 2]);
  });

  test('fresh takes neither room nor idle; room skips a fresh waiter for the plain one behind it', async () => {
    const { pool, destroyed } = sharing(2, { maxSize: 1 });
    const a = await pool.acquire();
    const fresh = track(pool.acquire({ fresh: true }));
    const plain = track(pool.acquire());
    await flush();
    assert.equal(plain.value, a, 'room on a goes past the fresh waiter');
    assert.equal(fresh.state, 'pending');
    pool.release(a);
    pool.release(a);
    // The last holder left with a fresh waiter first in line: the slot goes to a new resource.
    assert.deepEqual(destroyed, [[a.id, 'not-reusable']]);
    await flush();
    assert.ok(fresh.value !== undefined && fresh.value !== a);
    // The new resource is shared with plain acquires afterwards, never with fresh ones.
    assert.equal(await pool.acquire(), fresh.value);
    const again = track(pool.acquire({ fresh: true }));
    await flush();
    assert.equal(again.state, 'pending');
  });

  test('close: waiters rejected, no more sharing, a shared resource goes when its last holder does', async () => {
    const { pool, destroyed } = sharing(3);
    const a = await pool.acquire();
    await pool.acquire();
    const done = track(pool.close());
    await assert.rejects(pool.acquire(), PoolClosedError);
    assert.equal(pool.tryAcquireIdle(), undefined);
    pool.release(a);
    await flush();
    assert.deepEqual([destroyed.length, done.state], [0, 'pending']);
    pool.release(a);
    await flush();
    assert.deepEqual(destroyed, [[a.id, 'pool-closed']]);
    assert.equal(done.state, 'ok');
  });

  test('destroy: a shared resource is destroyed once, and every holder release after is a no-op', async () => {
    const { pool, destroyed } = sharing(3);
    const a = await pool.acquire();
    await pool.acquire();
    await pool.destroy();
    assert.deepEqual(destroyed, [[a.id, 'pool-destroyed']]);
    pool.release(a);
    pool.discard(a);
    pool.release(a);
    assert.deepEqual([pool.stats().holders, pool.stats().open, destroyed.length], [0, 0, 1]);
  });
});

describe('sharing: single-flight creation', () => {
  test('once a resource was made, a burst waits for creates that can serve it, not one each', async () => {
    const { pool, creates } = sharing(3, { manual: true, maxSize: 10 });
    const first = pool.acquire();
    assert.equal(creates.length, 1);
    const a = creates[0]!.succeed();
    assert.equal(await first, a);
    for (let i = 0; i < 2; i++) assert.equal(await pool.acquire(), a);
    // a is full; seven more acquires: each create is counted as serving three.
    const burst = Array.from({ length: 7 }, () => track(pool.acquire()));
    assert.equal(creates.length, 3);
    creates[0]!.succeed();
    await flush();
    assert.deepEqual(
      burst.map((b) => b.state),
      ['ok', 'ok', 'ok', 'pending', 'pending', 'pending', 'pending'],
    );
    creates[0]!.succeed();
    creates[0]!.succeed();
    await flush();
    assert.ok(burst.every((b) => b.state === 'ok'));
    assert.equal(pool.stats().created, 4);
  });

  test('a failed create turns single-flight off: the rest get a create each', async () => {
    const { pool, creates } = sharing(4, { manual: true });
    const first = pool.acquire();
    creates[0]!.succeed();
    const a = await first;
    for (let i = 0; i < 3; i++) await pool.acquire();
    const burst = Array.from({ length: 4 }, () => track(pool.acquire()));
    assert.equal(creates.length, 1);
    creates[0]!.fail(new Error('refused'));
    await flush();
    assert.equal(burst[0]!.state, 'err');
    assert.equal(creates.length, 3, 'one create per remaining waiter');
    assert.equal(pool.stats().holders, 4);
    pool.release(a);
    await flush();
    assert.equal(burst[1]!.value, a, 'room still goes to the oldest waiter');
  });

  test('fresh and non-blocking acquires get a create of their own even when one in flight could cover them', async () => {
    const { pool, creates } = sharing(4, { manual: true });
    const first = pool.acquire();
    creates[0]!.succeed();
    await first;
    for (let i = 0; i < 3; i++) await pool.acquire();
    track(pool.acquire());
    assert.equal(creates.length, 1);
    track(pool.acquire());
    assert.equal(creates.length, 1, 'covered');
    track(pool.acquire({ fresh: true }));
    assert.equal(creates.length, 2);
    track(pool.acquire({ blocking: false }));
    assert.equal(creates.length, 3);
  });

  test('without the capacity option there is no single-flight: one create per waiter', async () => {
    const { pool, creates } = harness({ manual: true });
    for (let i = 0; i < 3; i++) track(pool.acquire());
    assert.equal(creates.length, 3);
  });
});
