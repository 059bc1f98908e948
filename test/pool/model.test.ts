/**
 * Model-based test: random interleavings of acquire / release / discard / abort / clock
 * advances / create outcomes / close / destroy against a pool whose creates the test
 * controls, checking the pool's invariants after every step and that nothing is lost
 * once the pool is shut down.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FakeClock } from '../../src/clock.js';
import { EmptyPoolError, PoolClosedError, QueueFullError } from '../../src/errors.js';
import { ResourcePool } from '../../src/pool/resource-pool.js';
import { flush, type Res } from './helpers.js';

interface Config {
  maxSize: number;
  idleTimeout: number;
  maxWaiting: number;
}

type Op =
  | {
      t: 'acquire';
      mode: 'blocking' | 'nonblocking' | 'timeout' | 'abortable';
      timeout: number;
      fresh: boolean;
    }
  | {
      t: 'release';
      i: number;
      how: 'reusable' | 'not-reusable' | 'expires' | 'unhealthy';
      expiresIn: number;
    }
  | { t: 'discard'; i: number }
  | { t: 'advance'; ms: number }
  | { t: 'abort'; i: number }
  | { t: 'create'; i: number; ok: boolean }
  | { t: 'close' }
  | { t: 'destroy' };

interface Acquire {
  state: 'pending' | 'ok' | 'err';
  fresh: boolean;
  settlements: number;
  error?: unknown;
}

interface Deferred {
  resolve(r: Res): void;
  reject(e: unknown): void;
}

/** Everything the test knows: the pool, what it lent, what it created and destroyed. */
class World {
  readonly clock = new FakeClock();
  readonly pool: ResourcePool<Res>;
  readonly creates: Deferred[] = [];
  readonly acquires: Acquire[] = [];
  readonly controllers: AbortController[] = [];
  /** Resources the test holds on lease. */
  readonly held: Res[] = [];
  /** Resources leased when destroy() ran: releasing them must be a no-op. */
  readonly zombies: Res[] = [];
  readonly createdIds = new Set<number>();
  /** Resources lent at least once: a fresh acquire must never get one of these. */
  readonly everLent = new Set<number>();
  readonly destroyCalls = new Map<number, number>();
  readonly sick = new Set<number>();
  readonly violations: string[] = [];
  shutdown: Promise<void> | undefined;
  destroyed = false;
  nextId = 1;

  constructor(readonly config: Config) {
    this.pool = new ResourcePool<Res>({
      ...config,
      clock: this.clock,
      create: () =>
        new Promise<Res>((resolve, reject) => {
          this.creates.push({ resolve, reject });
        }),
      destroy: (r) => {
        this.destroyCalls.set(r.id, (this.destroyCalls.get(r.id) ?? 0) + 1);
        if (!this.createdIds.has(r.id)) this.violations.push(`destroyed unknown ${r.id}`);
        // Half the destroys are asynchronous, so close() has something to wait for.
        return r.id % 2 === 0 ? flush() : undefined;
      },
      isHealthy: (r) => !this.sick.has(r.id),
    });
  }

  acquire(op: Extract<Op, { t: 'acquire' }>): void {
    const before = this.pool.stats();
    const closed = this.pool.closed;
    const options: { blocking?: boolean; timeout?: number; signal?: AbortSignal; fresh?: boolean } =
      {};
    if (op.fresh) options.fresh = true;
    if (op.mode === 'nonblocking') options.blocking = false;
    if (op.mode === 'timeout') options.timeout = op.timeout;
    if (op.mode === 'abortable') {
      const ac = new AbortController();
      this.controllers.push(ac);
      options.signal = ac.signal;
    }
    const rec: Acquire = { state: 'pending', fresh: op.fresh, settlements: 0 };
    this.acquires.push(rec);
    this.pool.acquire(options).then(
      (r) => {
        rec.settlements++;
        rec.state = 'ok';
        if (this.held.includes(r)) this.violations.push(`resource ${r.id} lent twice`);
        if (!this.createdIds.has(r.id)) this.violations.push(`lent uncreated ${r.id}`);
        if (this.destroyCalls.has(r.id)) this.violations.push(`lent destroyed ${r.id}`);
        if (this.destroyed) this.violations.push('lent after destroy');
        if (op.fresh && this.everLent.has(r.id)) this.violations.push(`fresh got used ${r.id}`);
        this.everLent.add(r.id);
        this.held.push(r);
      },
      (error: unknown) => {
        rec.settlements++;
        rec.state = 'err';
        rec.error = error;
        if (
          error instanceof EmptyPoolError &&
          (op.mode !== 'nonblocking' || before.open < this.config.maxSize)
        ) {
          this.violations.push('EmptyPoolError with room in the pool');
        }
        if (error instanceof QueueFullError && before.open < this.config.maxSize) {
          this.violations.push('QueueFullError with room in the pool');
        }
        if (closed && !(error instanceof PoolClosedError)) {
          this.violations.push(`acquire after close rejected with ${String(error)}`);
        }
      },
    );
  }

  release(op: Extract<Op, { t: 'release' } | { t: 'discard' }>): void {
    if (this.held.length === 0) return;
    const [r] = this.held.splice(op.i % this.held.length, 1);
    if (r === undefined) return;
    if (op.t === 'discard') {
      this.pool.discard(r);
      return;
    }
    if (op.how === 'unhealthy') this.sick.add(r.id);
    if (op.how === 'not-reusable') this.pool.release(r, { reusable: false });
    else if (op.how === 'expires')
      this.pool.release(r, { expiresAt: this.clock.now() + op.expiresIn });
    else this.pool.release(r);
  }

