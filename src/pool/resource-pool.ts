/**
 * A generic, bounded resource pool: an MRU idle stack with lazy expiry, a FIFO of
 * waiters, creation counted toward `maxSize` while in flight, one eviction timer, and
 * graceful or forced shutdown. It knows nothing of what a resource is; the client layer
 * plugs HTTP connections in through `create` / `destroy` / `isHealthy`.
 */

import { setMaxListeners } from 'node:events';
import { type Clock, systemClock, type Timer } from '../clock.js';
import {
  AcquireTimeoutError,
  abortReason,
  EmptyPoolError,
  InvalidArgumentError,
  InvalidStateError,
  PoolClosedError,
  QueueFullError,
} from '../errors.js';
import { planEviction } from './eviction.js';
import { type IdleEntry, IdleStack } from './idle-stack.js';
import { WaiterQueue } from './waiter-queue.js';

/** Why the pool destroyed a resource; passed to {@link ResourcePoolOptions.destroy}. */
export type CloseReason =
  | 'idle-timeout'
  | 'expired'
  | 'not-reusable'
  | 'unhealthy'
  | 'discarded'
  | 'pool-closed'
  | 'pool-destroyed';

/** How to make, check and dispose of resources, and the pool's limits. */
export interface ResourcePoolOptions<R> {
  /** Makes a resource. `signal` aborts when the pool is destroyed. */
  create: (signal: AbortSignal) => Promise<R>;
  /**
   * Disposes of a resource. Called exactly once per created resource. Errors it throws
   * or rejects with are swallowed: the resource is gone either way.
   */
  destroy: (resource: R, reason: CloseReason) => void | Promise<void>;
  /** Checked when a resource is taken from the idle stack; false (or a throw) destroys it as 'unhealthy'. */
  isHealthy?: (resource: R) => boolean;
  /**
   * Asked as a resource is about to wait on the idle stack (not when it goes straight to a
   * waiter, nor when it is lent again): false (or a throw) destroys it instead ('not-reusable')
   * and frees its slot. The owner may also ready it for waiting here (the client layer lets an
   * idle socket stop holding the process open).
   */
  keepIdle?: (resource: R) => boolean;
  /** Most resources open at once, counting connecting + idle + leased. Default `Infinity`. */
  maxSize?: number;
  /** Ms a resource may sit idle before it is destroyed; `Infinity` (default) = never, 0 = never kept idle. */
  idleTimeout?: number;
  /**
   * When the pool is full, an acquire that would have to wait is refused with QueueFullError
   * if `waiting` (every pending acquire) is already at this bound. Default `Infinity`.
   */
  maxWaiting?: number;
  /** Time source; default {@link systemClock}. */
  clock?: Clock;
}

/** Options of one {@link ResourcePool.acquire}. */
export interface AcquireOptions {
  /** Default true. When false, reject with EmptyPoolError instead of waiting on a full pool. */
  blocking?: boolean;
  /** Most ms to wait; must be > 0 (or `Infinity`). Undefined = wait forever. */
  timeout?: number;
  /** Aborting it ends the wait, rejecting with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Only a newly created resource will do (a retry after a stale one failed): idle ones are
   * skipped, and when the pool is full the longest-idle one is destroyed to make room. When
   * every resource is leased, the caller waits in line like any other; the resource released
   * to it is destroyed and a new one is created for it in that slot.
   */
  fresh?: boolean;
}

/** Options of one {@link ResourcePool.release}. */
export interface ReleaseOptions {
  /** Default true; false destroys the resource ('not-reusable'). */
  reusable?: boolean;
  /**
   * Absolute clock time after which the resource must not be lent again (a keep-alive
   * hint, a max lifetime). The idle deadline becomes min(now + idleTimeout, expiresAt).
   */
  expiresAt?: number;
}

/** A snapshot of a pool's state and lifetime counters. */
export interface ResourcePoolStats {
  /** connecting + idle + leased; never above maxSize. */
  open: number;
  idle: number;
  leased: number;
  connecting: number;
  /** Acquires waiting for a resource. */
  waiting: number;
  /** Resources created successfully, ever. */
  created: number;
  /** Resources destroyed, ever. */
  destroyed: number;
  /** `create` calls that failed, ever. */
  createFailed: number;
  /** Acquires fulfilled, ever. */
  acquired: number;
  /** Acquires that ended with AcquireTimeoutError, ever. */
  timedOut: number;
}

