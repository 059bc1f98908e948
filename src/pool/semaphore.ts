import { abortReason } from '../errors.js';
import { WaiterQueue } from './waiter-queue.js';

/** One caller waiting for a permit; settled once, by a grant or an abort. */
class PermitWaiter {
  settled = false;
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;
  cleanup: (() => void) | undefined;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  grant(): void {
    this.settled = true;
    this.cleanup?.();
    this.resolve();
  }

  fail(error: unknown): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.cleanup?.();
    this.reject(error);
    return true;
  }
}

/**
 * A counting semaphore with a FIFO of waiters: a cap shared by several pools (the Agent's
 * `maxTotal`). When a caller has to wait, `onStarved` runs so the owner can free a permit
 * held by something idle (an idle connection of another origin).
 */
export class Semaphore {
  readonly #max: number;
  readonly #onStarved: (() => void) | undefined;
  readonly #waiters = new WaiterQueue<PermitWaiter>();
  #held = 0;

  /**
   * @param max permits; `Infinity` for no cap
   * @param onStarved called (synchronously) whenever an acquire has to wait
   */
  constructor(max: number, onStarved?: () => void) {
    this.#max = max;
    this.#onStarved = onStarved;
  }

  /** Permits held now. */
  get held(): number {
    return this.#held;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Resolves once a permit is held; rejects with the signal's reason if it aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#held < this.#max && this.#waiters.size === 0) {
      this.#held++;
      return Promise.resolve();
    }
    const waiter = new PermitWaiter();
    this.#waiters.push(waiter);
    if (signal !== undefined) {
      const onAbort = () => {
        if (waiter.fail(abortReason(signal))) this.#waiters.cancelled();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      waiter.cleanup = () => signal.removeEventListener('abort', onAbort);
    }
    this.#onStarved?.();
    return waiter.promise;
  }

  /** Gives a permit back; the oldest waiter gets it. */
  release(): void {
    if (this.#held === 0) throw new Error('internal: semaphore released more than acquired');
    const next = this.#waiters.take();
    if (next !== undefined) next.grant();
    else this.#held--;
  }
}
