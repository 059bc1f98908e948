/**
 * A generic, bounded resource pool: an MRU idle stack with lazy expiry, a FIFO of
 * waiters, creation counted toward `maxSize` while in flight, one eviction timer, and
 * graceful or forced shutdown. It knows nothing of what a resource is; the client layer
 * plugs HTTP connections in through `create` / `destroy` / `isHealthy`. By default a
 * resource has one holder at a time; with `capacity` it is shared by several (HTTP/2).
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
import { RoomStack, readCapacity, type Share } from './sharing.js';
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
  /**
   * Checked when a resource is taken from the idle stack; false (or a throw) destroys it as
   * 'unhealthy'. With {@link ResourcePoolOptions.capacity}, also before a held resource is
   * shared with one more acquire: false retires it (never lent again, destroyed as
   * 'unhealthy' when its last holder leaves).
   */
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
  /**
   * How many holders `resource` may carry at once right now (an HTTP/2 session: the peer's
   * MAX_CONCURRENT_STREAMS). Without it, every resource has one holder at a time and the pool
   * never calls anything of what follows.
   *
   * With it, an acquire is served by a held resource with room first (the one that most
   * recently gained room: one fills up before the next is shared, so the others drain and
   * age out), then by an idle one, then by a new one; `maxSize` still counts resources. A
   * resource goes idle only when its last holder releases it, and a holder's verdict that it
   * is done for (`reusable: false`, a passed `expiresAt`, discard) stops it being lent again
   * and destroys it when its last holder leaves, never under the others.
   *
   * Read when a resource is created, when it is taken from the idle stack, and on
   * {@link ResourcePool.capacityChanged}; the last answer holds in between. Anything but a
   * number >= 1 (a throw, NaN, a negative) is 0, "lend no more now": the resource is not
   * destroyed, its holders keep it, and once unheld it waits on the idle stack (keeping its
   * slot) until its capacity rises, it expires or it is evicted. A new resource whose
   * capacity is 0 goes idle too, and the acquire its create was started for is rejected with
   * InvalidStateError, so that resources that never take a holder cannot make the pool
   * create without end.
   *
   * Creation is single-flight once a resource has been made: a create in flight is counted
   * as serving as many waiters as the last new resource's capacity, so a burst of acquires
   * on an empty pool waits for one create instead of starting one each. A failed create
   * turns this off (one create per waiter) until a create succeeds again.
   */
  capacity?: (resource: R) => number;
  /**
   * With {@link capacity}: the capacity the first resource is expected to have, before any
   * has been made (default 1). Above 1, creation is single-flight from the start: a burst of
   * acquires on an empty pool waits for one create (an HTTP/2 origin whose protocol is not
   * known yet) rather than starting one each. A resource that turns out to carry fewer
   * holders sets the real figure, and the waiters it cannot serve get creates of their own.
   */
  expectedCapacity?: number;
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
   *
   * With {@link ResourcePoolOptions.capacity} it never shares a held resource either: room on
   * one goes to the plain waiters behind it, and it waits for a resource's last holder to
   * leave (that resource is destroyed and replaced for it) or for a create of its own.
   */
  fresh?: boolean;
}

/** Options of one {@link ResourcePool.release}. */
export interface ReleaseOptions {
  /**
   * Default true; false destroys the resource ('not-reusable'). With
   * {@link ResourcePoolOptions.capacity}, held by others it is only retired: never lent
   * again, and destroyed when its last holder leaves.
   */
  reusable?: boolean;
  /**
   * Absolute clock time after which the resource must not be lent again (a keep-alive
   * hint, a max lifetime). The idle deadline becomes min(now + idleTimeout, expiresAt).
   * With {@link ResourcePoolOptions.capacity}, the earliest one its holders gave counts,
   * from the hold it was given on until the resource has no holder.
   */
  expiresAt?: number;
}