/** One pending acquire. Settled exactly once, by whoever gets there first. */
class Waiter<R> {
  settled = false;
  /** Takes only a newly created resource. */
  fresh = false;
  /** In the waiter queue; false once taken out to wait for a create made just for it. */
  queued = true;
  /** The create started on this waiter's behalf, while in flight. */
  create: CreateTicket<R> | undefined = undefined;
  timer: Timer | undefined = undefined;
  abort: { signal: AbortSignal; listener: () => void } | undefined = undefined;
  readonly promise: Promise<R>;
  // Set by the promise executor, which runs synchronously in the constructor.
  resolve!: (resource: R) => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.promise = new Promise<R>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Settles with `resource`; false if already settled. */
  fulfil(resource: R): boolean {
    if (this.settled) return false;
    this.#settle();
    this.resolve(resource);
    return true;
  }

  /** Settles with `error`; false if already settled. */
  fail(error: unknown): boolean {
    if (this.settled) return false;
    this.#settle();
    this.reject(error);
    return true;
  }

  #settle(): void {
    this.settled = true;
    if (this.timer !== undefined) {
      this.timer.cancel();
      this.timer = undefined;
    }
    if (this.abort !== undefined) {
      this.abort.signal.removeEventListener('abort', this.abort.listener);
      this.abort = undefined;
    }
  }
}

/** A create in flight and the waiter whose failure report it is (its error rejects that one). */
interface CreateTicket<R> {
  trigger: Waiter<R> | undefined;
  /** Made for a fresh waiter taken out of the queue: its resource goes to that waiter if it still waits. */
  dedicated: boolean;
}

type State = 'open' | 'closing' | 'destroyed';

/** Checks an optional numeric option: a number `>= min` (or `> min` if strict), `Infinity` allowed. */
function checkNumber(
  name: string,
  value: unknown,
  min: number,
  strict: boolean,
  integer: boolean,
): void {
  if (value === undefined) return;
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (strict ? value > min : value >= min) &&
    (!integer || value === Number.POSITIVE_INFINITY || Number.isInteger(value));
  if (!ok) {
    const bound = strict ? `> ${min}` : `>= ${min}`;
    throw new InvalidArgumentError(
      `${name} must be ${integer ? 'an integer' : 'a number'} ${bound} or Infinity, got ${String(value)}`,
    );
  }
}

/**
 * A bounded pool of resources of type `R`.
 *
 * Resources are lent by {@link ResourcePool.acquire} and come back by
 * {@link ResourcePool.release} or {@link ResourcePool.discard}. Everything is decided
 * synchronously on the event loop, so no lock is needed: a waiter is settled by exactly
 * one of delivery, timeout, abort or shutdown.
 */
export class ResourcePool<R> {
  readonly #create: (signal: AbortSignal) => Promise<R>;
  readonly #destroy: (resource: R, reason: CloseReason) => void | Promise<void>;
  readonly #isHealthy: ((resource: R) => boolean) | undefined;
  readonly #keepIdle: ((resource: R) => boolean) | undefined;
  readonly #maxSize: number;
  readonly #idleTimeout: number;
  readonly #maxWaiting: number;
  readonly #clock: Clock;

  #state: State = 'open';
  readonly #idle = new IdleStack<R>();
  readonly #leased = new Set<R>();
  /** Leased resources destroyed by destroy(): their late release/discard stays a no-op. Only grows after destroy(). */
  readonly #orphaned = new Set<R>();
  readonly #waiters = new WaiterQueue<Waiter<R>>();
  #connecting = 0;
  /** Creates in flight made for one particular waiter (fresh acquires); part of #connecting. */
  #dedicated = 0;
  /** Fresh waiters taken out of the queue, waiting for their dedicated create. */
  readonly #outOfQueue = new Set<Waiter<R>>();
  /** Aborted by destroy(), telling in-flight creates to give up. */
  readonly #abort = new AbortController();

  /**
   * The one eviction timer. It is kept (suspended, not cancelled) while nothing is idle so
   * it can be refreshed rather than recreated when something is idle again: with every
   * connection busy, the idle stack empties and fills on every request.
   */
  #evictionTimer: Timer | undefined;
  /** When #evictionTimer fires; `Infinity` while it is not armed. */
  #evictionAt = Number.POSITIVE_INFINITY;

