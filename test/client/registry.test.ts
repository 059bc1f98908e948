/**
 * The Agent's pool registry on its own: least recently used order, `maxOrigins`, and the
 * sweeper that drops empty pools, over fake pools and a FakeClock (no sockets, no sleeps).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PoolRegistry, type RegisteredPool } from '../../src/client/registry.js';
import { FakeClock } from '../../src/clock.js';

/** A pool whose state the test sets; it records how it was ended. */
class FakePool implements RegisteredPool {
  open = 0;
  idle = 0;
  leased = 0;
  waiting = 0;
  connecting = 0;
  ended: 'closed' | 'destroyed' | undefined;
  constructor(readonly name: string) {}
  stats() {
    return {
      open: this.open,
      leased: this.leased,
      waiting: this.waiting,
      connecting: this.connecting,
    };
  }
  closeIdleConnection(): boolean {
    if (this.idle === 0) return false;
    this.idle--;
    this.open--;
    return true;
  }
  close(): Promise<void> {
    this.ended ??= 'closed';
    return Promise.resolve();
  }
  destroy(): Promise<void> {
    this.ended = 'destroyed';
    return Promise.resolve();
  }
}

function registry(maxOrigins = Number.POSITIVE_INFINITY, originIdleTimeout = 1000) {
  const clock = new FakeClock();
  const pools = new PoolRegistry<FakePool>({ maxOrigins, originIdleTimeout, clock });
  const add = (name: string, state: Partial<FakePool> = {}): FakePool => {
    const pool = Object.assign(new FakePool(name), state);
    pools.add(name, pool);
    return pool;
  };
  const names = () => [...pools.values()].map((pool) => pool.name);
  return { clock, pools, add, names };
}

describe('PoolRegistry: maxOrigins', () => {
  const busy = { open: 1 };
  const cases: Array<{
    name: string;
    max: number;
    /** Pools added in order (each with its state), then the names used, in order. */
    add: Array<[string, Partial<FakePool>]>;
    use?: string[];
    last?: [string, Partial<FakePool>];
    kept: string[];
    dropped: string[];
  }> = [
    {
      name: 'the least recently added goes first',
      max: 2,
      add: [
        ['a', busy],
        ['b', busy],
      ],
      last: ['c', {}],
      kept: ['b', 'c'],
      dropped: ['a'],
    },
    {
      name: 'a use makes a pool recent again',
      max: 2,
      add: [
        ['a', busy],
        ['b', busy],
      ],
      use: ['a'],
      last: ['c', {}],
      kept: ['a', 'c'],
      dropped: ['b'],
    },
    {
      name: 'a pool with a lease is kept, the next least recently used goes',
      max: 2,
      add: [
        ['a', { leased: 1 }],
        ['b', {}],
      ],
      last: ['c', {}],
      kept: ['a', 'c'],
      dropped: ['b'],
    },
    {
      name: 'a pool with waiters or a connect in progress is kept',
      max: 1,
      add: [
        ['a', { waiting: 1 }],
        ['b', { connecting: 1 }],
      ],
      last: ['c', {}],
      kept: ['a', 'b', 'c'],
      dropped: [],
    },
    {
      name: 'the pool just added is never the one dropped',
      max: 1,
      add: [['a', { leased: 1 }]],
      last: ['b', {}],
      kept: ['a', 'b'],
      dropped: [],
    },
    {
      name: 'within the bound nothing goes',
      max: 3,
      add: [
        ['a', {}],
        ['b', {}],
      ],
      last: ['c', {}],
      kept: ['a', 'b', 'c'],
      dropped: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const { pools, add, names } = registry(c.max);
      const made = c.add.map(([name, state]) => add(name, state));
      for (const name of c.use ?? []) assert.ok(pools.use(name));
      if (c.last !== undefined) made.push(add(...c.last));
      assert.deepEqual(names(), c.kept);
      assert.deepEqual(
        made.filter((pool) => pool.ended === 'closed').map((pool) => pool.name),
        c.dropped,
      );
    });
  }

  test('use() of an unknown key is undefined and changes nothing', () => {
    const { pools, add, names } = registry(1);
    add('a', { leased: 1 });
    assert.equal(pools.use('b'), undefined);
    assert.deepEqual(names(), ['a']);
  });
});

