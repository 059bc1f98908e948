/**
 * Model-based test: random interleavings of acquire / release / discard / abort / clock
 * advances / create outcomes / close / destroy against a pool whose creates the test
 * controls, checking the pool's invariants after every step and that nothing is lost
 * once the pool is shut down. Three variants: the default pool (one holder per resource),
 * the same through the `capacity` option at capacity 1 (every exclusive invariant must
 * still hold), and shared resources whose capacities (0-4) change as the test goes.
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

/** No `capacity` option; `capacity: () => 1`; per-resource capacities the test changes. */
type Mode = 'none' | 'one' | 'shared';

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
  | { t: 'create'; i: number; ok: boolean; capacity?: number }
  | { t: 'capacity'; i: number; capacity: number }
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
  /** Shared mode: each resource's capacity as the capacity callback answers it now. */
  readonly capacity = new Map<number, number>();
  /** Shared mode: held resources a holder said must not be lent again (until unheld). */
  readonly closing = new Set<number>();
  /** Shared mode: the earliest expiresAt given while a resource has been held. */
  readonly expiresAt = new Map<number, number>();
  readonly violations: string[] = [];
  shutdown: Promise<void> | undefined;
  destroyed = false;
  nextId = 1;

  constructor(
    readonly config: Config,
    readonly mode: Mode = 'none',
  ) {
    this.pool = new ResourcePool<Res>({
      ...config,
      ...(mode === 'none'
        ? {}
        : { capacity: mode === 'one' ? () => 1 : (r) => this.capacity.get(r.id) ?? 1 }),
      clock: this.clock,
      create: () =>
        new Promise<Res>((resolve, reject) => {
          this.creates.push({ resolve, reject });
        }),
      destroy: (r) => {
        this.destroyCalls.set(r.id, (this.destroyCalls.get(r.id) ?? 0) + 1);
        if (!this.createdIds.has(r.id)) this.violations.push(`destroyed unknown ${r.id}`);
        if (this.held.includes(r)) this.violations.push(`destroyed ${r.id} while held`);
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
        if (this.mode !== 'shared') {
          if (this.held.includes(r)) this.violations.push(`resource ${r.id} lent twice`);
        } else {
          const holds = this.holds(r);
          if (holds + 1 > (this.capacity.get(r.id) ?? 1)) {
            this.violations.push(`resource ${r.id} lent past its capacity`);
          }
          // Lent again while held: never after a holder retired it or past its expiresAt.
          if (holds > 0 && this.closing.has(r.id))
            this.violations.push(`retired ${r.id} lent again`);
          if (
            holds > 0 &&
            (this.expiresAt.get(r.id) ?? Number.POSITIVE_INFINITY) <= this.clock.now()
          )
            this.violations.push(`expired ${r.id} lent again`);
        }
        // FIFO: a plain acquire is never served while an older plain one still waits
        // (fresh ones may be passed, and may pass: they take only new resources).
        if (
          !op.fresh &&
          this.acquires.some(
            (a) =>
              a !== rec &&
              a.state === 'pending' &&
              !a.fresh &&
              this.acquires.indexOf(a) < this.acquires.indexOf(rec),
          )
        ) {
          this.violations.push('a plain acquire overtook an older one');
        }
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

  /** Holds on `r` the test has now. */
  holds(r: Res): number {
    let n = 0;
    for (const h of this.held) if (h === r) n++;
    return n;
  }

  release(op: Extract<Op, { t: 'release' } | { t: 'discard' }>): void {
    if (this.held.length === 0) return;
    const [r] = this.held.splice(op.i % this.held.length, 1);
    if (r === undefined) return;
    if (this.mode === 'shared') this.noteRelease(r, op);
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

  /** Shared mode: what a release tells the model about whether the resource may be lent again. */
  noteRelease(r: Res, op: Extract<Op, { t: 'release' } | { t: 'discard' }>): void {
    if (this.holds(r) === 0) {
      // Its last holder leaves: whatever happens next starts afresh.
      this.closing.delete(r.id);
      this.expiresAt.delete(r.id);
      return;
    }
    if (op.t === 'discard' || op.how === 'not-reusable') this.closing.add(r.id);
    if (op.t === 'release' && op.how === 'expires') {
      const at = this.clock.now() + op.expiresIn;
      this.expiresAt.set(r.id, Math.min(at, this.expiresAt.get(r.id) ?? Number.POSITIVE_INFINITY));
    }
  }

  /** Shared mode: a resource the pool could lend to a plain acquire right now, as the model sees it. */
  lendable(id: number): boolean {
    if (this.destroyCalls.has(id) || this.sick.has(id)) return false;
    const capacity = this.capacity.get(id) ?? 1;
    const holds = this.held.filter((h) => h.id === id).length;
    if (holds === 0) return capacity >= 1;
    return (
      holds < capacity &&
      !this.closing.has(id) &&
      (this.expiresAt.get(id) ?? Number.POSITIVE_INFINITY) > this.clock.now()
    );
  }

  changeCapacity(i: number, capacity: number): void {
    // Destroyed resources too: the news may come late, and must change nothing.
    const ids = [...this.createdIds];
    if (ids.length === 0) return;
    const id = ids[i % ids.length]!;
    this.capacity.set(id, capacity);
    this.pool.capacityChanged(this.resources.get(id)!);
  }

  readonly resources = new Map<number, Res>();

  settleCreate(i: number, ok: boolean, capacity = 2): void {
    if (this.creates.length === 0) return;
    const [d] = this.creates.splice(i % this.creates.length, 1);
    if (ok) {
      const r = { id: this.nextId++ };
      this.createdIds.add(r.id);
      this.resources.set(r.id, r);
      if (this.mode === 'shared') this.capacity.set(r.id, capacity);
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
        this.settleCreate(op.i, op.ok, op.capacity);
        break;
      case 'capacity':
        if (this.mode === 'shared') this.changeCapacity(op.i, op.capacity);
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
    assert.equal(s.leased, new Set(this.held).size);
    assert.equal(s.holders, this.mode === 'none' ? undefined : this.held.length);
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
    if (!this.pool.closed && this.mode !== 'shared') {
      // Liveness: nobody waits while something is idle (but a fresh acquire, which only takes
      // a new resource), or while the pool has room and no create runs for them.
      const plainWaiting = this.acquires.filter((a) => a.state === 'pending' && !a.fresh).length;
      if (plainWaiting > 0) assert.equal(s.idle, 0, 'waiter left waiting beside an idle resource');
      if (s.waiting > s.connecting)
        assert.equal(s.open, this.config.maxSize, 'waiter without a create');
    } else if (!this.pool.closed) {
      // Liveness with sharing: no plain acquire waits beside a resource that could take it
      // (idle at capacity >= 1, or held with room and not retired), and with room in the pool
      // some create runs (one create may be counted as serving several waiters).
      const plainWaiting = this.acquires.some((a) => a.state === 'pending' && !a.fresh);
      if (plainWaiting) {
        for (const id of this.createdIds) {
          assert.ok(!this.lendable(id), `waiter left waiting beside lendable resource ${id}`);
        }
      }
      if (s.waiting > 0 && s.open < this.config.maxSize)
        assert.ok(s.connecting > 0, 'waiter without a create');
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
    while (this.creates.length > 0) this.settleCreate(0, this.creates.length % 2 === 0, 2);
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

const acquireOp: fc.Arbitrary<Op> = fc.record({
  t: fc.constant('acquire' as const),
  mode: fc.constantFrom(
    'blocking' as const,
    'nonblocking' as const,
    'timeout' as const,
    'abortable' as const,
  ),
  timeout: fc.integer({ min: 1, max: 50 }),
  fresh: fc.boolean(),
});
const releaseOp: fc.Arbitrary<Op> = fc.record({
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
});
const discardOp: fc.Arbitrary<Op> = fc.record({ t: fc.constant('discard' as const), i: fc.nat(9) });
const advanceOp: fc.Arbitrary<Op> = fc.record({
  t: fc.constant('advance' as const),
  ms: fc.integer({ min: 0, max: 60 }),
});
const abortOp: fc.Arbitrary<Op> = fc.record({ t: fc.constant('abort' as const), i: fc.nat(9) });
const closeOp: fc.Arbitrary<Op> = fc.constant({ t: 'close' as const });
const destroyOp: fc.Arbitrary<Op> = fc.constant({ t: 'destroy' as const });

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: acquireOp },
  { weight: 4, arbitrary: releaseOp },
  { weight: 1, arbitrary: discardOp },
  { weight: 2, arbitrary: advanceOp },
  { weight: 1, arbitrary: abortOp },
  {
    weight: 5,
    arbitrary: fc.record({ t: fc.constant('create' as const), i: fc.nat(9), ok: fc.boolean() }),
  },
  { weight: 1, arbitrary: closeOp },
  { weight: 1, arbitrary: destroyOp },
);

/**
 * With sharing: new resources get a capacity (0 now and then), capacities change, creates
 * mostly succeed and shutdown comes later, so that resources live long enough to be shared.
 */
const sharedOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: acquireOp },
  { weight: 12, arbitrary: releaseOp },
  { weight: 2, arbitrary: discardOp },
  { weight: 5, arbitrary: advanceOp },
  { weight: 2, arbitrary: abortOp },
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant('create' as const),
      i: fc.nat(9),
      ok: fc.constantFrom(true, true, true, false),
      capacity: fc.constantFrom(0, 1, 2, 2, 3, 3, 4, 4, 4),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('capacity' as const),
      i: fc.nat(9),
      capacity: fc.constantFrom(0, 1, 2, 3, 4),
    }),
  },
  { weight: 1, arbitrary: closeOp },
  { weight: 1, arbitrary: destroyOp },
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

/** Runs random command sequences of `ops` against a fresh world in `mode`. */
async function explore(mode: Mode, ops: fc.Arbitrary<Op>, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      config,
      fc.commands([ops.map((o) => new Step(o))], { maxCommands: 80, size: 'medium' }),
      async (cfg, cmds) => {
        const world = new World(cfg, mode);
        await fc.asyncModelRun(() => ({ model: world, real: world }), cmds);
        await world.finish();
      },
    ),
    { numRuns },
  );
}

test('random interleavings keep every pool invariant and lose nothing', async () => {
  await explore('none', op, 300);
});

test('the same through the capacity option at capacity 1: every exclusive invariant holds', async () => {
  await explore('one', op, 150);
});

test('with shared resources and changing capacities: never past capacity, never destroyed while held, FIFO', async () => {
  await explore('shared', sharedOp, 400);
});