  /** The last create error, reported as the cause of later acquire timeouts; cleared by a success. */
  #lastCreateError: unknown;
  /** Destroy callbacks still running; close() waits for them. */
  readonly #pendingDestroys = new Set<Promise<void>>();
  #drained: Promise<void> | undefined;
  #onDrained: (() => void) | undefined;

  #created = 0;
  #destroyed = 0;
  #createFailed = 0;
  #acquired = 0;
  #timedOut = 0;

  /** @throws InvalidArgumentError on a missing callback or a bad limit. */
  constructor(options: ResourcePoolOptions<R>) {
    if (typeof options?.create !== 'function')
      throw new InvalidArgumentError('create must be a function');
    if (typeof options.destroy !== 'function')
      throw new InvalidArgumentError('destroy must be a function');
    if (options.isHealthy !== undefined && typeof options.isHealthy !== 'function') {
      throw new InvalidArgumentError('isHealthy must be a function');
    }
    if (options.keepIdle !== undefined && typeof options.keepIdle !== 'function') {
      throw new InvalidArgumentError('keepIdle must be a function');
    }
    checkNumber('maxSize', options.maxSize, 0, true, true);
    checkNumber('idleTimeout', options.idleTimeout, 0, false, false);
    checkNumber('maxWaiting', options.maxWaiting, 0, false, true);
    this.#create = options.create;
    this.#destroy = options.destroy;
    this.#isHealthy = options.isHealthy;
    this.#keepIdle = options.keepIdle;
    this.#maxSize = options.maxSize ?? Number.POSITIVE_INFINITY;
    this.#idleTimeout = options.idleTimeout ?? Number.POSITIVE_INFINITY;
    this.#maxWaiting = options.maxWaiting ?? Number.POSITIVE_INFINITY;
    this.#clock = options.clock ?? systemClock;
    // Every create in flight listens on this one signal; many at once is normal, not a leak.
    setMaxListeners(0, this.#abort.signal);
  }

  /** True once close() or destroy() was called. */
  get closed(): boolean {
    return this.#state !== 'open';
  }

  /** A snapshot of the pool's state and counters. */
  stats(): ResourcePoolStats {
    return {
      open: this.#open(),
      idle: this.#idle.size,
      leased: this.#leased.size,
      connecting: this.#connecting,
      waiting: this.#waiters.size + this.#outOfQueue.size,
      created: this.#created,
      destroyed: this.#destroyed,
      createFailed: this.#createFailed,
      acquired: this.#acquired,
      timedOut: this.#timedOut,
    };
  }

  /**
   * Lends a resource: the most recently released healthy idle one, else a new one if
   * the pool has room, else the next one released (FIFO among waiters).
   *
   * Rejects with PoolClosedError after close/destroy, the signal's reason on abort,
   * EmptyPoolError when `blocking: false` and the pool is full, QueueFullError past
   * `maxWaiting`, AcquireTimeoutError after `timeout` ms (its `cause` is the last create
   * error, if any), or the create error of the create started for this acquire.
   */
  acquire(options?: AcquireOptions): Promise<R> {
    if (options === undefined) return this.acquireWith(undefined, undefined, false, true);
    const { blocking = true, timeout, signal, fresh = false } = options;
    return this.acquireWith(timeout, signal, fresh, blocking);
  }

  /**
   * @internal {@link acquire} with its options as arguments, for hot callers that would
   * otherwise build an options object per call.
   */
  acquireWith(
    timeout: number | undefined,
    signal: AbortSignal | undefined,
    fresh: boolean,
    blocking = true,
  ): Promise<R> {
    if (timeout !== undefined) {
      try {
        checkNumber('timeout', timeout, 0, true, false);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (this.#state !== 'open') return Promise.reject(new PoolClosedError());
    if (signal?.aborted) return Promise.reject(abortReason(signal));

    if (fresh) {
      // Make room by retiring the longest-idle resource rather than lending it.
      const oldest = this.#idle.entries[0];
      if (oldest !== undefined && this.#open() >= this.#maxSize) {
        this.#idle.remove([oldest]);
        if (this.#idle.size === 0) this.#cancelEviction();
        this.#destroyResource(oldest.resource, 'not-reusable');
      }
    } else {
      const entry = this.#takeIdle();
      if (entry !== undefined) {
        this.#lend(entry.resource);
        return Promise.resolve(entry.resource);
      }
    }
    const canCreate = this.#open() < this.#maxSize;
    if (!canCreate) {
      if (!blocking) return Promise.reject(new EmptyPoolError());
      if (this.#waiters.size + this.#outOfQueue.size >= this.#maxWaiting)
        return Promise.reject(new QueueFullError(this.#maxWaiting));
    }

    const waiter = new Waiter<R>();
    waiter.fresh = fresh;
    if (signal !== undefined) {
      // Listened to before the waiter is queued: a signal that refuses a listener leaves
      // nothing behind (no waiter, no timer), and is never asked to remove one.
      const listener = (): void => {
        if (waiter.fail(abortReason(signal))) this.#gaveUp(waiter);
      };
      try {
        signal.addEventListener('abort', listener, { once: true });
      } catch {
        return Promise.reject(new InvalidArgumentError('signal must be an AbortSignal'));
      }
      waiter.abort = { signal, listener };
    }
    this.#waiters.push(waiter);
    if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY) {
      waiter.timer = this.#clock.schedule(() => {
        const cause = this.#lastCreateError;
        const error = new AcquireTimeoutError(timeout, cause === undefined ? {} : { cause });
        if (waiter.fail(error)) {
          this.#timedOut++;
          this.#gaveUp(waiter);
        }
      }, timeout);
    }
    if (canCreate) this.#startCreate(waiter);
    return waiter.promise;
  }

  /**
   * Lends a healthy idle resource at once, or returns undefined: never waits, never creates.
   * The fast path of {@link acquire} for callers that can skip a promise when one is idle.
   */
  tryAcquireIdle(): R | undefined {
    if (this.#state !== 'open') return undefined;
    const entry = this.#takeIdle();
    if (entry === undefined) return undefined;
    this.#lend(entry.resource);
    return entry.resource;
  }

  /**
   * Takes back a leased resource: it goes straight to the oldest waiter, else onto the
   * idle stack; it is destroyed instead if not reusable, past `expiresAt`, or the pool is
   * closing. A no-op for a resource that destroy() already destroyed.
   *
   * @throws InvalidStateError if `resource` is not currently leased.
   * @throws InvalidArgumentError if `expiresAt` is not a number.
   */
  release(resource: R, options?: ReleaseOptions): void {
    if (options === undefined) {
      this.releaseWith(resource, true, Number.POSITIVE_INFINITY);
      return;
    }
    const { reusable = true, expiresAt = Number.POSITIVE_INFINITY } = options;
    this.releaseWith(resource, reusable, expiresAt);
  }

  /**
   * @internal {@link release} with its options as arguments, for hot callers that would
   * otherwise build an options object per call.
   */
  releaseWith(resource: R, reusable: boolean, expiresAt: number): void {
    if (typeof expiresAt !== 'number' || Number.isNaN(expiresAt)) {
      throw new InvalidArgumentError(`expiresAt must be a number, got ${String(expiresAt)}`);
    }
    if (!this.#unlend(resource, 'release')) return;
    // The clock is read only when something can expire: now for `expiresAt`, and later, for
    // the idle deadline, only if the resource goes idle rather than straight to a waiter.
    const now = expiresAt !== Number.POSITIVE_INFINITY ? this.#clock.now() : Number.NaN;
    if (this.#state !== 'open') this.#destroyResource(resource, 'pool-closed');
    else if (!reusable) this.#destroyResource(resource, 'not-reusable');
    else if (expiresAt <= now) this.#destroyResource(resource, 'expired');
    else {
      const waiter = this.#nextWaiterForUsed();
      if (waiter === undefined) {
        const idleNow = !Number.isNaN(now)
          ? now
          : this.#idleTimeout !== Number.POSITIVE_INFINITY
            ? this.#clock.now()
            : 0;
        this.#pushIdle(resource, idleNow, expiresAt);
      } else if (waiter.fresh) {
        // The slot passes to a new resource made for this waiter.
        this.#destroyResource(resource, 'not-reusable');
        this.#startCreate(waiter, true);
      } else {
        this.#deliver(waiter, resource);
      }
      return;
    }
    this.#afterSlotFreed();
  }

  /**
   * The waiter a released resource goes to: the oldest one, skipping fresh waiters that
   * already have a create in flight (they are taken out of line to wait for it). A fresh
   * waiter returned here is already out of the queue.
   */
  #nextWaiterForUsed(): Waiter<R> | undefined {
    for (;;) {
      const waiter = this.#waiters.take();
      if (waiter === undefined || !waiter.fresh) return waiter;
      waiter.queued = false;
      this.#outOfQueue.add(waiter);
      const ticket = waiter.create;
      if (ticket === undefined) return waiter;
      ticket.dedicated = true;
      this.#dedicated++;
    }
  }

  /** A waiter settled by timeout, abort or a failed create: take it off the books. */
  #gaveUp(waiter: Waiter<R>): void {
    if (waiter.queued) this.#waiters.cancelled();
    else this.#outOfQueue.delete(waiter);
  }

  /**
   * Destroys the longest-idle resource, freeing its slot (and whatever it holds) for others.
   * Returns false when nothing is idle.
   */
  evictOldest(): boolean {
    const oldest = this.#idle.entries[0];
    return oldest !== undefined && this.evict(oldest.resource);
  }

  /**
   * Destroys an idle resource now (its owner learned it is dead: the peer closed it) instead
   * of waiting for the next checkout to find it unhealthy. Returns false when the resource
   * is not idle in this pool.
   */
  evict(resource: R): boolean {
    const entry = this.#idle.entries.find((e) => e.resource === resource);
    if (entry === undefined) return false;
    this.#idle.remove([entry]);
    if (this.#idle.size === 0) this.#cancelEviction();
    this.#destroyResource(resource, 'unhealthy');
    this.#afterSlotFreed();
    return true;
  }

  /**
   * Destroys a leased resource ('discarded') instead of taking it back, and hands its
   * slot to a waiter. A no-op for a resource that destroy() already destroyed.
   *
   * @throws InvalidStateError if `resource` is not currently leased.
   */
  discard(resource: R): void {
    if (!this.#unlend(resource, 'discard')) return;
    this.#destroyResource(resource, this.#state === 'open' ? 'discarded' : 'pool-closed');
    this.#afterSlotFreed();
  }

  /**
   * Graceful shutdown: rejects waiters with PoolClosedError and destroys idle resources
   * now; leased ones are destroyed when they come back, in-flight creates when they
   * finish. Resolves once every resource is destroyed. Idempotent (same promise).
   */
  close(): Promise<void> {
    if (this.#drained !== undefined) return this.#drained;
    this.#state = 'closing';
    this.#shutDown(new PoolClosedError(), 'pool-closed');
    return this.#drained ?? Promise.resolve();
  }

  /**
   * Forced shutdown: like close(), but also destroys leased resources now ('pool-destroyed';
   * their later release/discard is a silent no-op) and aborts in-flight creates through
   * their signal with `reason`. Resolves once every resource is destroyed.
   */
  destroy(reason?: Error): Promise<void> {
    if (this.#state === 'destroyed') return this.#drained ?? Promise.resolve();
    const wasOpen = this.#state === 'open';
    this.#state = 'destroyed';
    const error =
      reason === undefined
        ? new PoolClosedError('the pool was destroyed')
        : new PoolClosedError('the pool was destroyed', { cause: reason });
    if (wasOpen) this.#shutDown(error, 'pool-destroyed');
    for (const resource of this.#leased) {
      this.#orphaned.add(resource);
      this.#destroyResource(resource, 'pool-destroyed');
    }
    this.#leased.clear();
    this.#abort.abort(reason ?? error);
    this.#checkDrained();
    return this.#drained ?? Promise.resolve();
  }

  // --- internals -------------------------------------------------------------------

  #open(): number {
    return this.#connecting + this.#idle.size + this.#leased.size;
  }

  /** Common part of close() and destroy(): no new work, waiters rejected, idle destroyed. */
  #shutDown(error: Error, reason: CloseReason): void {
    this.#drained = new Promise<void>((resolve) => {
      this.#onDrained = resolve;
    });
    for (let waiter = this.#waiters.take(); waiter !== undefined; waiter = this.#waiters.take()) {
      waiter.fail(error);
    }
    for (const waiter of this.#outOfQueue) waiter.fail(error);
    this.#outOfQueue.clear();
    this.#stopEviction();
    for (const entry of this.#idle.drain()) this.#destroyResource(entry.resource, reason);
    this.#checkDrained();
  }

  /** Resolves the shutdown promise once nothing is open, after the destroy callbacks settle. */
  #checkDrained(): void {
    if (this.#state === 'open' || this.#onDrained === undefined || this.#open() !== 0) return;
    const resolve = this.#onDrained;
    this.#onDrained = undefined;
    void Promise.all(this.#pendingDestroys).then(() => resolve());
  }

  #lend(resource: R): void {
    this.#leased.add(resource);
    this.#acquired++;
  }

  /** Ends a lease; false when destroy() already took care of the resource. */
  #unlend(resource: R, what: string): boolean {
    if (this.#leased.delete(resource)) return true;
    if (this.#orphaned.has(resource)) return false;
    throw new InvalidStateError(`cannot ${what} a resource that is not leased from this pool`);
  }

  #deliver(waiter: Waiter<R>, resource: R): void {
    // take() only returns live waiters and nothing runs in between, so this cannot fail.
    if (!waiter.fulfil(resource)) throw new Error('internal: delivered to a settled waiter');
    this.#lend(resource);
  }

  /** Pops idle entries until a lendable one, destroying expired and unhealthy ones on the way. */
  #takeIdle(): IdleEntry<R> | undefined {
    // The clock is read only when some entry can expire at all: a pool that never expires
    // anything never pays for it.
    let now = Number.NaN;
    let found: IdleEntry<R> | undefined;
    for (let entry = this.#idle.pop(); entry !== undefined; entry = this.#idle.pop()) {
      if (entry.deadline !== Number.POSITIVE_INFINITY && Number.isNaN(now)) now = this.#clock.now();
      if (entry.deadline <= now) {
        this.#destroyResource(entry.resource, entry.expiresAt <= now ? 'expired' : 'idle-timeout');
      } else if (!this.#healthy(entry.resource)) {
        this.#destroyResource(entry.resource, 'unhealthy');
      } else {
        found = entry;
        break;
      }
    }
    if (this.#idle.size === 0) this.#cancelEviction();
    return found;
  }

  #healthy(resource: R): boolean {
    if (this.#isHealthy === undefined) return true;
    try {
      return this.#isHealthy(resource) === true;
    } catch {
      return false;
    }
  }

  /** {@link ResourcePoolOptions.keepIdle}'s answer; a throw is a no. */
  #mayIdle(resource: R): boolean {
    if (this.#keepIdle === undefined) return true;
    try {
      return this.#keepIdle(resource) === true;
    } catch {
      return false;
    }
  }

  /** Puts a resource on the idle stack; `now` may be 0 when nothing expires (no deadline to compute). */
  #pushIdle(resource: R, now: number, expiresAt: number): void {
    const deadline = Math.min(now + this.#idleTimeout, expiresAt);
    const expired = deadline <= now;
    if (expired || !this.#mayIdle(resource)) {
      this.#destroyResource(resource, expired ? 'idle-timeout' : 'not-reusable');
      this.#afterSlotFreed();
      return;
    }
    this.#idle.push({ resource, deadline, expiresAt });
    if (deadline < this.#evictionAt) this.#armEviction(deadline, now);
  }

  /** Arms the eviction timer for `at`; `now` is the clock's current reading. */
  #armEviction(at: number, now: number): void {
    this.#evictionAt = at;
    const timer = this.#evictionTimer;
    if (timer !== undefined) {
      if (timer.refresh?.(at - now) === true) return;
      timer.cancel();
    }
    this.#evictionTimer = this.#clock.schedule(() => this.#evict(), at - now);
  }

  /** Nothing is idle: the timer must not fire, but is kept to be refreshed later. */
  #cancelEviction(): void {
    if (this.#evictionAt === Number.POSITIVE_INFINITY) return;
    this.#evictionAt = Number.POSITIVE_INFINITY;
    const timer = this.#evictionTimer;
    if (timer?.suspend !== undefined) timer.suspend();
    else {
      timer?.cancel();
      this.#evictionTimer = undefined;
    }
  }

  /** Shutdown: the timer goes for good. */
  #stopEviction(): void {
    this.#evictionTimer?.cancel();
    this.#evictionTimer = undefined;
    this.#evictionAt = Number.POSITIVE_INFINITY;
  }

  /** The eviction timer's callback: destroys what has expired and re-arms for the next deadline. */
  #evict(): void {
    // The timer has fired; it stays for the next refresh.
    this.#evictionAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    const plan = planEviction(this.#idle.entries, now);
    this.#idle.remove(plan.expired);
    for (const entry of plan.expired) {
      this.#destroyResource(entry.resource, entry.expiresAt <= now ? 'expired' : 'idle-timeout');
    }
    if (plan.nextRunAt !== undefined) this.#armEviction(plan.nextRunAt, now);
    if (plan.expired.length > 0) this.#afterSlotFreed();
  }

  /** Starts one create, counted toward maxSize until it settles. */
  #startCreate(trigger: Waiter<R> | undefined, dedicated = false): void {
    const ticket: CreateTicket<R> = { trigger, dedicated };
    if (dedicated) this.#dedicated++;
    if (trigger !== undefined) trigger.create = ticket;
    this.#connecting++;
    let pending: Promise<R>;
    try {
      pending = Promise.resolve(this.#create(this.#abort.signal));
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (resource) => this.#onCreated(ticket, resource),
      (error: unknown) => this.#onCreateFailed(ticket, error),
    );
  }

  /** Detaches a finished create from its trigger; returns the trigger if it still waits on it. */
  #finishCreate(ticket: CreateTicket<R>): Waiter<R> | undefined {
    if (this.#connecting === 0) throw new Error('internal: connecting count underflow');
    this.#connecting--;
    if (ticket.dedicated) {
      if (this.#dedicated === 0) throw new Error('internal: dedicated count underflow');
      this.#dedicated--;
    }
    const trigger = ticket.trigger;
    ticket.trigger = undefined;
    if (trigger === undefined || trigger.create !== ticket) return undefined;
    trigger.create = undefined;
    return trigger.settled ? undefined : trigger;
  }

  #onCreated(ticket: CreateTicket<R>, resource: R): void {
    const trigger = this.#finishCreate(ticket);
    this.#created++;
    this.#lastCreateError = undefined;
    if (this.#state !== 'open') {
      this.#destroyResource(resource, this.#state === 'closing' ? 'pool-closed' : 'pool-destroyed');
      this.#checkDrained();
      return;
    }
    if (ticket.dedicated && trigger !== undefined) {
      this.#outOfQueue.delete(trigger);
      this.#deliver(trigger, resource);
      this.#pump();
      return;
    }
    // Late binding: the resource serves the oldest waiter, not necessarily the trigger.
    const waiter = this.#waiters.take();
    if (waiter === undefined) {
      this.#pushIdle(resource, this.#clock.now(), Number.POSITIVE_INFINITY);
      return;
    }
    // The trigger lost its create to an older waiter; inherit that waiter's create so a
    // later failure still reports to someone who is waiting on it.
    if (trigger !== undefined && waiter !== trigger && waiter.create !== undefined) {
      const inherited = waiter.create;
      waiter.create = undefined;
      inherited.trigger = trigger;
      trigger.create = inherited;
    }
    this.#deliver(waiter, resource);
    this.#pump();
  }

  #onCreateFailed(ticket: CreateTicket<R>, error: unknown): void {
    const trigger = this.#finishCreate(ticket);
    this.#createFailed++;
    if (this.#state !== 'open') {
      this.#checkDrained();
      return;
    }
    this.#lastCreateError = error;
    if (trigger?.fail(error)) this.#gaveUp(trigger);
    this.#pump();
  }

  /** A slot was freed (a resource destroyed): wake the drain check or start creates for waiters. */
  #afterSlotFreed(): void {
    if (this.#state !== 'open') this.#checkDrained();
    else this.#pump();
  }

  /**
   * Starts creates while live waiters outnumber creates in flight and there is room.
   * Creates whose waiter gave up still count: their resource will serve someone.
   */
  #pump(): void {
    if (this.#state !== 'open') return;
    while (
      this.#waiters.size > this.#connecting - this.#dedicated &&
      this.#open() < this.#maxSize
    ) {
      const waiter = this.#waiters.find((w) => w.create === undefined);
      if (waiter === undefined) throw new Error('internal: no uncovered waiter');
      this.#startCreate(waiter);
    }
  }

  #destroyResource(resource: R, reason: CloseReason): void {
    this.#destroyed++;
    let result: void | Promise<void>;
    try {
      result = this.#destroy(resource, reason);
    } catch {
      return;
    }
    if (result !== undefined) {
      // Swallow failures: the resource is gone either way, and close() must still resolve.
      const settled: Promise<void> = Promise.resolve(result).then(
        () => {},
        () => {},
      );
      this.#pendingDestroys.add(settled);
      void settled.then(() => this.#pendingDestroys.delete(settled));
    }
  }
}
