import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Clock } from '../../src/clock.js';
import {
  AbortError,
  AcquireTimeoutError,
  EmptyPoolError,
  InvalidArgumentError,
  InvalidStateError,
  PoolClosedError,
  QueueFullError,
} from '../../src/errors.js';
import { ResourcePool } from '../../src/pool/resource-pool.js';
import { flush, harness, type Res, track } from './helpers.js';

describe('idle stack', () => {
  test('lends the most recently released resource first (LIFO)', async () => {
    const { pool } = harness();
    const [a, b, c] = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    pool.release(a!);
    pool.release(b!);
    pool.release(c!);
    assert.equal(await pool.acquire(), c);
    assert.equal(await pool.acquire(), b);
    assert.deepEqual(pool.stats(), {
      open: 3,
      idle: 1,
      leased: 2,
      connecting: 0,
      waiting: 0,
      created: 3,
      destroyed: 0,
      createFailed: 0,
      acquired: 5,
      timedOut: 0,
    });
  });

  test('expired and unhealthy entries found at checkout are destroyed and skipped', async () => {
    let now = 0;
    // A clock whose timers never fire: only lazy expiry can catch the stale entries.
    const frozen: Clock = { now: () => now, schedule: () => ({ cancel() {} }) };
    const unhealthy = new Set<number>();
    const { pool, destroyed } = harness({
      clock: frozen,
      idleTimeout: 100,
      isHealthy: (r) => !unhealthy.has(r.id),
    });
    const [a, b, c, d] = await Promise.all([
      pool.acquire(),
      pool.acquire(),
      pool.acquire(),
      pool.acquire(),
    ]);
    pool.release(a!); // deadline 100
    now = 60;
    pool.release(b!); // deadline 160
    pool.release(c!, { expiresAt: 70 });
    pool.release(d!); // deadline 160, but unhealthy
    unhealthy.add(d!.id);
    now = 80;
    assert.equal(await pool.acquire(), b);
    assert.deepEqual(destroyed, [
      [d!.id, 'unhealthy'],
      [c!.id, 'expired'],
    ]);
    now = 100;
    const e = await pool.acquire();
    assert.deepEqual(destroyed.at(-1), [a!.id, 'idle-timeout']);
    assert.notEqual(e, a);
    assert.equal(pool.stats().idle, 0);
  });

  test('keepIdle is asked only as a resource would go idle; false or a throw destroys it and frees its slot', async () => {
    const asked: number[] = [];
    let answer: () => boolean = () => true;
    const { pool, destroyed, creates } = harness({
      maxSize: 1,
      manual: true,
      keepIdle: (r) => {
        asked.push(r.id);
        return answer();
      },
    });
    // Created for a waiter, then released with another waiting: handed over, never idle.
    const first = track(pool.acquire());
    const second = track(pool.acquire());
    const a = creates[0]!.succeed();
    await flush();
    assert.equal(first.value, a);
    pool.release(a);
    await flush();
    assert.equal(second.value, a);
    assert.deepEqual(asked, []);
    // Released with nobody waiting: asked, and kept.
    pool.release(a);
    assert.deepEqual(asked, [a.id]);
    assert.equal(pool.stats().idle, 1);
    // Refused: destroyed, and its slot goes to a create for the next acquire.
    const again = await pool.acquire();
    answer = () => false;
    pool.release(again);
    assert.deepEqual(destroyed, [[a.id, 'not-reusable']]);
    const third = track(pool.acquire());
    const b = creates[0]!.succeed();
    await flush();
    assert.equal(third.value, b);
    // A create whose waiter gave up is asked too; a throw counts as a refusal.
    answer = () => {
      throw new Error('keepIdle failed');
    };
    pool.release(b);
    assert.deepEqual(destroyed.at(-1), [b.id, 'not-reusable']);
    const controller = new AbortController();
    const gaveUp = track(pool.acquire({ signal: controller.signal }));
    controller.abort();
    const c = creates[0]!.succeed();
    await flush();
    assert.equal(gaveUp.state, 'err');
    assert.deepEqual(asked.slice(-2), [b.id, c.id]);
    assert.deepEqual(destroyed.at(-1), [c.id, 'not-reusable']);
    assert.deepEqual({ open: pool.stats().open, idle: pool.stats().idle }, { open: 0, idle: 0 });
    assert.throws(
      () => harness({ keepIdle: 'yes' as unknown as () => boolean }),
      InvalidArgumentError,
    );
  });

  test('one eviction timer, armed only while something is idle', async () => {
    const { pool, clock, destroyed } = harness({ idleTimeout: 100 });
    assert.equal(clock.pending, 0);
    const a = await pool.acquire();
    assert.equal(clock.pending, 0);
    pool.release(a);
    assert.equal(clock.pending, 1);
    assert.equal(await pool.acquire(), a);
    assert.equal(clock.pending, 0);
    const [b, c] = await Promise.all([pool.acquire(), pool.acquire()]);
    pool.release(a);
    clock.advance(50);
    pool.release(b!);
    pool.release(c!);
    assert.equal(clock.pending, 1);
    clock.advance(50);
    assert.deepEqual(destroyed, [[a.id, 'idle-timeout']]);
    assert.equal(clock.pending, 1);
    assert.equal(pool.stats().idle, 2);
    clock.advance(50);
    assert.equal(destroyed.length, 3);
    assert.equal(clock.pending, 0);
    assert.equal(pool.stats().open, 0);
  });

  test('no timer at all with the default idleTimeout (never expire)', async () => {
    const { pool, clock } = harness();
    pool.release(await pool.acquire());
    assert.equal(clock.pending, 0);
  });

  test('expiresAt shortens the idle deadline, even above older entries', async () => {
    const { pool, clock, destroyed } = harness({ idleTimeout: 1000 });
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    pool.release(a!);
    pool.release(b!, { expiresAt: 30 });
    clock.advance(30);
    assert.deepEqual(destroyed, [[b!.id, 'expired']]);
    assert.equal(pool.stats().idle, 1);
    assert.equal(clock.pending, 1);
    clock.advance(970);
    assert.deepEqual(destroyed.at(-1), [a!.id, 'idle-timeout']);
    assert.equal(clock.pending, 0);
  });

  test('a resource released past its expiresAt is destroyed, and a waiter gets a new one', async () => {
    const { pool, clock, destroyed } = harness({ maxSize: 1 });
    const a = await pool.acquire();
    const waiting = track(pool.acquire());
    clock.advance(10);
    pool.release(a, { expiresAt: 10 });
    assert.deepEqual(destroyed, [[a.id, 'expired']]);
    await flush();
    assert.equal(waiting.state, 'ok');
    assert.notEqual(waiting.value, a);
  });

  test('idleTimeout 0 never keeps a resource idle but still hands it to waiters', async () => {
    const { pool, destroyed } = harness({ idleTimeout: 0, maxSize: 1 });
    const a = await pool.acquire();
    const next = pool.acquire();
    pool.release(a);
    assert.equal(await next, a);
    pool.release(a);
    assert.deepEqual(destroyed, [[a.id, 'idle-timeout']]);
  });
});

