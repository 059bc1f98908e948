/**
 * The pools an {@link Agent} holds, by key (`origin`, or `origin via proxy`): their least
 * recently used order, the `maxOrigins` bound, and the sweeper that drops pools with nothing
 * to do. Which key a URL maps to, and how a pool is made, are the Agent's business.
 */
import type { Clock, Timer } from '../clock.js';

/** What the registry asks of a pool. {@link ConnectionPool} has it. */
export interface RegisteredPool {
  stats(): {
    readonly open: number;
    readonly leased: number;
    readonly waiting: number;
    readonly connecting: number;
  };
  /** Closes the connection idle longest; false when there was none. */
  closeIdleConnection(): boolean;
  close(): Promise<void>;
  destroy(reason?: Error): Promise<void>;
}

/** Settings of a {@link PoolRegistry}. */
export interface RegistryOptions {
  /** Pools kept at once; beyond it the least recently used idle ones are closed. */
  readonly maxOrigins: number;
  /** ms a pool with nothing open and nothing waiting is kept; `Infinity` keeps it. */
  readonly originIdleTimeout: number;
  /** Runs the sweeper and dates empty pools (its timers must not keep the process alive). */
  readonly clock: Clock;
}

/** Pools by key, with their use order, their bound and their sweeper. */
export class PoolRegistry<P extends RegisteredPool> {
  /** Pools by key. A Map keeps insertion order, not use order: see {@link #lastUsed}. */
  readonly #pools = new Map<string, P>();
  /** When each pool was last asked for (a use counter, not a time): the LRU order. */
  readonly #lastUsed = new WeakMap<P, number>();
  #uses = 0;
  /** When (clock ms) each pool was first seen by the sweeper with nothing open and nothing to do. */
  readonly #emptySince = new Map<string, number>();
  /** Pools closing (dropped, or closed with the registry) until done: destroyAll() still reaches them. */
  readonly #closing = new Map<P, Promise<void>>();
  readonly #maxOrigins: number;
  readonly #idleTimeout: number;
  readonly #period: number;
  readonly #clock: Clock;
  #sweeper: Timer | undefined;
  readonly #onSweep = (): void => {
    this.#sweep();
    // Stopped when the sweep left no pool (or closed the registry); else once more.
    const sweeper = this.#sweeper;
    if (sweeper !== undefined && sweeper.refresh?.(this.#period) !== true) {
      this.#sweeper = this.#clock.schedule(this.#onSweep, this.#period);
    }
  };

  constructor(options: RegistryOptions) {
    this.#maxOrigins = options.maxOrigins;
    this.#idleTimeout = options.originIdleTimeout;
    // Twice per timeout: an empty pool goes between one and one and a half timeouts after it emptied.
    this.#period = Math.max(10, options.originIdleTimeout / 2);
    this.#clock = options.clock;
  }

  /** Pools held now. */
  get size(): number {
    return this.#pools.size;
  }

  /** The pool under `key`, marked as just used (and not empty); undefined when there is none. */
  use(key: string): P | undefined {
    const pool = this.#pools.get(key);
    if (pool !== undefined) {
      this.#lastUsed.set(pool, ++this.#uses);
      this.#emptySince.delete(key);
    }
    return pool;
  }

  /**
   * Holds `pool` under `key` as the most recently used, then applies `maxOrigins` (never to
   * `pool` itself) and starts the sweeper if it is not running.
   */
  add(key: string, pool: P): void {
    this.#pools.set(key, pool);
    this.#lastUsed.set(pool, ++this.#uses);
    this.#enforceMaxOrigins(pool);
    this.#armSweeper();
  }

  /** Pools by key, in the order they were added. */
  entries(): IterableIterator<[string, P]> {
    return this.#pools.entries();
  }

  /** The pools, in the order they were added. */
  values(): IterableIterator<P> {
    return this.#pools.values();
  }

  /** Frees a connection for a waiter elsewhere: the idle one of the least recently used pool that has one. */
  reclaimIdle(): void {
    for (const [, pool] of this.#leastRecentlyUsed()) {
      if (pool.closeIdleConnection()) return;
    }
  }

  /**
   * Closes every pool gracefully and forgets them; resolves when they, and pools dropped
   * earlier that are still closing, are closed.
   */
  closeAll(): Promise<void> {
    this.#stopSweeper();
    for (const pool of this.#pools.values()) this.#closePool(pool);
    this.#pools.clear();
    return Promise.all(this.#closing.values()).then(() => {});
  }

  /** Destroys every pool, those still closing included, and forgets them. */
  destroyAll(reason?: Error): Promise<unknown> {
    this.#stopSweeper();
    const pools = [...this.#pools.values(), ...this.#closing.keys()];
    this.#pools.clear();
    return Promise.all([...pools.map((pool) => pool.destroy(reason)), ...this.#closing.values()]);
  }

  /**
   * Drops least recently used pools beyond `maxOrigins`, but only pools with nothing leased,
   * waiting or connecting: dropping a busy one would fail its callers for nothing. Until
   * one frees up the bound is exceeded; the sweeper and the next new pool try again.
   */
  #enforceMaxOrigins(keep?: P): void {
    if (this.#pools.size <= this.#maxOrigins) return;
    for (const [key, pool] of this.#leastRecentlyUsed()) {
      if (this.#pools.size <= this.#maxOrigins) return;
      if (pool === keep) continue;
      const s = pool.stats();
      if (s.leased === 0 && s.waiting === 0 && s.connecting === 0) this.#drop(key, pool);
    }
  }

  /** Pools from least to most recently used. O(n log n): only for eviction, never per request. */
  #leastRecentlyUsed(): Array<[string, P]> {
    return [...this.#pools].sort(
      ([, a], [, b]) => (this.#lastUsed.get(a) ?? 0) - (this.#lastUsed.get(b) ?? 0),
    );
  }

  #drop(key: string, pool: P): void {
    this.#pools.delete(key);
    this.#emptySince.delete(key);
    this.#closePool(pool);
  }

  #closePool(pool: P): void {
    if (this.#closing.has(pool)) return;
    const closing = pool.close();
    this.#closing.set(pool, closing);
    void closing.finally(() => this.#closing.delete(pool));
  }

  #armSweeper(): void {
    if (this.#sweeper !== undefined || !Number.isFinite(this.#idleTimeout)) return;
    this.#sweeper = this.#clock.schedule(this.#onSweep, this.#period);
  }

  /** Drops pools that have had nothing open and nothing to do for `originIdleTimeout`. */
  #sweep(): void {
    const now = this.#clock.now();
    for (const [key, pool] of this.#pools) {
      const s = pool.stats();
      if (s.open !== 0 || s.waiting !== 0) {
        this.#emptySince.delete(key);
        continue;
      }
      const since = this.#emptySince.get(key);
      if (since === undefined) this.#emptySince.set(key, now);
      else if (now - since >= this.#idleTimeout) this.#drop(key, pool);
    }
    this.#enforceMaxOrigins();
    if (this.#pools.size === 0) this.#stopSweeper();
  }

  #stopSweeper(): void {
    this.#sweeper?.cancel();
    this.#sweeper = undefined;
  }
}