/** A snapshot of a pool's state and lifetime counters. */
export interface ResourcePoolStats {
  /** connecting + idle + leased; never above maxSize. */
  open: number;
  idle: number;
  /** Resources with at least one holder. */
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
  /**
   * Only with {@link ResourcePoolOptions.capacity} (absent otherwise, where it would always
   * equal `leased`): acquires holding a resource now, summed over the leased resources.
   */
  holders?: number;
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

/** Room on a shared resource goes to waiters that may take a used one: not fresh ones. */
const takesUsed = (waiter: { fresh: boolean }): boolean => !waiter.fresh;

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
  /** {@link ResourcePoolOptions.capacity}; undefined when every resource has one holder. */
  readonly #capacity: ((resource: R) => number) | undefined;

  #state: State = 'open';
  readonly #idle = new IdleStack<R>();
  /** Without `capacity`: the leased resources. */
  readonly #leased = new Set<R>();
  /**
   * With `capacity`: the sharing state of each resource lent at least once and not yet
   * destroyed; kept (at 0 holders) while it is idle, so that lending it again allocates
   * nothing. Its leased resources are those with holders.
   */
  readonly #shares = new Map<R, Share<R, CloseReason>>();
  /** With `capacity`: how many resources have holders (the leased ones; #leased stays empty). */
  #sharedLeased = 0;
  /** With `capacity`: the leased resources that can take another holder now. */
  readonly #room = new RoomStack<Share<R, CloseReason>>();
  /** With `capacity`: holders summed over #shares. */
  #holders = 0;
  /**
   * With `capacity`: how many waiters one create in flight is counted as serving (the last
   * new resource's capacity, at least 1); back to 1 when a create fails. Always 1 without.
   */
  #perCreate = 1;
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
    if (options.capacity !== undefined && typeof options.capacity !== 'function') {
      throw new InvalidArgumentError('capacity must be a function');
    }
    this.#create = options.create;
    this.#destroy = options.destroy;
    this.#isHealthy = options.isHealthy;
    this.#keepIdle = options.keepIdle;
    this.#maxSize = options.maxSize ?? Number.POSITIVE_INFINITY;
    this.#idleTimeout = options.idleTimeout ?? Number.POSITIVE_INFINITY;
    this.#maxWaiting = options.maxWaiting ?? Number.POSITIVE_INFINITY;
    this.#clock = options.clock ?? systemClock;
    this.#capacity = options.capacity;
    if (options.expectedCapacity !== undefined) {
      checkNumber('expectedCapacity', options.expectedCapacity, 1, false, true);
      if (options.capacity !== undefined) this.#perCreate = Math.floor(options.expectedCapacity);
    }
    // Every create in flight listens on this one signal; many at once is normal, not a leak.
    setMaxListeners(0, this.#abort.signal);
  }

  /** True once close() or destroy() was called. */
  get closed(): boolean {
    return this.#state !== 'open';
  }