describe('acquire', () => {
  test('release hands the resource straight to the oldest waiter, in FIFO order', async () => {
    const { pool } = harness({ maxSize: 1 });
    const a = await pool.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      pool.acquire().then((r) => {
        order.push(n);
        return r;
      }),
    );
    assert.equal(pool.stats().waiting, 3);
    for (const w of waiters) {
      pool.release(a);
      assert.equal(pool.stats().idle, 0);
      assert.equal(await w, a);
    }
    assert.deepEqual(order, [1, 2, 3]);
  });

  test('blocking:false rejects with EmptyPoolError only when the pool is full', async () => {
    const { pool } = harness({ maxSize: 1 });
    const a = await pool.acquire({ blocking: false });
    await assert.rejects(pool.acquire({ blocking: false }), EmptyPoolError);
    pool.release(a);
    assert.equal(await pool.acquire({ blocking: false }), a);
  });

  test('times out with AcquireTimeoutError and leaves nothing behind', async () => {
    const { pool, clock } = harness({ maxSize: 1 });
    const a = await pool.acquire();
    const w = track(pool.acquire({ timeout: 50 }));
    clock.advance(49);
    await flush();
    assert.equal(w.state, 'pending');
    clock.advance(1);
    await flush();
    assert.ok(w.error instanceof AcquireTimeoutError);
    assert.equal(w.error.timeout, 50);
    assert.equal(w.error.cause, undefined);
    assert.equal(pool.stats().waiting, 0);
    assert.equal(pool.stats().timedOut, 1);
    assert.equal(clock.pending, 0);
    pool.release(a);
    assert.equal(pool.stats().idle, 1);
  });

  test('a timer of a served waiter is cancelled', async () => {
    const { pool, clock } = harness({ maxSize: 1 });
    const a = await pool.acquire();
    const w = pool.acquire({ timeout: 50 });
    pool.release(a);
    assert.equal(await w, a);
    assert.equal(clock.pending, 0);
  });

  test('abort while waiting rejects with the reason; the next waiter is still served', async () => {
    const { pool } = harness({ maxSize: 1 });
    const a = await pool.acquire();
    const ac = new AbortController();
    const first = track(pool.acquire({ signal: ac.signal }));
    const second = pool.acquire();
    const reason = new Error('user gave up');
    ac.abort(reason);
    await flush();
    assert.equal(first.error, reason);
    assert.equal(pool.stats().waiting, 1);
    pool.release(a);
    assert.equal(await second, a);
  });

  test('a pre-aborted signal rejects at once and changes nothing', async () => {
    const { pool } = harness();
    const before = pool.stats();
    await assert.rejects(pool.acquire({ signal: AbortSignal.abort('nope') }), (e) => {
      assert.ok(e instanceof AbortError);
      assert.equal(e.cause, 'nope');
      return true;
    });
    assert.deepEqual(pool.stats(), before);
  });

  test('maxWaiting bounds the queue of a full pool', async () => {
    const { pool } = harness({ maxSize: 1, maxWaiting: 1 });
    const a = await pool.acquire();
    const w = pool.acquire();
    await assert.rejects(pool.acquire(), QueueFullError);
    pool.release(a);
    assert.equal(await w, a);
  });

  test('starts no more creates than there are waiters', async () => {
    const { pool, creates } = harness({ maxSize: 10, manual: true });
    const w = pool.acquire();
    assert.equal(creates.length, 1);
    assert.equal(pool.stats().connecting, 1);
    const r = creates[0]!.succeed();
    assert.equal(await w, r);
  });

  test('a create whose waiter gave up still finishes, and its resource goes idle', async () => {
    const { pool, creates, clock } = harness({ manual: true });
    const w = track(pool.acquire({ timeout: 10 }));
    clock.advance(10);
    await flush();
    assert.ok(w.error instanceof AcquireTimeoutError);
    assert.equal(pool.stats().connecting, 1);
    const r = creates[0]!.succeed();
    await flush();
    assert.equal(pool.stats().idle, 1);
    assert.equal(await pool.acquire(), r);
  });

  test('a created resource serves the oldest waiter (late binding)', async () => {
    const { pool, creates } = harness({ manual: true });
    const first = pool.acquire();
    const second = track(pool.acquire());
    const r = creates[1]!.succeed();
    assert.equal(await first, r);
    await flush();
    assert.equal(second.state, 'pending');
    // The first create now works for the second waiter, and its failure reaches it.
    const boom = new Error('refused');
    creates[0]!.fail(boom);
    await flush();
    assert.equal(second.error, boom);
    assert.equal(pool.stats().open, 1);
  });

  test('option validation', async () => {
    const { pool } = harness();
    for (const timeout of [0, -1, Number.NaN]) {
      await assert.rejects(pool.acquire({ timeout }), InvalidArgumentError);
    }
    await pool.acquire({ timeout: Number.POSITIVE_INFINITY });
  });
});

