/**
 * Time as the pool sees it. The pool never calls `setTimeout` or `performance.now()`
 * directly, so tests can drive time by hand ({@link FakeClock}) and never sleep.
 */

/** A scheduled callback that has not necessarily fired yet. */
export interface Timer {
  /** Stops the callback from running. Idempotent; harmless after it fired. */
  cancel(): void;
  /**
   * Optional, for a timer re-armed over and over with the same delay (the pool's eviction
   * timer): runs the callback `delayMs` from now, whether the timer is pending, fired or
   * suspended, without making a new timer. Returns false when this timer cannot (another
   * delay); the caller then cancels it and schedules a new one.
   */
  refresh?(delayMs: number): boolean;
  /**
   * Optional companion of {@link refresh}: stops the callback from running until the next
   * `refresh()`. Cheaper than `cancel()` followed by a new `schedule()`: an underlying
   * (unref'd) handle may stay behind, inert, until its due time. Idempotent.
   */
  suspend?(): void;
}

/** A monotonic clock plus one-shot timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale (not wall time): only differences mean anything. */
  now(): number;
  /** Runs `callback` once, `delayMs` from now. `Infinity` means never. */
  schedule(callback: () => void, delayMs: number): Timer;
}

/** Node caps `setTimeout` at 2^31-1 ms and fires at once beyond it; longer delays are chained. */
const MAX_TIMEOUT = 2 ** 31 - 1;

const never: Timer = { cancel() {} };

/**
 * A system timer within Node's range: one `setTimeout` handle, refreshed in place. While
 * suspended the handle stays scheduled but its firing does nothing.
 */
class SystemTimer implements Timer {
  readonly #callback: () => void;
  readonly #delay: number;
  readonly #handle: NodeJS.Timeout;
  #armed = true;
  #cancelled = false;

  constructor(callback: () => void, delay: number) {
    this.#callback = callback;
    this.#delay = delay;
    this.#handle = setTimeout(() => this.#fire(), delay);
    this.#handle.unref();
  }

  #fire(): void {
    if (!this.#armed) return;
    this.#armed = false;
    this.#callback();
  }

  cancel(): void {
    this.#armed = false;
    this.#cancelled = true;
    clearTimeout(this.#handle);
  }

  refresh(delayMs: number): boolean {
    // Node refreshes with the handle's own delay; its clock counts whole ms anyway.
    if (!(Math.abs(Math.ceil(Math.max(0, delayMs)) - this.#delay) < 1)) return false;
    // A cleared handle cannot be refreshed.
    if (this.#cancelled) return false;
    this.#armed = true;
    this.#handle.refresh();
    return true;
  }

  suspend(): void {
    this.#armed = false;
  }
}

/**
 * The real clock: `performance.now()` and unref'd `setTimeout`, so an idle pool
 * never keeps the process alive.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  schedule(callback, delayMs) {
    if (delayMs === Number.POSITIVE_INFINITY) return never;
    // Whole ms: Node fires on whole ms anyway, and keeps one timer list per distinct delay.
    const delay = Math.ceil(Math.max(0, delayMs));
    if (delay <= MAX_TIMEOUT) return new SystemTimer(callback, delay);
    const at = performance.now() + Math.max(0, delayMs);
    let handle: NodeJS.Timeout | undefined;
    const arm = (delay: number): void => {
      handle = setTimeout(
        () => {
          const left = at - performance.now();
          // Only chained delays (over MAX_TIMEOUT) re-arm; a normal timer fires as Node decides.
          if (delay === MAX_TIMEOUT && left > 0) arm(Math.min(left, MAX_TIMEOUT));
          else callback();
        },
        Math.min(delay, MAX_TIMEOUT),
      );
      handle.unref();
    };
    arm(Math.min(Math.max(0, delayMs), MAX_TIMEOUT));
    return { cancel: () => clearTimeout(handle) };
  },
};

interface FakeTimer {
  readonly at: number;
  /** Tie-breaker: timers due at the same time fire in the order they were scheduled. */
  readonly seq: number;
  readonly callback: () => void;
  done: boolean;
}

/**
 * A clock for tests: time stands still until {@link FakeClock.advance} moves it,
 * and due callbacks then run synchronously, in time order.
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  /** @param start the initial reading of {@link FakeClock.now}. */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The current fake time in ms. */
  now(): number {
    return this.#now;
  }

  /** Schedules `callback` at `now() + delayMs`; it runs only inside {@link FakeClock.advance}. */
  schedule(callback: () => void, delayMs: number): Timer {
    const timer: FakeTimer = {
      at: this.#now + Math.max(0, delayMs),
      seq: this.#seq++,
      callback,
      done: false,
    };
    if (timer.at !== Number.POSITIVE_INFINITY) this.#timers.push(timer);
    let current = timer;
    let cancelled = false;
    return {
      cancel: () => {
        current.done = true;
        cancelled = true;
      },
      // Same contract as the system clock's: a suspended timer is not pending.
      refresh: (delay) => {
        if (cancelled) return false;
        current.done = true;
        current = { at: this.#now + Math.max(0, delay), seq: this.#seq++, callback, done: false };
        if (current.at !== Number.POSITIVE_INFINITY) this.#timers.push(current);
        return true;
      },
      suspend: () => {
        current.done = true;
      },
    };
  }

  /**
   * Moves time forward by `ms`, running every callback that falls due, in time order,
   * with `now()` set to each one's due time. Callbacks may schedule more; those run too
   * if they fall due within the window.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance() takes a non-negative number, got ${ms}`);
    const target = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.done);
      let next: FakeTimer | undefined;
      for (const t of this.#timers) {
        if (
          t.at <= target &&
          (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))
        ) {
          next = t;
        }
      }
      if (next === undefined) break;
      next.done = true;
      this.#now = next.at;
      next.callback();
    }
    this.#now = target;
  }

  /** How many timers are scheduled and neither fired nor cancelled. */
  get pending(): number {
    return this.#timers.filter((t) => !t.done).length;
  }
}