describe('PoolRegistry: the sweeper', () => {
  test('drops a pool empty for originIdleTimeout, and only then', () => {
    const { clock, pools, add, names } = registry(Number.POSITIVE_INFINITY, 1000);
    const a = add('a');
    const b = add('b', { open: 1 });
    // Sweeps every 500 ms: the first sees `a` empty, the next two find it empty long enough.
    clock.advance(500);
    assert.deepEqual(names(), ['a', 'b']);
    clock.advance(999);
    assert.deepEqual(names(), ['a', 'b']);
    clock.advance(1);
    assert.deepEqual(names(), ['b']);
    assert.equal(a.ended, 'closed');
    assert.equal(b.ended, undefined);
    assert.equal(pools.size, 1);
  });

  test('a use or an open connection restarts the count', () => {
    const { clock, pools, add, names } = registry(Number.POSITIVE_INFINITY, 1000);
    const a = add('a');
    add('b', { open: 1 });
    clock.advance(1000);
    pools.use('a');
    clock.advance(1000);
    assert.deepEqual(names(), ['a', 'b']);
    a.open = 1;
    clock.advance(500);
    a.open = 0;
    clock.advance(1000);
    assert.deepEqual(names(), ['a', 'b']);
    clock.advance(500);
    assert.deepEqual(names(), ['b']);
  });

  test('a pool with waiters is not empty', () => {
    const { clock, add, names } = registry(Number.POSITIVE_INFINITY, 100);
    add('a', { waiting: 2 });
    clock.advance(10_000);
    assert.deepEqual(names(), ['a']);
  });

  test('stops once no pool is left, and starts again with the next one', () => {
    const { clock, add, names } = registry(Number.POSITIVE_INFINITY, 1000);
    add('a');
    assert.equal(clock.pending, 1);
    clock.advance(1500);
    assert.deepEqual(names(), []);
    assert.equal(clock.pending, 0);
    add('b');
    assert.equal(clock.pending, 1);
    clock.advance(1500);
    assert.deepEqual(names(), []);
  });

  test('one timer however many pools are added', () => {
    const { clock, add } = registry(Number.POSITIVE_INFINITY, 1000);
    add('a', { open: 1 });
    add('b', { open: 1 });
    add('c', { open: 1 });
    clock.advance(5000);
    assert.equal(clock.pending, 1);
  });

  test('no sweeper when originIdleTimeout is Infinity', () => {
    const { clock, add, names } = registry(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
    add('a');
    assert.equal(clock.pending, 0);
    clock.advance(1e9);
    assert.deepEqual(names(), ['a']);
  });

  test('sweeps at least every 10 ms for a short timeout', () => {
    const { clock, add, names } = registry(Number.POSITIVE_INFINITY, 4);
    add('a');
    clock.advance(19);
    assert.deepEqual(names(), ['a']);
    clock.advance(1);
    assert.deepEqual(names(), []);
  });

  test('retries maxOrigins once a busy pool has freed up', () => {
    const { clock, add, names } = registry(1, 1000);
    const a = add('a', { open: 1, leased: 1 });
    add('b', { open: 1 });
    assert.deepEqual(names(), ['a', 'b']);
    a.leased = 0;
    clock.advance(500);
    assert.deepEqual(names(), ['b']);
    assert.equal(a.ended, 'closed');
  });
});

describe('PoolRegistry: reclaim and close', () => {
  test('reclaimIdle closes one idle connection, of the least recently used pool that has one', () => {
    const { pools, add } = registry();
    const a = add('a', { open: 1 });
    const b = add('b', { open: 2, idle: 2 });
    const c = add('c', { open: 1, idle: 1 });
    pools.use('b');
    pools.reclaimIdle();
    assert.deepEqual(
      [a, b, c].map((pool) => pool.idle),
      [0, 2, 0],
    );
    pools.reclaimIdle();
    assert.deepEqual(
      [a, b, c].map((pool) => pool.idle),
      [0, 1, 0],
    );
  });

  test('closeAll closes every pool, stops the sweeper and forgets them', async () => {
    const { clock, pools, add, names } = registry();
    const made = [add('a'), add('b', { open: 1 })];
    await pools.closeAll();
    assert.deepEqual(
      made.map((pool) => pool.ended),
      ['closed', 'closed'],
    );
    assert.deepEqual(names(), []);
    assert.equal(clock.pending, 0);
  });

  test('destroyAll reaches pools still closing after a drop', async () => {
    const { pools, add } = registry(1);
    const closing = new FakePool('a');
    // Its close never ends: only a destroy does.
    closing.close = () => {
      closing.ended = 'closed';
      return new Promise<void>(() => {});
    };
    pools.add('a', closing);
    const b = add('b', { leased: 1 });
    assert.equal(closing.ended, 'closed');
    const destroyed = pools.destroyAll();
    assert.equal(closing.ended, 'destroyed');
    assert.equal(b.ended, 'destroyed');
    void destroyed;
  });
});