describe('creation failures', () => {
  test('a failed create rejects its acquire with the create error and frees the slot', async () => {
    const { pool, creates } = harness({ maxSize: 1, manual: true });
    const w = pool.acquire();
    const boom = new Error('ECONNREFUSED');
    creates[0]!.fail(boom);
    await assert.rejects(w, (e) => e === boom);
    assert.equal(pool.stats().open, 0);
    assert.equal(pool.stats().createFailed, 1);
    const next = pool.acquire();
    const r = creates[0]!.succeed();
    assert.equal(await next, r);
  });

  test('a failed create starts a new create for the remaining waiters', async () => {
    const { pool, creates } = harness({ maxSize: 1, manual: true });
    const a = track(pool.acquire());
    const b = pool.acquire();
    assert.equal(creates.length, 1);
    creates[0]!.fail(new Error('refused'));
    await flush();
    assert.equal(a.state, 'err');
    assert.equal(creates.length, 1);
    const r = creates[0]!.succeed();
    assert.equal(await b, r);
  });

  test('a create that throws synchronously is a failed create', async () => {
    const pool = new ResourcePool<Res>({
      create: () => {
        throw new Error('sync');
      },
      destroy: () => {},
    });
    await assert.rejects(pool.acquire(), /sync/);
    assert.equal(pool.stats().open, 0);
  });

  test('the last create error is the cause of a later acquire timeout', async () => {
    const { pool, creates, clock } = harness({ maxSize: 1, manual: true });
    const first = pool.acquire();
    const boom = new Error('ECONNREFUSED');
    creates[0]!.fail(boom);
    await assert.rejects(first);
    const second = track(pool.acquire({ timeout: 100 }));
    clock.advance(100);
    await flush();
    assert.ok(second.error instanceof AcquireTimeoutError);
    assert.equal(second.error.cause, boom);
  });
});

