/**
 * One HTTP/1.1 exchange (a request and its response) as a connection carries it: what it
 * holds, and the named phases it moves through. The connection drives it; this module only
 * says which moves are legal.
 */

import type { Timer } from '../clock.js';
import type { BodyQueue } from '../http/body.js';
import type { RequestDeadline } from '../http/deadline.js';
import type { HttpResponse } from '../http/response.js';

/**
 * @internal Where an exchange is. Each exchange starts in `writing` (or, with
 * `Expect: 100-continue`, in `awaiting-continue`) and ends in `done`, once:
 *
 * ```text
 *  awaiting-continue ──100 or 1 s──▶ writing ──last byte──▶ awaiting-head
 *         │                            │                       │
 *         │ final head                 │ early head            │ head
 *         ▼                            ▼                       ▼
 *         └──────────────────────────▶ body ◀──────────────────┘
 *                                      │  └──reader gave up──▶ draining
 *                                      ▼                          │
 *                                   complete ◀─────────────────────┘
 *                                      │ └─ last write not yet flushed ─▶ flushing
 *                                      ▼                                   │
 *                                     done ◀───────────────────────────────┘
 * ```
 *
 * - `writing`: the head and body are going out; for a streamed body this lasts while the
 *   stream yields. No timer: a stalled upload has its own (the body timeout, per write).
 * - `awaiting-continue`: the head went alone; the body waits for `100 Continue`, or for a
 *   second of silence (RFC 9110 §10.1.1). A final answer first drops the body unsent.
 * - `awaiting-head`: the request is written; the headers timer runs.
 * - `body`: the head is delivered; its bytes go to the reader, under the body timer. A head
 *   that came while the request was still being written (an early answer) leaves the upload
 *   going on alongside, tracked by {@link Exchange.sent}.
 * - `draining`: the reader gave the body up; what is left is read and dropped, bounded in
 *   bytes and time.
 * - `complete`: the parser has read the response's last byte. Held only until the parser
 *   returns: the verdict needs what the rest of that read holds (bytes past the response).
 * - `flushing`: the response is whole but the request's last write has not left yet (a TLS
 *   socket says so a little later); the verdict waits for it, a bounded while.
 * - `done`: the exchange is over, its one report made. Any phase may fail straight to `done`.
 */
export type ExchangePhase =
  | 'writing'
  | 'awaiting-continue'
  | 'awaiting-head'
  | 'body'
  | 'draining'
  | 'complete'
  | 'flushing'
  | 'done';

/**
 * @internal How much of the request has been handed to the socket: `none`, `partial` (the head,
 * or some of a streamed body), `all`, then `flushed` once the socket has passed the last
 * byte on (its write buffer emptied past it).
 */
export type RequestProgress = 'none' | 'partial' | 'all' | 'flushed';

/** @internal One exchange: the request's and response's state on the connection carrying it. */
export interface Exchange {
  /** Where the exchange is; moved only through {@link enter}. */
  phase: ExchangePhase;
  /** How far the request is written: whether the server could have seen it, and the verdict. */
  sent: RequestProgress;
  /** A response byte arrived (a `100 Continue` counts): the server has acted on the request. */
  responseStarted: boolean;
  /**
   * False once anything rules out a next exchange on this connection: either side asked to
   * close, the server answered before the request was written, sent bytes past its answer,
   * or the request's last bytes never left.
   */
  keepAlive: boolean;
  readonly method: string;
  /** The request target as sent: for the response's url and for errors. */
  readonly path: string;
  /** The response body's bytes, from `body` on. */
  body: BodyQueue | undefined;
  /** Settle the caller's promise; both become no-ops once the head is delivered. */
  resolve: (response: HttpResponse) => void;
  reject: (error: Error) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  /** Body bytes read and dropped in `draining`. */
  drainedBytes: number;
  /** Ends a drain that takes longer than `maxDrainTime` (a server dripping bytes). */
  drainTimer: Timer | undefined;
  /** Ends `flushing` after the flush wait: the connection is then not reused. */
  flushTimer: Timer | undefined;
  /** In `awaiting-continue`: writes the held body (once). */
  heldBody: (() => void) | undefined;
  /** The held body when it is a stream: closed if it is never sent. */
  heldStream: AsyncIterable<unknown> | undefined;
  /** In `awaiting-continue`: sends the body anyway after a second of silence. */
  continueTimer: Timer | undefined;
  /** The request's deadline, told of the exchange's phases and of its end. */
  readonly deadline: RequestDeadline | undefined;
  /** Bytes a streamed body sent with the caller's Content-Length still owes; -1 when chunked. */
  bodyOwed: number;
}

/** @internal Whether an exchange may move from `from` to `to` (see {@link ExchangePhase}). */
export function mayEnter(from: ExchangePhase, to: ExchangePhase): boolean {
  switch (to) {
    case 'writing':
      return from === 'awaiting-continue';
    case 'awaiting-head':
      return from === 'writing';
    case 'body':
      return from === 'awaiting-head' || from === 'writing' || from === 'awaiting-continue';
    case 'draining':
      return from === 'body';
    case 'complete':
      return from === 'body' || from === 'draining';
    case 'flushing':
      return from === 'complete';
    case 'done':
      return from !== 'done';
    default:
      return false;
  }
}

/**
 * @internal Moves `exchange` to `to`. A move the diagram does not have is a bug in the
 * connection, never the server's doing: it throws, loudly, rather than carry on in a state
 * nobody thought of.
 */
export function enter(exchange: Exchange, to: ExchangePhase): void {
  if (!mayEnter(exchange.phase, to)) {
    throw new Error(`internal: an exchange cannot go from ${exchange.phase} to ${to}`);
  }
  exchange.phase = to;
}
