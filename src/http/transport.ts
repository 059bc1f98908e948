/**
 * The seam between a client and the protocol that carries its requests: one connection, as
 * its owner (a pool) sees it, whatever the protocol. HTTP/1.1 carries one exchange at a time;
 * a multiplexed protocol would carry several, so the owner asks {@link Transport.capacity} and
 * {@link Transport.active}, never the protocol's own state.
 *
 * Reports flow one way: the transport tells its owner how each exchange ended, once, with
 * what the owner's keep-alive policy needs; the owner never reads it back afterwards.
 */

import type { RequestDeadline } from './deadline.js';
import type { ExchangeOptions } from './options.js';
import type { HttpResponse } from './response.js';

/** @internal The protocol a transport speaks, by its ALPN name. */
export type TransportProtocol = 'http/1.1' | 'h2';

/**
 * @internal How one exchange ended: made once per exchange that began (a request refused
 * before anything was sent begins none), when its response has been read to the end or
 * the exchange failed.
 */
export interface ExchangeReport {
  /**
   * The transport's verdict, the only one: true when the connection may carry another
   * exchange (everything was written and read, nobody asked to close, nothing unasked came).
   * False means the transport is closing or closed.
   */
  readonly reusable: boolean;
  /** Why the exchange failed; undefined when it completed. */
  readonly error: Error | undefined;
  /** Status of the last response head the connection received (0 before any): for diagnostics. */
  readonly status: number;
  /**
   * The idle time (ms) the server last promised on this connection (`Keep-Alive: timeout=N`),
   * if it did: the owner keeps it idle no longer than that.
   */
  readonly keepAliveHint: number | undefined;
  /**
   * What the owner passed as `tag` to the {@link Transport.request} this report ends: a
   * multiplexed transport's way to say which of its exchanges it was. Undefined for HTTP/1.1,
   * which carries one at a time.
   */
  readonly tag?: unknown;
}

/** @internal What a transport tells its owner. Every callback is optional. */
export interface TransportEvents {
  /** An exchange ended: see {@link ExchangeReport}. Called once per exchange. */
  onExchangeEnd?(report: ExchangeReport): void;
  /** The connection is gone; `error` says why when it was not a plain close. */
  onClose?(error: Error | undefined): void;
  /**
   * A response body was garbage-collected before anyone read it, while its bytes were still
   * coming: the transport now drains the rest (or closes), as for a dump. `tag` is the
   * exchange's, as in its report.
   */
  onBodyAbandoned?(tag?: unknown): void;
  /**
   * How many exchanges it can carry changed on the peer's word (an HTTP/2 SETTINGS or GOAWAY):
   * the owner reads {@link Transport.capacity} again.
   */
  onCapacityChanged?(): void;
}

/** @internal One connection that carries exchanges for its owner. */
export interface Transport {
  /** The protocol spoken. */
  readonly protocol: TransportProtocol;
  /** Exchanges it may carry at once (1 for HTTP/1.1). */
  readonly capacity: number;
  /** Exchanges in progress now: one that began and whose report has not been made yet. */
  readonly active: number;
  /**
   * One-way: once true, the transport takes no new exchange (a side asked to close, a failure,
   * a close), and its owner never lends it again. Exchanges in progress may still end.
   */
  readonly closing: boolean;
  /** The socket's local port, for logs and diagnostics; still known once the socket is gone. */
  readonly localPort: number | undefined;
  /** Resolves once the underlying socket has fully closed. */
  readonly closed: Promise<void>;
  /**
   * True when it can take an exchange now: room for one, not {@link closing}, and the socket
   * still open with nothing unasked received.
   */
  isHealthy(): boolean;
  /**
   * Sends one request and resolves with the response once its head has arrived. A failure
   * says whether the server could have seen the request (see `SocketError.requestSent` and
   * `responseStarted`). Input refused before anything is sent leaves the transport as it was.
   * Under `deadline`, its signal stands for `options.signal`, and it is told the phases.
   * `tag` comes back in the exchange's report (a multiplexed transport needs it; HTTP/1.1
   * ignores it).
   */
  request(
    options: ExchangeOptions,
    deadline?: RequestDeadline,
    tag?: unknown,
  ): Promise<HttpResponse>;
  /**
   * Throws away the response in progress (`tag`'s, on a multiplexed transport), as its body's
   * `dump()` does (drains a little, else closes the connection, or for HTTP/2 resets the
   * stream); its report follows. False, doing nothing, when HTTP/1.1 has no response head yet
   * (HTTP/2 resets a stream still waiting and says true) or there is no such exchange.
   */
  dumpResponse(tag?: unknown): boolean;
  /** Lets the socket keep the process alive (for an exchange about to start). */
  ref(): void;
  /** Stops the socket from keeping the process alive (while it waits idle). */
  unref(): void;
  /** Closes now, failing any exchange in progress with `error`. */
  destroy(error?: Error): void;
}