describe('release and discard', () => {
  test('release or discard of a resource that is not leased throws InvalidStateError', async () => {
    const { pool } = harness();
    const a = await pool.acquire();
    pool.release(a);
    assert.throws(() => pool.release(a), InvalidStateError);
    assert.throws(() => pool.discard(a), InvalidStateError);
    assert.throws(() => pool.release({ id: 99 }), InvalidStateError);
  });

  test('release validates expiresAt before touching the lease', async () => {
    const { pool } = harness();
    const a = await pool.acquire();
    assert.throws(() => pool.release(a, { expiresAt: Number.NaN }), InvalidArgumentError);
    assert.equal(pool.stats().leased, 1);
  });

  test('discard and not-reusable destroy the resource and hand the slot to a waiter', async () => {
    const { pool, destroyed } = harness({ maxSize: 1 });
    const a = await pool.acquire();
    const w1 = pool.acquire();
    pool.discard(a);
    const b = await w1;
    assert.notEqual(b, a);
    const w2 = pool.acquire();
    pool.release(b, { reusable: false });
    const c = await w2;
    assert.deepEqual(destroyed, [
      [a.id, 'discarded'],
      [b.id, 'not-reusable'],
    ]);
    assert.equal(pool.stats().open, 1);
    assert.equal(pool.stats().leased, 1);
    pool.release(c);
  });
});