  settleCreate(i: number, ok: boolean): void {
    if (this.creates.length === 0) return;
    const [d] = this.creates.splice(i % this.creates.length, 1);
    if (ok) {
      const r = { id: this.nextId++ };
      this.createdIds.add(r.id);
      d?.resolve(r);
    } else d?.reject(new Error('create failed'));
  }

  async apply(op: Op): Promise<void> {
    switch (op.t) {
      case 'acquire':
        this.acquire(op);
        break;
      case 'release':
      case 'discard':
        this.release(op);
        break;
      case 'advance':
        this.clock.advance(op.ms);
        break;
      case 'abort': {
        const live = this.controllers.filter((c) => !c.signal.aborted);
        live[op.i % Math.max(1, live.length)]?.abort(new Error('aborted'));
        break;
      }
      case 'create':
        this.settleCreate(op.i, op.ok);
        break;
      case 'close':
        this.shutdown = this.pool.close();
        break;
      case 'destroy':
        if (!this.destroyed) this.zombies.push(...this.held.splice(0));
        this.destroyed = true;
        this.shutdown = this.pool.destroy(new Error('destroyed'));
        break;
    }
    await flush();
    this.check();
  }

  check(): void {
    const s = this.pool.stats();
    assert.deepEqual(this.violations, []);
    for (const [k, v] of Object.entries(s)) assert.ok(v >= 0, `${k} negative`);
    assert.ok(s.open <= this.config.maxSize, 'open above maxSize');
    assert.equal(s.open, s.idle + s.leased + s.connecting);
    assert.equal(s.connecting, this.creates.length);
    assert.equal(s.leased, this.held.length);
    assert.equal(s.waiting, this.acquires.filter((a) => a.state === 'pending').length);
    assert.equal(s.created, this.createdIds.size);
    let calls = 0;
    for (const [id, n] of this.destroyCalls) {
      assert.equal(n, 1, `resource ${id} destroyed ${n} times`);
      calls += n;
    }
    assert.equal(s.destroyed, calls);
    assert.equal(s.created - s.destroyed, s.idle + s.leased, 'created resources unaccounted for');
    for (const a of this.acquires) assert.ok(a.settlements <= 1);
    if (!this.pool.closed) {
      // Liveness: nobody waits while something is idle (but a fresh acquire, which only takes
      // a new resource), or while the pool has room and no create runs for them.
      const plainWaiting = this.acquires.filter((a) => a.state === 'pending' && !a.fresh).length;
      if (plainWaiting > 0) assert.equal(s.idle, 0, 'waiter left waiting beside an idle resource');
      if (s.waiting > s.connecting)
        assert.equal(s.open, this.config.maxSize, 'waiter without a create');
    } else {
      assert.equal(s.idle, 0, 'idle resource after close');
      assert.equal(s.waiting, 0, 'waiter after close');
    }
  }

  /** Shuts down, lets everything outstanding finish, and checks nothing was lost. */
  async finish(): Promise<void> {
    const shutdown = this.shutdown ?? this.pool.close();
    let done = false;
    void shutdown.then(() => {
      done = true;
    });
    while (this.creates.length > 0) this.settleCreate(0, this.creates.length % 2 === 0);
    await flush();
    for (const r of this.held.splice(0)) this.pool.release(r);
    for (const r of this.zombies) this.pool.release(r); // no-op after destroy()
    this.clock.advance(1000);
    await shutdown;
    await flush();
    assert.ok(done);
    this.check();
    for (const a of this.acquires) assert.equal(a.settlements, 1, 'an acquire never settled');
    const s = this.pool.stats();
    assert.equal(s.open, 0);
    assert.equal(s.destroyed, s.created);
    for (const id of this.createdIds)
      assert.equal(this.destroyCalls.get(id), 1, `resource ${id} never destroyed`);
  }
}

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('acquire' as const),
      mode: fc.constantFrom(
        'blocking' as const,
        'nonblocking' as const,
        'timeout' as const,
        'abortable' as const,
      ),
      timeout: fc.integer({ min: 1, max: 50 }),
      fresh: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('release' as const),
      i: fc.nat(9),
      how: fc.constantFrom(
        'reusable' as const,
        'reusable' as const,
        'not-reusable' as const,
        'expires' as const,
        'unhealthy' as const,
      ),
      expiresIn: fc.integer({ min: -5, max: 40 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('discard' as const), i: fc.nat(9) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('advance' as const),
      ms: fc.integer({ min: 0, max: 60 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('abort' as const), i: fc.nat(9) }) },
  {
    weight: 5,
    arbitrary: fc.record({ t: fc.constant('create' as const), i: fc.nat(9), ok: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'close' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'destroy' as const }) },
);

/** One step; the world is both model and driver, so `check` always passes. */
class Step implements fc.AsyncCommand<World, World> {
  constructor(readonly op: Op) {}
  check(): boolean {
    return true;
  }
  async run(world: World): Promise<void> {
    await world.apply(this.op);
  }
  toString(): string {
    return JSON.stringify(this.op);
  }
}

const config: fc.Arbitrary<Config> = fc.record({
  maxSize: fc.integer({ min: 1, max: 3 }),
  idleTimeout: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 0, max: 40 })),
  maxWaiting: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 0, max: 3 })),
});

test('random interleavings keep every pool invariant and lose nothing', async () => {
  await fc.assert(
    fc.asyncProperty(
      config,
      fc.commands([op.map((o) => new Step(o))], { maxCommands: 80, size: 'medium' }),
      async (cfg, cmds) => {
        const world = new World(cfg);
        await fc.asyncModelRun(() => ({ model: world, real: world }), cmds);
        await world.finish();
      },
    ),
    { numRuns: 300 },
  );
});
