/**
 * Leases of one pool's connections: when each began and ended (the pool's `waitTime` and
 * `leaseTime`), and the leak detector: a timer per lease when `leakDetectionTimeout` is set,
 * a finalizer per lease `acquire()` handed out, and the warning a leak gives.
 *
 * What a lease ends with (the connection back in the pool, or closed) is the pool's business;
 * this module only keeps the books and says when a lease was lost.
 */
import type { Clock, Timer } from '../clock.js';
import { DurationRecorder } from './histogram.js';

/**
 * The lease a connection is in, if any. One per connection, reused by each of its leases, so
 * a lease costs no allocation of its own.
 */
export class LeaseState {
  /** When the current lease began (performance.now() ms); NaN while not leased. */
  startedAt = Number.NaN;
  /** Counts leases, so a finalizer can tell whether the lease it watched is still the current one. */
  id = 0;
  /** Where the current lease was acquired, when leak detection is on. */
  acquiredAt: Error | undefined;
  /** Fires the leak warning for the current lease, when leak detection is on. */
  leakTimer: Timer | undefined;

  /** True from the start of a lease to its end. */
  get active(): boolean {
    return !Number.isNaN(this.startedAt);
  }
}

/** What a {@link Leases} book keeps leases of: anything that carries a {@link LeaseState}. */
export interface Leased {
  readonly lease: LeaseState;
}

/** Settings of a {@link Leases} book. */
export interface LeasesOptions<S extends Leased> {
  /** The pool's origin, for the warning. */
  readonly origin: string;
  /** Warn when a lease lasts longer than this (ms); undefined or Infinity: no timer. */
  readonly leakDetectionTimeout: number | undefined;
  /** Runs the leak timers (systemClock's do not keep the process alive). */
  readonly clock: Clock;
  /**
   * A lease handed out by `acquire()` became garbage while it was still the current lease of
   * `slot`: the pool decides what to do (warn and close, or leave a draining body be).
   */
  readonly onAbandoned: (slot: S) => void;
}

/** The leases of one pool: timing, leak timers and finalizers, and the leak count. */
export class Leases<S extends Leased> {
  /** Leaks reported, ever. */
  leaks = 0;
  /** ms callers waited for a connection (acquire to lend). */
  readonly waitTime = new DurationRecorder();
  /** ms connections stayed leased (lend to return). */
  readonly leaseTime = new DurationRecorder();
  readonly #origin: string;
  readonly #timeout: number | undefined;
  readonly #clock: Clock;
  readonly #abandoned: FinalizationRegistry<{ slot: S; id: number }>;

  constructor(options: LeasesOptions<S>) {
    this.#origin = options.origin;
    const timeout = options.leakDetectionTimeout;
    this.#timeout = timeout !== undefined && Number.isFinite(timeout) ? timeout : undefined;
    this.#clock = options.clock;
    const onAbandoned = options.onAbandoned;
    this.#abandoned = new FinalizationRegistry(({ slot, id }) => {
      const lease = slot.lease;
      // Only the lease that was dropped: its connection may have been lent again since.
      if (lease.id === id && lease.active) onAbandoned(slot);
    });
  }

  /**
   * A lease of `lease`'s connection begins now, after a wait that began at `waitStarted`
   * (performance.now() ms; NaN for no wait, recorded as 0). With leak detection on, the
   * acquiring stack is taken and the leak timer started.
   */
  begin(lease: LeaseState, waitStarted: number): void {
    const now = performance.now();
    this.waitTime.record(now - waitStarted);
    lease.startedAt = now;
    lease.id++;
    lease.acquiredAt = undefined;
    const timeout = this.#timeout;
    if (timeout === undefined) return;
    const acquiredAt = new Error('acquired here');
    lease.acquiredAt = acquiredAt;
    lease.leakTimer = this.#clock.schedule(() => {
      lease.leakTimer = undefined;
      this.warn(`has been leased for more than ${timeout} ms`, acquiredAt);
    }, timeout);
  }

  /** Watches `handle`, the object `acquire()` gave out for `slot`'s current lease, for being collected unreleased. */
  watch(handle: object, slot: S): void {
    this.#abandoned.register(handle, { slot, id: slot.lease.id });
  }

  /** The lease ends (returned, discarded or destroyed) at `now`. Safe to call more than once. */
  end(lease: LeaseState, now = performance.now()): void {
    if (!lease.active) return;
    this.leaseTime.record(now - lease.startedAt);
    lease.startedAt = Number.NaN;
    if (lease.leakTimer !== undefined) {
      lease.leakTimer.cancel();
      lease.leakTimer = undefined;
    }
  }

  /** Counts a leak and warns (`HTTPOOL_LEAK`) with `what` happened and where the lease was acquired. */
  warn(what: string, acquiredAt: Error | undefined): void {
    this.leaks++;
    const where = acquiredAt?.stack ?? 'set leakDetectionTimeout to see where it was acquired';
    process.emitWarning(
      `a connection to ${this.#origin} ${what} (read or dump every response body, ` +
        `release every acquired connection); ${where}`,
      { type: 'HttpoolLeakWarning', code: 'HTTPOOL_LEAK' },
    );
  }
}