describe('shutdown', () => {
  test('close: rejects waiters, destroys idle now and leased on release, resolves when all are gone', async () => {
    let finishDestroy = (): void => {};
    const destroyed: string[] = [];
    let id = 0;
    const pool = new ResourcePool<Res>({
      maxSize: 2,
      create: async () => ({ id: ++id }),
      destroy: (r, reason) => {
        destroyed.push(`${r.id}:${reason}`);
        if (r.id === 1) return new Promise<void>((resolve) => (finishDestroy = resolve));
        return undefined;
      },
    });
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    const waiter = track(pool.acquire());
    const closing = pool.close();
    assert.equal(pool.close(), closing);
    assert.equal(pool.closed, true);
    const done = track(closing);
    await flush();
    assert.ok(waiter.error instanceof PoolClosedError);
    await assert.rejects(pool.acquire(), PoolClosedError);
    pool.release(b!);
    await flush();
    assert.equal(done.state, 'pending'); // `a` is still leased
    pool.release(a!);
    await flush();
    assert.equal(done.state, 'pending'); // the destroy of `a` is still running
    assert.equal(pool.stats().open, 0);
    finishDestroy();
    await closing;
    assert.deepEqual(destroyed.sort(), ['1:pool-closed', '2:pool-closed']);
    assert.equal(pool.stats().open, 0);
  });

  test('close: in-flight creates are destroyed when they finish; waiters get PoolClosedError', async () => {
    const { pool, creates, destroyed } = harness({ manual: true, idleTimeout: 100 });
    const w = track(pool.acquire());
    const closing = track(pool.close());
    await flush();
    assert.ok(w.error instanceof PoolClosedError);
    assert.equal(closing.state, 'pending');
    assert.equal(creates[0]!.signal.aborted, false);
    const r = creates[0]!.succeed();
    await flush();
    assert.equal(closing.state, 'ok');
    assert.deepEqual(destroyed, [[r.id, 'pool-closed']]);
  });

  test('close of an idle pool destroys idle resources and cancels the eviction timer', async () => {
    const { pool, clock, destroyed } = harness({ idleTimeout: 100 });
    const a = await pool.acquire();
    pool.release(a);
    await pool.close();
    assert.deepEqual(destroyed, [[a.id, 'pool-closed']]);
    assert.equal(clock.pending, 0);
  });

  test('destroy: leased destroyed now, late release is a no-op, creates aborted', async () => {
    const { pool, creates, destroyed } = harness({ manual: true });
    const first = pool.acquire();
    const a = creates[0]!.succeed();
    assert.equal(await first, a);
    const waiter = track(pool.acquire());
    const pending = creates[0]!;
    const reason = new Error('shutting down');
    const done = track(pool.destroy(reason));
    await flush();
    assert.ok(waiter.error instanceof PoolClosedError);
    assert.equal(waiter.error.cause, reason);
    assert.deepEqual(destroyed, [[a.id, 'pool-destroyed']]);
    assert.equal(pending.signal.aborted, true);
    assert.equal(pending.signal.reason, reason);
    assert.equal(done.state, 'pending');
    pool.release(a);
    pool.discard(a);
    pending.fail(pending.signal.reason);
    await flush();
    assert.equal(done.state, 'ok');
    assert.equal(pool.stats().open, 0);
    assert.equal(pool.stats().destroyed, 1);
  });

  test('destroy after close upgrades the shutdown and shares its promise', async () => {
    const { pool, destroyed } = harness();
    const a = await pool.acquire();
    const closing = pool.close();
    const destroying = pool.destroy();
    assert.equal(closing, destroying);
    await closing;
    assert.deepEqual(destroyed, [[a.id, 'pool-destroyed']]);
    assert.equal(pool.destroy(), closing);
  });
});

