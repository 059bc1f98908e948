/**
 * What httpool reports about itself: `node:diagnostics_channel` channels for tools and
 * tracers, and `NODE_DEBUG=httpool` logging. Publishing costs nothing when nobody listens.
 */
import { channel } from 'node:diagnostics_channel';
import { debuglog } from 'node:util';

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
  /** ms spent opening it (TCP, and TLS for https). */
  connectMs: number;
}

/** Payload of `httpool:connection:close`. */
export interface ConnectionCloseMessage {
  origin: string;
  localPort: number | undefined;
  /**
   * Why: `idle-timeout`, `expired` (keep-alive hint or max lifetime), `not-reusable` (the server
   * or the exchange ruled reuse out), `unhealthy` (closed or written to while idle),
   * `discarded`, `pool-closed`, `pool-destroyed`.
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
