import { InvalidStateError } from '../errors.js';
import { type RequestDeadline, underDeadline } from '../http/deadline.js';
import type { HttpResponse } from '../http/response.js';
import { checkExchangeOptions } from './options.js';
import type { ConnectionRequestOptions } from './request-options.js';

/** @internal What a lease asks of the pool that lent it. Implemented by ConnectionPool. */
export interface LeaseOwner<S> {
  /** Sends a request on the slot's connection, under `deadline` when it has one. */
  send(
    slot: S,
    options: ConnectionRequestOptions,
    deadline?: RequestDeadline,
  ): Promise<HttpResponse>;
  /** The lease is over: put the connection back (or close it if it cannot be reused). */
  giveBack(slot: S): void;
  /** The lease is over: close the connection. */
  throwAway(slot: S): void;
}

/**
 * Each response body keeps the lease it came from reachable: `(await pool.acquire()).request(...)`
 * drops the lease at once, and the leak detector must not close the connection under a body
 * that is still being read. Keyed by the body, not the response: a caller may keep only the
 * body, and once a reader starts, the connection keeps the body (so the lease) reachable.
 */
const leaseOfBody = new WeakMap<object, object>();

/**
 * A connection lent by a {@link ConnectionPool}: one request at a time, and it goes home on
 * {@link release} or at the end of an `await using` block.
 *
 * Releasing with a response body still unread throws the rest of the body away first
 * (draining a little, or closing the connection if there is much): a connection never goes
 * back to the pool with response bytes pending.
 */
export class PooledConnection implements AsyncDisposable {
  // The slot is the owner's business; the lease only hands it back.
  readonly #owner: LeaseOwner<unknown>;
  readonly #slot: unknown;
  #released = false;

  /** @internal made by ConnectionPool.acquire() */
  constructor(owner: LeaseOwner<unknown>, slot: unknown) {
    this.#owner = owner;
    this.#slot = slot;
  }

  /** True once the lease ended ({@link release} or {@link discard}). */
  get released(): boolean {
    return this.#released;
  }

  /**
   * Sends one request on this connection and resolves with the response once its head has
   * arrived. Read or dump the body before the next request on the same connection. Takes the
   * pool's default headers and `decompress`, and `query` and `json` as `pool.request()` does.
   * `timeout` bounds the exchange until the response body has arrived (RequestTimeoutError).
   *
   * Rejects with InvalidArgumentError, before anything is sent, for an unknown option or a
   * value of the wrong kind.
   */
  request(options: ConnectionRequestOptions = {}): Promise<HttpResponse> {
    if (this.#released) {
      return Promise.reject(new InvalidStateError('this connection was already released'));
    }
    try {
      checkExchangeOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const pending = underDeadline(options.timeout, options.signal, (deadline) =>
      this.#owner.send(this.#slot, options, deadline),
    );
    return pending.then((response) => {
      leaseOfBody.set(response.body, this);
      return response;
    });
  }

  /** Gives the connection back to the pool. A second call does nothing. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#owner.giveBack(this.#slot);
  }

  /** Closes the connection instead of returning it. Does nothing after release. */
  discard(): void {
    if (this.#released) return;
    this.#released = true;
    this.#owner.throwAway(this.#slot);
  }

  /** Releases the connection: `await using conn = await pool.acquire()`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}
