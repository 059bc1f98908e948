import type { Expiring } from './eviction.js';

/** An idle resource and when it stops being lendable. */
export interface IdleEntry<R> extends Expiring {
  readonly resource: R;
  /** The caller's `expiresAt` hint (`Infinity` if none): past it, the close reason is 'expired', not 'idle-timeout'. */
  readonly expiresAt: number;
}

/**
 * The idle set as a most-recently-used stack: the resource released last is lent
 * first, so a few stay warm and the rest age out (and get evicted) at the bottom.
 */
export class IdleStack<R> {
  #entries: IdleEntry<R>[] = [];

  /** How many resources are idle. */
  get size(): number {
    return this.#entries.length;
  }

  /** The entries, bottom (oldest) first. Read-only view; do not keep it across mutations. */
  get entries(): readonly IdleEntry<R>[] {
    return this.#entries;
  }

  /** Puts `entry` on top. */
  push(entry: IdleEntry<R>): void {
    this.#entries.push(entry);
  }

  /** Takes the most recently pushed entry. */
  pop(): IdleEntry<R> | undefined {
    return this.#entries.pop();
  }

  /** Removes the given entries (by identity), keeping the order of the rest. */
  remove(entries: readonly IdleEntry<R>[]): void {
    if (entries.length === 0) return;
    const gone = new Set(entries);
    this.#entries = this.#entries.filter((e) => !gone.has(e));
  }

  /** Empties the stack and returns what it held, bottom first. */
  drain(): IdleEntry<R>[] {
    const all = this.#entries;
    this.#entries = [];
    return all;
  }
}
