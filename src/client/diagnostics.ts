/**
 * What httpool reports about itself: `node:diagnostics_channel` channels for tools and
 * tracers, and `NODE_DEBUG=httpool` logging. Publishing costs nothing when nobody listens.
 */
import { channel } from 'node:diagnostics_channel';
import { debuglog } from 'node:util';
import type { ExchangeOptions } from '../http/options.js';
import { standardMethod } from '../http1/serializer.js';

/**
 * `httpool:connection:open`, with {@link ConnectionOpenMessage}: a connection was opened.
 * `httpool:connection:close`, with {@link ConnectionCloseMessage}: a connection was closed.
 * `httpool:request:start`, with {@link RequestStartMessage}: a request is about to be written.
 * `httpool:request:end`, with {@link RequestEndMessage}: its response was read to the end.
 * `httpool:request:error`, with {@link RequestErrorMessage}: it failed.
 */
export const channels = {
  connectionOpen: channel('httpool:connection:open'),
  connectionClose: channel('httpool:connection:close'),
  requestStart: channel('httpool:request:start'),
  requestEnd: channel('httpool:request:end'),
  requestError: channel('httpool:request:error'),
} as const;

/** Payload of `httpool:connection:open`. */
export interface ConnectionOpenMessage {
  /** The pool's origin. */
  origin: string;
  /** The local port of the new socket (tells connections apart in logs); undefined over a `socketPath`. */
  localPort: number | undefined;
  /**
   * The address the socket went to (the proxy's through a proxy); undefined over a
   * `socketPath`.
   */
  remoteAddress: string | undefined;
  /** ms spent opening it (TCP, and TLS for https). */
  connectMs: number;
  /** What it speaks: `http/1.1` or `h2`. */
  protocol: 'http/1.1' | 'h2';
}

/** Payload of `httpool:connection:close`. */
export interface ConnectionCloseMessage {
  origin: string;
  localPort: number | undefined;
  /**
   * Why: `idle-timeout`, `expired` (keep-alive hint or max lifetime), `not-reusable` (the server
   * or the exchange ruled reuse out), `unhealthy` (closed or written to while idle),
   * `discarded`, `pool-closed`, `pool-destroyed`, `dns-changed` (its address left the host
   * name's DNS answer).
   */
  reason: string;
  /** Requests the connection carried. */
  requests: number;
}

/** Payload of `httpool:request:start`. */
export interface RequestStartMessage {
  origin: string;
  method: string;
  path: string;
  /** True when the connection had carried a request before. */
  reused: boolean;
  /** What the connection speaks: `http/1.1` or `h2`. */
  protocol: 'http/1.1' | 'h2';
}

/** Payload of `httpool:request:end`. */
export interface RequestEndMessage {
  origin: string;
  method: string;
  path: string;
  status: number;
  /** ms from writing the request to the last byte of the response. */
  durationMs: number;
}

/** Payload of `httpool:request:error`. */
export interface RequestErrorMessage {
  origin: string;
  method: string;
  path: string;
  error: Error;
}

/** Logs through `NODE_DEBUG=httpool`. */
export const debug = debuglog('httpool');

/** The exchange in progress on a connection, kept from its start event for its end event. */
export interface ExchangeTrace {
  readonly method: string;
  readonly path: string;
  /** performance.now() ms when it started. */
  readonly startedAt: number;
}

/**
 * True when anyone listens to the request channels, or `NODE_DEBUG=httpool` is on: only then
 * is an exchange traced. A few property reads, so it can run on every request.
 */
export function tracingRequests(): boolean {
  return (
    channels.requestStart.hasSubscribers ||
    channels.requestEnd.hasSubscribers ||
    channels.requestError.hasSubscribers ||
    debug.enabled
  );
}

/**
 * A request was handed to a connection of the pool for `origin` (`reused`: one that had
 * carried a request before): publishes `httpool:request:start`, and returns the trace its end
 * is published with. Call it only when {@link tracingRequests}.
 */
export function requestStarted(
  origin: string,
  options: ExchangeOptions,
  reused: boolean,
  protocol: 'http/1.1' | 'h2',
): ExchangeTrace {
  const method = standardMethod(options.method);
  const path = options.path ?? '/';
  if (channels.requestStart.hasSubscribers) {
    channels.requestStart.publish({
      origin,
      method,
      path,
      reused,
      protocol,
    } satisfies RequestStartMessage);
  }
  return { method, path, startedAt: performance.now() };
}

/**
 * The exchange `trace` stands for ended: with `error`, logged and published on
 * `httpool:request:error`; else published on `httpool:request:end` with the response's `status`.
 */
export function requestEnded(
  origin: string,
  trace: ExchangeTrace,
  status: number,
  error: Error | undefined,
): void {
  const { method, path } = trace;
  if (error !== undefined) {
    debug('%s: %s %s failed: %s', origin, method, path, error.message);
    if (channels.requestError.hasSubscribers) {
      channels.requestError.publish({ origin, method, path, error } satisfies RequestErrorMessage);
    }
  } else if (channels.requestEnd.hasSubscribers) {
    channels.requestEnd.publish({
      origin,
      method,
      path,
      status,
      durationMs: performance.now() - trace.startedAt,
    } satisfies RequestEndMessage);
  }
}

/** A connection of the pool for `origin` was closed: logged, and published on `httpool:connection:close`. */
export function connectionClosed(
  origin: string,
  localPort: number | undefined,
  reason: string,
  requests: number,
): void {
  debug('%s: connection %s closed (%s)', origin, localPort, reason);
  if (channels.connectionClose.hasSubscribers) {
    channels.connectionClose.publish({
      origin,
      localPort,
      reason,
      requests,
    } satisfies ConnectionCloseMessage);
  }
}

/** The pool for `origin` learned from a server's close that it keeps idle connections less than `idleForMs`. */
export function idleCloseLearned(origin: string, idleForMs: number): void {
  debug('%s: server closed a connection idle for %s ms', origin, idleForMs.toFixed(0));
}
