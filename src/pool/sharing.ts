/**
 * The bookkeeping of resources lent to several holders at once (the pool's `capacity`
 * option; an HTTP/2 session carries many streams). Kept apart from the pool so that a pool
 * without `capacity`, which lends each resource to one holder, never touches it.
 */

/** The sharing state of one resource that has at least one holder. */
export interface Share<R, Reason> {
  readonly resource: R;
  /** Acquires holding it now; at least 1 while the share exists. */
  holders: number;
  /** The last capacity the pool read; it lends again only while `holders < capacity`. */
  capacity: number;
  /**
   * Set (one-way) once it must not be lent again: why it will be destroyed when its last
   * holder leaves. The first verdict wins.
   */
  closing: Reason | undefined;
  /** The earliest `expiresAt` its holders gave since it was last unheld; `Infinity` if none. */
  expiresAt: number;
  /** On the {@link RoomStack}. */
  stacked: boolean;
}

/**
 * A capacity as the pool uses it: a whole number of holders, 0 for "lend no more now".
 * Anything but a number >= 1 (a throw, NaN, a negative) counts as 0: the pool cannot ask
 * back, and lending less is the safe side. Fractions round down; `Infinity` stays.
 */
export function readCapacity<R>(capacity: (resource: R) => number, resource: R): number {
  let value: unknown;
  try {
    value = capacity(resource);
  } catch {
    return 0;
  }
  return typeof value === 'number' && value >= 1 ? Math.floor(value) : 0;
}

/**
 * The held resources that can take another holder, as a stack: the one that most recently
 * gained room (was first lent, or went from full to not full) is lent again first. So one
 * resource fills up before the next is shared and the others drain, go idle and age out,
 * as the idle stack does for unheld ones. Removal from the middle (a resource filling up
 * out of order, closing, or losing its last holder) is O(n), n being the held resources
 * with room: a few per origin.
 */
export class RoomStack<S extends { stacked: boolean }> {
  #items: S[] = [];

  /** How many held resources have room. */
  get size(): number {
    return this.#items.length;
  }

  /** The one to lend next, left in place. */
  peek(): S | undefined {
    const items = this.#items;
    // Never index -1: that is a slow named-property lookup, not an array read.
    return items.length === 0 ? undefined : items[items.length - 1];
  }

  /** Puts `share` on top, unless it is already on the stack (it keeps its place then). */
  push(share: S): void {
    if (share.stacked) return;
    share.stacked = true;
    this.#items.push(share);
  }

  /** Takes `share` off the stack, wherever it is; a no-op if it is not on it. */
  remove(share: S): void {
    if (!share.stacked) return;
    share.stacked = false;
    const items = this.#items;
    if (items[items.length - 1] === share) items.pop();
    else items.splice(items.indexOf(share), 1);
  }

  /** Empties the stack (the pool was destroyed). */
  clear(): void {
    for (const share of this.#items) share.stacked = false;
    this.#items = [];
  }
}