  /** A snapshot of the pool's state and counters. */
  stats(): ResourcePoolStats {
    const stats: ResourcePoolStats = {
      open: this.#open(),
      idle: this.#idle.size,
      leased: this.#leased.size + this.#sharedLeased,
      connecting: this.#connecting,
      waiting: this.#waiters.size + this.#outOfQueue.size,
      created: this.#created,
      destroyed: this.#destroyed,
      createFailed: this.#createFailed,
      acquired: this.#acquired,
      timedOut: this.#timedOut,
    };
    if (this.#capacity !== undefined) stats.holders = this.#holders;
    return stats;
  }

  /**
   * Lends a resource: the most recently released healthy idle one, else a new one if
   * the pool has room, else the next one released (FIFO among waiters). With
   * {@link ResourcePoolOptions.capacity}, a held resource with room comes before all of
   * these, and room freed on one goes to the oldest waiter.
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
    } else if (this.#capacity !== undefined) {
      const shared = this.#takeShared(this.#capacity);
      if (shared !== undefined) return Promise.resolve(shared);
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
    // Single-flight (capacity only): no create of its own for a waiter that the creates
    // in flight are counted as serving already. A fresh waiter needs a resource to itself,
    // and a non-blocking one must not end up waiting on a full pool for want of one.
    if (
      canCreate &&
      (this.#perCreate === 1 || fresh || !blocking || this.#waiters.size > this.#covered())
    ) {
      this.#startCreate(waiter);
    }
    return waiter.promise;
  }

  /**
   * Lends a healthy idle resource at once, or returns undefined: never waits, never creates.
   * The fast path of {@link acquire} for callers that can skip a promise when one is idle.
   * With {@link ResourcePoolOptions.capacity} it shares a held resource with room first,
   * as acquire does.
   */
  tryAcquireIdle(): R | undefined {
    if (this.#state !== 'open') return undefined;
    if (this.#capacity !== undefined) return this.#takeShared(this.#capacity);
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
   * With {@link ResourcePoolOptions.capacity} it ends one hold. While others hold the
   * resource, the room goes to the oldest waiter that may take it, and `reusable: false` or
   * a passed `expiresAt` only stops it being lent again (for good): it is destroyed, with
   * that reason, when its last holder leaves. The rules above apply as the last one does.
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
    if (this.#capacity !== undefined) {
      this.#endHold(resource, 'release', reusable ? undefined : 'not-reusable', expiresAt);
      return;
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
        this.#pushIdle(resource, this.#idleSince(now), expiresAt);
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
   * is not idle in this pool. A held resource, shared or not, is left alone: to stop lending
   * a shared one, report a capacity of 0 ({@link capacityChanged}) or let a holder release
   * it with `reusable: false`.
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
   * With {@link ResourcePoolOptions.capacity} it ends one hold and stops the resource being
   * lent again; it is destroyed when its last holder leaves, never under the others (their
   * work on it may be fine; if not, they will say so as they leave).
   *
   * @throws InvalidStateError if `resource` is not currently leased.
   */
  discard(resource: R): void {
    if (this.#capacity !== undefined) {
      this.#endHold(resource, 'discard', 'discarded', Number.POSITIVE_INFINITY);
      return;
    }
    if (!this.#unlend(resource, 'discard')) return;
    this.#destroyResource(resource, this.#state === 'open' ? 'discarded' : 'pool-closed');
    this.#afterSlotFreed();
  }

  /**
   * Re-reads {@link ResourcePoolOptions.capacity} for `resource` (an HTTP/2 peer sent new
   * SETTINGS) and hands any room it now has to the oldest waiters that may take it. A
   * capacity at or below the current holders lends no more, and takes nothing away from
   * them. An idle resource's capacity is read anyway when it is next taken; it is read here
   * only if waiters could use it now (it was left idle at capacity 0).
   *
   * A no-op without `capacity`, once the pool is closed, for a resource that will not be
   * lent again, and for one the pool no longer has (the news may come after it was destroyed).
   */
  capacityChanged(resource: R): void {
    const capacity = this.#capacity;
    if (capacity === undefined || this.#state !== 'open') return;
    const share = this.#shares.get(resource);
    if (share !== undefined && share.holders > 0) {
      if (share.closing !== undefined) return;
      share.capacity = readCapacity(capacity, resource);
      if (share.holders < share.capacity) {
        this.#room.push(share);
        this.#offerRoom(share);
      } else {
        this.#room.remove(share);
      }
      return;
    }
    if (this.#waiters.find(takesUsed) === undefined) return;
    const entry = this.#idle.entries.find((e) => e.resource === resource);
    if (entry === undefined) return;
    const now = entry.deadline !== Number.POSITIVE_INFINITY ? this.#clock.now() : Number.NaN;
    const reason: CloseReason | undefined =
      entry.deadline <= now
        ? entry.expiresAt <= now
          ? 'expired'
          : 'idle-timeout'
        : this.#healthy(resource)
          ? undefined
          : 'unhealthy';
    const lendable = reason === undefined ? readCapacity(capacity, resource) : 0;
    if (reason === undefined && lendable < 1) return;
    this.#idle.remove([entry]);
    if (this.#idle.size === 0) this.#cancelEviction();
    if (reason !== undefined) {
      this.#destroyResource(resource, reason);
      this.#afterSlotFreed();
      return;
    }
    const waiter = this.#waiters.takeFirst(takesUsed);
    if (waiter === undefined) throw new Error('internal: the waiter found is gone');
    this.#offerRoom(this.#deliverShared(waiter, resource, lendable));
  }

  /**
   * Graceful shutdown: rejects waiters with PoolClosedError and destroys idle resources
   * now; leased ones are destroyed when they come back (a shared one when its last holder
   * leaves), in-flight creates when they finish. Resolves once every resource is
   * destroyed. Idempotent (same promise).
   */
  close(): Promise<void> {
    if (this.#drained !== undefined) return this.#drained;
    this.#state = 'closing';
    this.#shutDown(new PoolClosedError(), 'pool-closed');
    return this.#drained ?? Promise.resolve();
  }

  /**
   * Forced shutdown: like close(), but also destroys leased resources now, once each however
   * many hold them ('pool-destroyed'; every holder's later release/discard is a silent
   * no-op), and aborts in-flight creates through
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
    // The idle went in #shutDown (at close() or just now): every share left is held.
    for (const share of this.#shares.values()) {
      this.#orphaned.add(share.resource);
      this.#destroyResource(share.resource, 'pool-destroyed');
    }
    this.#sharedLeased = 0;
    this.#shares.clear();
    this.#room.clear();
    this.#holders = 0;
    this.#abort.abort(reason ?? error);
    this.#checkDrained();
    return this.#drained ?? Promise.resolve();
  }

  // --- internals -------------------------------------------------------------------

  #open(): number {
    return this.#connecting + this.#idle.size + this.#leased.size + this.#sharedLeased;
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

  // --- sharing (only with the capacity option) ---------------------------------------

  /** Waiters the creates in flight are counted as serving; with one each, their number. */
  #covered(): number {
    const creates = this.#connecting - this.#dedicated;
    return creates === 0 ? 0 : creates * this.#perCreate;
  }

  /**
   * Lends what an acquire takes at once: a held resource with room, else a lendable idle
   * one. Returns undefined when the caller has to wait or create.
   */
  #takeShared(capacity: (resource: R) => number): R | undefined {
    return this.#takeRoom() ?? this.#takeIdleShared(capacity);
  }

  /** One more holder on the top of the room stack, skipping (and retiring) the unhealthy and expired. */
  #takeRoom(): R | undefined {
    for (let share = this.#room.peek(); share !== undefined; share = this.#room.peek()) {
      if (this.#pastExpiry(share)) continue;
      if (!this.#healthy(share.resource)) {
        this.#retire(share, 'unhealthy');
        continue;
      }
      this.#hold(share);
      return share.resource;
    }
    return undefined;
  }

  /**
   * As {@link #takeIdle}, but an entry at capacity 0 stays where it is (parked), and the
   * first lendable one goes to waiters, if any, before the caller: they stood beside it only
   * because its capacity rose without a {@link capacityChanged}.
   */
  #takeIdleShared(capacity: (resource: R) => number): R | undefined {
    let now = Number.NaN;
    let parked: IdleEntry<R>[] | undefined;
    let freed = false;
    let servedWaiters = false;
    let lent: R | undefined;
    for (let entry = this.#idle.pop(); entry !== undefined; entry = this.#idle.pop()) {
      if (entry.deadline !== Number.POSITIVE_INFINITY && Number.isNaN(now)) now = this.#clock.now();
      if (entry.deadline <= now) {
        this.#destroyResource(entry.resource, entry.expiresAt <= now ? 'expired' : 'idle-timeout');
        freed = true;
        continue;
      }
      if (!this.#healthy(entry.resource)) {
        this.#destroyResource(entry.resource, 'unhealthy');
        freed = true;
        continue;
      }
      const room = readCapacity(capacity, entry.resource);
      if (room < 1) {
        parked ??= [];
        parked.push(entry);
        continue;
      }
      const waiter = this.#waiters.size > 0 ? this.#waiters.takeFirst(takesUsed) : undefined;
      if (waiter === undefined) {
        this.#lendShared(entry.resource, room);
        lent = entry.resource;
        break;
      }
      this.#offerRoom(this.#deliverShared(waiter, entry.resource, room));
      servedWaiters = true;
    }
    if (parked !== undefined) {
      for (let i = parked.length - 1; i >= 0; i--) this.#idle.push(parked[i]!);
    }
    if (this.#idle.size === 0) this.#cancelEviction();
    // Waiters can stand beside parked resources: a slot freed under them is theirs.
    if (freed && this.#waiters.size > 0) this.#pump();
    // Waiters that went first may have left room on what they took.
    return lent ?? (servedWaiters ? this.#takeRoom() : undefined);
  }

  /** A resource with no holders gets its first: a share, on the room stack if it has more room. */
  #lendShared(resource: R, capacity: number): Share<R, CloseReason> {
    let share = this.#shares.get(resource);
    if (share === undefined) {
      share = {
        resource,
        holders: 1,
        capacity,
        closing: undefined,
        expiresAt: Number.POSITIVE_INFINITY,
        stacked: false,
      };
      this.#shares.set(resource, share);
    } else {
      // Unheld since its last holder left: it starts afresh.
      share.holders = 1;
      share.capacity = capacity;
      share.closing = undefined;
      share.expiresAt = Number.POSITIVE_INFINITY;
    }
    this.#sharedLeased++;
    this.#holders++;
    this.#acquired++;
    if (capacity > 1) this.#room.push(share);
    return share;
  }

  #deliverShared(waiter: Waiter<R>, resource: R, capacity: number): Share<R, CloseReason> {
    if (!waiter.fulfil(resource)) throw new Error('internal: delivered to a settled waiter');
    return this.#lendShared(resource, capacity);
  }

  /** One more holder on a resource with room. */
  #hold(share: Share<R, CloseReason>): void {
    share.holders++;
    this.#holders++;
    this.#acquired++;
    if (share.holders >= share.capacity) this.#room.remove(share);
  }

  /** Never lend `share` again; destroy it for `reason` (unless an earlier one) when its last holder leaves. */
  #retire(share: Share<R, CloseReason>, reason: CloseReason): void {
    share.closing ??= reason;
    this.#room.remove(share);
  }

  /** Retires a share past its holders' `expiresAt`; the clock is read only if one was given. */
  #pastExpiry(share: Share<R, CloseReason>): boolean {
    if (share.expiresAt === Number.POSITIVE_INFINITY || share.expiresAt > this.#clock.now()) {
      return false;
    }
    this.#retire(share, 'expired');
    return true;
  }

  /** Lends the room on `share` to the oldest waiters that may take a used resource. */
  #offerRoom(share: Share<R, CloseReason>): void {
    while (
      share.holders < share.capacity &&
      share.closing === undefined &&
      this.#waiters.size > 0 &&
      !this.#pastExpiry(share)
    ) {
      const waiter = this.#waiters.takeFirst(takesUsed);
      if (waiter === undefined) return;
      if (!waiter.fulfil(share.resource))
        throw new Error('internal: delivered to a settled waiter');
      this.#hold(share);
    }
  }

  /** release/discard with `capacity`: one hold ends; `verdict` says the holder is done with it for good. */
  #endHold(resource: R, what: string, verdict: CloseReason | undefined, expiresAt: number): void {
    const share = this.#shares.get(resource);
    if (share === undefined || share.holders === 0) {
      if (this.#orphaned.has(resource)) return;
      throw new InvalidStateError(`cannot ${what} a resource that is not leased from this pool`);
    }
    share.holders--;
    this.#holders--;
    const now = expiresAt !== Number.POSITIVE_INFINITY ? this.#clock.now() : Number.NaN;
    const reason = verdict ?? (expiresAt <= now ? 'expired' : undefined);
    if (reason !== undefined) this.#retire(share, reason);
    else if (expiresAt < share.expiresAt) share.expiresAt = expiresAt;
    if (share.holders > 0) {
      if (this.#state === 'open' && share.closing === undefined && share.holders < share.capacity) {
        this.#room.push(share);
        this.#offerRoom(share);
      }
      return;
    }
    this.#sharedLeased--;
    this.#room.remove(share);
    if (this.#state !== 'open') this.#destroyResource(resource, 'pool-closed');
    else if (share.closing !== undefined) this.#destroyResource(resource, share.closing);
    else {
      this.#reuse(share, now);
      return;
    }
    this.#afterSlotFreed();
  }

  /**
   * The last holder left a resource that may be lent again: what release does with an
   * unshared one (to the oldest waiter, or the idle stack), past the earliest `expiresAt`
   * its holders gave. At capacity 0 it goes idle. `now` is NaN if the clock was not read.
   */
  #reuse(share: Share<R, CloseReason>, now: number): void {
    const resource = share.resource;
    if (share.expiresAt !== Number.POSITIVE_INFINITY) {
      if (Number.isNaN(now)) now = this.#clock.now();
      if (share.expiresAt <= now) {
        this.#destroyResource(resource, 'expired');
        this.#afterSlotFreed();
        return;
      }
    }
    const waiter = share.capacity < 1 ? undefined : this.#nextWaiterForUsed();
    if (waiter === undefined) {
      this.#pushIdle(resource, this.#idleSince(now), share.expiresAt);
    } else if (waiter.fresh) {
      // The slot passes to a new resource made for this waiter.
      this.#destroyResource(resource, 'not-reusable');
      this.#startCreate(waiter, true);
    } else {
      this.#offerRoom(this.#deliverShared(waiter, resource, share.capacity));
    }
  }

  /** A create succeeded with `capacity`: the resource serves the oldest waiter, and its room the next ones. */
  #createdShared(
    capacity: (resource: R) => number,
    ticket: CreateTicket<R>,
    trigger: Waiter<R> | undefined,
    resource: R,
  ): void {
    const room = readCapacity(capacity, resource);
    this.#perCreate = Math.max(1, room);
    if (room < 1) {
      // Nobody can have it; its trigger is told, so a kind that never takes a holder ends
      // in errors rather than in one create after another.
      const error = new InvalidStateError(
        'a new resource has a capacity of 0: nothing can be lent',
      );
      this.#lastCreateError = error;
      if (trigger?.fail(error)) this.#gaveUp(trigger);
      this.#pushIdle(resource, this.#clock.now(), Number.POSITIVE_INFINITY);
      this.#pump();
      return;
    }
    let waiter: Waiter<R> | undefined;
    if (ticket.dedicated && trigger !== undefined) {
      this.#outOfQueue.delete(trigger);
      waiter = trigger;
    } else {
      waiter = this.#waiters.take();
      if (waiter === undefined) {
        this.#pushIdle(resource, this.#clock.now(), Number.POSITIVE_INFINITY);
        return;
      }
      this.#inherit(trigger, waiter);
    }
    this.#offerRoom(this.#deliverShared(waiter, resource, room));
    this.#pump();
  }

  // --- idle stack and eviction ---------------------------------------------------------

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

  /**
   * When a resource going idle now became idle: `now` when the caller read the clock, else
   * the clock, read only when an idle timeout will need it (no timeout: 0).
   */
  #idleSince(now: number): number {
    if (!Number.isNaN(now)) return now;
    return this.#idleTimeout !== Number.POSITIVE_INFINITY ? this.#clock.now() : 0;
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
    if (this.#capacity !== undefined) {
      this.#createdShared(this.#capacity, ticket, trigger, resource);
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
    this.#inherit(trigger, waiter);
    this.#deliver(waiter, resource);
    this.#pump();
  }

  /**
   * The trigger lost its create to an older waiter; it inherits that waiter's create so a
   * later failure still reports to someone who is waiting on it.
   */
  #inherit(trigger: Waiter<R> | undefined, waiter: Waiter<R>): void {
    if (trigger !== undefined && waiter !== trigger && waiter.create !== undefined) {
      const inherited = waiter.create;
      waiter.create = undefined;
      inherited.trigger = trigger;
      trigger.create = inherited;
    }
  }

  #onCreateFailed(ticket: CreateTicket<R>, error: unknown): void {
    const trigger = this.#finishCreate(ticket);
    this.#createFailed++;
    // Until a create succeeds, each waiter gets a create of its own (no single-flight).
    this.#perCreate = 1;
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
   * Starts creates while live waiters outnumber what creates in flight will serve (one
   * waiter each, or more with single-flight sharing) and there is room. Creates whose
   * waiter gave up still count: their resource will serve someone.
   */
  #pump(): void {
    if (this.#state !== 'open') return;
    while (this.#waiters.size > this.#covered() && this.#open() < this.#maxSize) {
      const waiter = this.#waiters.find((w) => w.create === undefined);
      if (waiter === undefined) throw new Error('internal: no uncovered waiter');
      this.#startCreate(waiter);
    }
  }

  #destroyResource(resource: R, reason: CloseReason): void {
    this.#destroyed++;
    if (this.#capacity !== undefined) this.#shares.delete(resource);
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