describe('constructor', () => {
  test('rejects bad options with InvalidArgumentError', () => {
    const base = { create: async () => ({ id: 1 }), destroy: () => {} };
    const bad = [
      { maxSize: 0 },
      { maxSize: -1 },
      { maxSize: 1.5 },
      { maxSize: Number.NaN },
      { idleTimeout: -1 },
      { idleTimeout: Number.NaN },
      { maxWaiting: -1 },
      { maxWaiting: 0.5 },
    ];
    for (const options of bad) {
      assert.throws(
        () => new ResourcePool<Res>({ ...base, ...options }),
        InvalidArgumentError,
        JSON.stringify(options),
      );
    }
    assert.throws(
      () => new ResourcePool<Res>({ destroy: () => {} } as never),
      InvalidArgumentError,
    );
    new ResourcePool<Res>({
      ...base,
      maxSize: Number.POSITIVE_INFINITY,
      idleTimeout: 0,
      maxWaiting: 0,
    });
  });
});

describe('fresh acquires and eviction', () => {
  test('fresh skips idle resources and creates a new one while there is room', async () => {
    const { pool } = harness({ maxSize: 3 });
    const a = await pool.acquire();
    pool.release(a);
    const fresh = await pool.acquire({ fresh: true });
    assert.notEqual(fresh, a);
    assert.equal(pool.stats().idle, 1);
    assert.equal(pool.stats().created, 2);
  });

  test('fresh on a full pool retires the longest-idle resource to make room', async () => {
    const { pool, destroyed } = harness({ maxSize: 2 });
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    pool.release(a!);
    pool.release(b!);
    const fresh = await pool.acquire({ fresh: true });
    assert.ok(fresh !== a && fresh !== b);
    assert.deepEqual(destroyed, [[a!.id, 'not-reusable']]);
    assert.equal(pool.stats().open, 2);
    assert.equal(pool.stats().idle, 1);
  });

  test('fresh on a fully leased pool waits in line, then gets a new resource in the released slot', async () => {
    const { pool, destroyed } = harness({ maxSize: 1 });
    const a = await pool.acquire();
    const fresh = track(pool.acquire({ fresh: true }));
    const plain = track(pool.acquire());
    await flush();
    assert.equal(fresh.state, 'pending');
    pool.release(a);
    await flush();
    assert.equal(fresh.state, 'ok');
    assert.notEqual(fresh.value, a);
    assert.deepEqual(destroyed, [[a.id, 'not-reusable']]);
    assert.equal(plain.state, 'pending', 'the plain waiter behind it still waits');
    assert.equal(pool.stats().open, 1);
    pool.release(fresh.value!);
    await flush();
    assert.equal(plain.value, fresh.value);
  });

  test('a fresh waiter that times out while its create runs leaves the resource to others', async () => {
    const { pool, creates, clock } = harness({ maxSize: 1, manual: true });
    const first = track(pool.acquire());
    creates[0]!.succeed();
    await flush();
    const fresh = track(pool.acquire({ fresh: true, timeout: 10 }));
    const plain = track(pool.acquire());
    pool.release(first.value!);
    assert.equal(creates.length, 1, 'a create runs for the fresh waiter');
    assert.deepEqual([pool.stats().connecting, pool.stats().open, pool.stats().waiting], [1, 1, 2]);
    clock.advance(10);
    await flush();
    assert.equal(fresh.state, 'err');
    creates[0]!.succeed();
    await flush();
    assert.equal(plain.state, 'ok', 'the resource made for the fresh waiter serves the next one');
    assert.equal(pool.stats().waiting, 0);
  });

  test('evict destroys an idle resource at once and frees its slot for a waiter', async () => {
    const { pool, destroyed } = harness({ maxSize: 1 });
    const a = await pool.acquire();
    assert.equal(pool.evict(a), false, 'a leased resource is not evicted');
    pool.release(a);
    assert.equal(pool.evict(a), true);
    assert.deepEqual(destroyed, [[a.id, 'unhealthy']]);
    assert.equal(pool.stats().open, 0);
    assert.equal(pool.evict(a), false);
    const b = await pool.acquire();
    assert.notEqual(b, a);
  });
});
