/**
 * Time as the pool sees it. The pool never calls `setTimeout` or `performance.now()`
 * directly, so tests can drive time by hand ({@link FakeClock}) and never sleep.
 */

/** A scheduled callback that has not necessarily fired yet. */
export interface Timer {
  /** Stops the callback from running. Idempotent; harmless after it fired. */
  cancel(): void;
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
 * The real clock: `performance.now()` and unref'd `setTimeout`, so an idle pool
 * never keeps the process alive.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  schedule(callback, delayMs) {
    if (delayMs === Number.POSITIVE_INFINITY) return never;
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
    return {
      cancel: () => {
        timer.done = true;
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
