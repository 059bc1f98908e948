/** What {@link WaiterQueue} needs of an item: whether it is still waiting. */
export interface Cancellable {
  /** True once the item was settled (served, timed out, aborted, rejected). Never goes back. */
  readonly settled: boolean;
}

/** Compact the backing array only once this many dead slots sit before the head. */
const COMPACT_AFTER = 1024;

/**
 * A FIFO of waiters with O(1) push and take. Items settled elsewhere (timeout, abort)
 * stay in the array and are skipped when they reach the head, which keeps
 * cancellation O(1); the owner reports them through {@link WaiterQueue.cancelled}
 * so that {@link WaiterQueue.size} counts only live waiters.
 */
export class WaiterQueue<T extends Cancellable> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #live = 0;

  /** Live (unsettled) waiters. */
  get size(): number {
    return this.#live;
  }

  /** Appends a live waiter. */
  push(item: T): void {
    this.#items.push(item);
    this.#live++;
  }

  /**
   * Removes and returns the oldest live waiter, dropping settled ones on the way.
   * The caller must settle the returned waiter before yielding.
   */
  take(): T | undefined {
    this.#skipSettled();
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    this.#live--;
    this.#compact();
    return item;
  }

  /** Records that a queued waiter was settled by someone other than {@link WaiterQueue.take}. */
  cancelled(): void {
    if (this.#live === 0) throw new Error('internal: waiter count underflow');
    this.#live--;
    this.#skipSettled();
    this.#compact();
  }

  /**
   * Removes and returns the oldest live waiter matching `predicate`, leaving the others in
   * their order (a shared resource's room skips waiters that cannot use it). O(n) in the
   * waiters passed over. The caller must settle the returned waiter before yielding.
   */
  takeFirst(predicate: (item: T) => boolean): T | undefined {
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i];
      if (item === undefined || item.settled || !predicate(item)) continue;
      if (i === this.#head) return this.take();
      // A hole in the middle: skipped later like a settled item.
      this.#items[i] = undefined;
      this.#live--;
      return item;
    }
    return undefined;
  }

  /** The oldest live waiter matching `predicate`, left in place. O(n); for rare paths only. */
  find(predicate: (item: T) => boolean): T | undefined {
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i];
      if (item !== undefined && !item.settled && predicate(item)) return item;
    }
    return undefined;
  }

  #skipSettled(): void {
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head];
      if (item !== undefined && !item.settled) break;
      this.#items[this.#head++] = undefined;
    }
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
  }

  #compact(): void {
    if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
