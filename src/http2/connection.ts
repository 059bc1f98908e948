/**
 * One HTTP/2 connection (RFC 9113) on a socket someone else opened: Node's `node:http2`
 * session (nghttp2) does the framing, HPACK and flow control; this file maps our exchanges
 * onto its streams, counts them itself, and classifies every way a stream can fail.
 *
 * Streams are counted here, never queued inside nghttp2: a session carries at most
 * {@link Http2Connection.capacity} exchanges (our cap and the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS, whichever is lower, followed as it changes), so a request
 * that cannot start waits where its owner's acquire timeout, FIFO order and stats see it.
 *
 * The session's phases: `connecting` (the server's first SETTINGS not yet seen) → `open` →
 * `draining` (a GOAWAY came, or we are closing: streams in flight finish, no new ones) →
 * `closed`. Each stream's: `sending` (or `awaiting-continue`) → `awaiting-head` → `body` →
 * `done`.
 */
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import type { Socket } from 'node:net';
import { type Clock, systemClock, type Timer } from '../clock.js';
import {
  abortReason,
  BodyTimeoutError,
  HeadersTimeoutError,
  InvalidArgumentError,
  InvalidStateError,
  locateError,
  RequestBodyError,
  RequestTimeoutError,
  ResponseError,
  ResponseLimitError,
  SocketError,
  StreamResetError,
} from '../errors.js';
import { BodyQueue, type BodySource, ResponseBody } from '../http/body.js';
import type { RequestDeadline } from '../http/deadline.js';
import { headerEntries } from '../http/header-pairs.js';
import type { ExchangeOptions, RequestBody } from '../http/options.js';
import { HttpResponse } from '../http/response.js';
import type { ExchangeReport, Transport, TransportEvents } from '../http/transport.js';

/** @internal The oldest nghttp2 bounded against the CONTINUATION flood (CVE-2024-27316, CVE-2024-28182). */
export const MIN_NGHTTP2 = '1.61.0';

/** @internal True when the nghttp2 inside this Node is at least {@link MIN_NGHTTP2}. */
export function nghttp2Supported(version = process.versions['nghttp2']): boolean {
  if (version === undefined) return false;
  const have = version.split('.').map(Number);
  const need = MIN_NGHTTP2.split('.').map(Number);
  for (let i = 0; i < need.length; i++) {
    const a = have[i] ?? 0;
    const b = need[i]!;
    if (a !== b) return a > b;
  }
  return true;
}

/** @internal Settings of one {@link Http2Connection}. Every time is in ms. */
export interface Http2ConnectionOptions {
  /** The origin (`https://host:port`), for errors and response URLs. */
  readonly origin: string;
  /** `:authority` unless a request's Host says otherwise: `host[:port]` as Host would be. */
  readonly authority: string;
  /** Most streams at once, whatever the server allows. */
  readonly maxConcurrentStreams: number;
  /** Bound on a response head: bytes of names and values (HTTP/2 adds 32 per field). */
  readonly maxHeaderSize: number;
  /** Bound on a response head's field count. */
  readonly maxHeaderCount: number;
  /** Bound on one response body; Infinity for none. */
  readonly maxResponseSize: number;
  readonly headersTimeout?: number | undefined;
  readonly bodyTimeout?: number | undefined;
  /** Body bytes read out to throw an unread response away before the stream is reset instead. */
  readonly maxDrainBytes?: number | undefined;
  /** Most ms spent throwing a response away before the stream is reset. */
  readonly maxDrainTime?: number | undefined;
  /** Most ms a PING may go unanswered before the connection counts as dead. */
  readonly pingTimeout?: number | undefined;
  /** Flow-control window of each stream (bytes the server may send before we read). */
  readonly streamWindow?: number | undefined;
  /** Flow-control window of the whole connection. */
  readonly connectionWindow?: number | undefined;
  readonly clock?: Clock | undefined;
}

const DEFAULT_TIMEOUT = 300_000;
const DEFAULT_DRAIN_BYTES = 256 * 1024;
const DEFAULT_DRAIN_TIME = 1000;
const DEFAULT_PING_TIMEOUT = 15_000;
const DEFAULT_STREAM_WINDOW = 256 * 1024;
const DEFAULT_CONNECTION_WINDOW = 4 * 1024 * 1024;
/** How long a body waits for `100 Continue` before it is sent anyway (as for HTTP/1.1). */
const CONTINUE_TIMEOUT = 1000;
/** Stream ids are 31 bits and odd on our side; stop opening streams well before they run out. */
const LAST_STREAM_ID = 2 ** 31 - 1 - 2 * 1000;

const {
  NGHTTP2_CANCEL,
  NGHTTP2_ENHANCE_YOUR_CALM,
  NGHTTP2_NO_ERROR,
  NGHTTP2_REFUSED_STREAM,
  HTTP2_HEADER_STATUS,
  HTTP2_HEADER_METHOD,
  HTTP2_HEADER_PATH,
  HTTP2_HEADER_AUTHORITY,
} = constants;

/** Request fields HTTP/2 forbids (RFC 9113 §8.2.2) that a caller may have written for HTTP/1.1: dropped. */
const DROPPED_FIELDS = new Set(['connection', 'keep-alive', 'proxy-connection']);

/**
 * The error codes of RFC 9113 §7 by value. node:http2's constants cannot be searched by value:
 * its NGHTTP2_STREAM_STATE_* (and session types) share the small numbers, so code 7 read back
 * as STREAM_STATE_CLOSED rather than REFUSED_STREAM.
 */
const ERROR_CODES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

/** An HTTP/2 error code's name, for messages. */
function codeName(code: number): string {
  return ERROR_CODES[code] ?? `error ${code}`;
}

type StreamPhase = 'sending' | 'awaiting-continue' | 'awaiting-head' | 'body' | 'done';

/** One exchange in progress: a stream, its phase, and what its report will say. */
interface StreamExchange {
  phase: StreamPhase;
  readonly tag: unknown;
  readonly method: string;
  readonly path: string;
  readonly stream: ClientHttp2Stream;
  readonly signal: AbortSignal | undefined;
  readonly deadline: RequestDeadline | undefined;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  resolve: ((response: HttpResponse) => void) | undefined;
  reject: ((error: Error) => void) | undefined;
  onAbort: (() => void) | undefined;
  /** How much of the request went to the session. */
  sent: 'none' | 'partial' | 'all';
  status: number;
  queue: BodyQueue | undefined;
  received: number;
  /** Set once, by the first failure; the report carries it. */
  error: Error | undefined;
  timer: Timer | undefined;
  /** `timer` is the head-then-body timer ({@link Http2Connection.#armReadTimer}), refreshable. */
  readTimer: boolean;
  /** The readable side ended on the server's END_STREAM, not on a reset (see #watch). */
  endStream: boolean;
  /** The server's END_STREAM came and the body has ended: the response is whole. */
  ended: boolean;
  /** Throwing the body away: bytes read out so far. */
  drained: number;
  draining: boolean;
  /** The reader fell behind: the body timer does not run. */
  paused: boolean;
  /** Waiting for 100 Continue: sends the body. */
  sendBody: (() => void) | undefined;
  trailers: string[];
}

/**
 * @internal One HTTP/2 session as a {@link Transport} for a pool: it carries up to {@link capacity}
 * exchanges at once, reports each one's end, and never lets nghttp2 queue a stream.
 * Build it with {@link Http2Connection.open}, which resolves once the server's SETTINGS came.
 */
export class Http2Connection implements Transport {
  readonly protocol = 'h2';
  readonly localPort: number | undefined;
  readonly closed: Promise<void>;
  readonly #session: ClientHttp2Session;
  readonly #socket: Socket;
  readonly #options: Http2ConnectionOptions;
  readonly #events: TransportEvents;
  readonly #clock: Clock;
  readonly #exchanges = new Map<unknown, StreamExchange>();
  #phase: 'connecting' | 'open' | 'draining' | 'closed' = 'connecting';
  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS; 1 until its SETTINGS arrive. */
  #peerStreams = 1;
  /** The last stream id of the server's GOAWAY (the lowest, if it sent several). */
  #goawayLast = Number.POSITIVE_INFINITY;
  #closeError: Error | undefined;
  #pingTimer: Timer | undefined;
  #ready: Promise<void>;
  /** @internal Streams in flight at or below the last GOAWAY's last stream id when it came. */
  acceptedAtGoaway = 0;

  /** @internal Use {@link Http2Connection.open}. */
  constructor(socket: Socket, options: Http2ConnectionOptions, events: TransportEvents = {}) {
    this.#socket = socket;
    this.#options = options;
    this.#events = events;
    this.#clock = options.clock ?? systemClock;
    this.localPort = socket.localPort;
    const streamWindow = options.streamWindow ?? DEFAULT_STREAM_WINDOW;
    // HTTP/2 counts 32 bytes per field on top of names and values (RFC 9113 §6.5.2).
    const maxHeaderListSize = options.maxHeaderSize + 32 * options.maxHeaderCount;
    this.#session = connect(options.origin, {
      createConnection: () => socket,
      settings: {
        enablePush: false,
        initialWindowSize: streamWindow,
        maxHeaderListSize: Math.min(maxHeaderListSize, 2 ** 32 - 1),
      },
      // Room beyond our own field bound, so that our check, which names the limit, runs
      // first; nghttp2's is the backstop (pseudo-headers count there too).
      maxHeaderListPairs: 2 * options.maxHeaderCount + 16,
      peerMaxConcurrentStreams: 1,
    });
    const session = this.#session;
    let settle!: () => void;
    let fail!: (error: Error) => void;
    this.#ready = new Promise<void>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    // The socket's close counts too: a session ended by a GOAWAY may never emit its own.
    this.closed = new Promise<void>((resolve) => {
      session.once('close', resolve);
      socket.once('close', resolve);
    });
    session.on('remoteSettings', (settings) => {
      const streams = settings.maxConcurrentStreams;
      this.#peerStreams = streams === undefined ? 100 : streams;
      if (this.#phase === 'connecting') {
        this.#phase = 'open';
        const window = options.connectionWindow ?? DEFAULT_CONNECTION_WINDOW;
        try {
          session.setLocalWindowSize(window);
        } catch {
          // A session closing under us: the close handler says so.
        }
        settle();
      } else this.#events.onCapacityChanged?.();
    });
    session.on('goaway', (code, lastStreamId) => this.#onGoaway(code, lastStreamId));
    session.on('error', (error: Error) => {
      this.#closeError ??= new SocketError(
        `HTTP/2 connection to ${options.origin} failed: ${error.message}`,
        {
          cause: error,
        },
      );
    });
    // A frame Node could not send; the stream it belonged to fails on its own.
    session.on('frameError', () => {});
    session.on('close', () => {
      const wasConnecting = this.#phase === 'connecting';
      this.#phase = 'closed';
      this.#pingTimer?.cancel();
      const error =
        this.#closeError ?? new SocketError(`the HTTP/2 connection to ${options.origin} closed`);
      if (wasConnecting) fail(error);
      for (const exchange of [...this.#exchanges.values()]) this.#fail(exchange, error);
      this.#events.onClose?.(this.#closeError);
    });
    // Streams the server opens are refused by `enablePush: false`; this is belt and braces.
    session.on('stream', (stream: ClientHttp2Stream) => stream.close(NGHTTP2_CANCEL));
  }

  /**
   * Starts HTTP/2 on `socket` (connected, and for TLS handshaken with `h2` agreed) and
   * resolves once the server's SETTINGS came, so {@link capacity} is the server's; rejects
   * with SocketError when the session fails first, or ConnectTimeoutError-like `onTimeout`'s
   * error after `timeout` ms.
   */
  static open(
    socket: Socket,
    options: Http2ConnectionOptions,
    events: TransportEvents,
    timeout: number,
    onTimeout: () => Error,
  ): Promise<Http2Connection> {
    const connection = new Http2Connection(socket, options, events);
    const clock = options.clock ?? systemClock;
    return new Promise<Http2Connection>((resolve, reject) => {
      const timer = Number.isFinite(timeout)
        ? clock.schedule(
            () => {
              const error = onTimeout();
              reject(error);
              connection.destroy(error);
            },
            Math.max(1, timeout),
          )
        : undefined;
      connection.#ready.then(
        () => {
          timer?.cancel();
          resolve(connection);
        },
        (error: Error) => {
          timer?.cancel();
          reject(error);
        },
      );
    });
  }

  /** Streams it may carry at once now: 0 once draining. */
  get capacity(): number {
    if (this.#phase !== 'open') return 0;
    return Math.min(this.#options.maxConcurrentStreams, this.#peerStreams);
  }

  get active(): number {
    return this.#exchanges.size;
  }

  get closing(): boolean {
    return this.#phase === 'draining' || this.#phase === 'closed';
  }

  isHealthy(): boolean {
    return this.#phase === 'open' && !this.#session.destroyed && !this.#socket.destroyed;
  }

  ref(): void {
    this.#session.ref();
  }

  unref(): void {
    this.#session.unref();
  }

  destroy(error?: Error): void {
    if (this.#phase === 'closed') return;
    if (error !== undefined) this.#closeError ??= error;
    // Reports from here on say "not reusable"; a session still connecting fails its open().
    if (this.#phase === 'open') this.#phase = 'draining';
    for (const exchange of [...this.#exchanges.values()]) {
      this.#fail(
        exchange,
        error ?? new SocketError(`the HTTP/2 connection to ${this.#options.origin} was closed`),
      );
    }
    this.#session.destroy();
    // After a GOAWAY node:http2 ends the socket gracefully and waits for the peer's close,
    // which a stuck server never sends; session.destroy() is then a no-op. Ours is final.
    this.#socket.destroy();
  }

  /**
   * Stops taking streams; those in flight finish, then the session closes (a GOAWAY to the
   * server). A no-op once draining.
   */
  close(): void {
    if (this.closing) return;
    this.#phase = 'draining';
    this.#session.close();
  }

  #onGoaway(code: number, lastStreamId: number): void {
    // A server may send several (2^31-1 first, then the real id): the lowest counts.
    this.#goawayLast = Math.min(this.#goawayLast, lastStreamId);
    // Streams in flight the GOAWAY lets finish: the server took them up (progress, for replays).
    let accepted = 0;
    for (const exchange of this.#exchanges.values()) {
      const id = exchange.stream.id;
      if (id !== undefined && id <= this.#goawayLast) accepted++;
    }
    this.acceptedAtGoaway = accepted;
    if (code !== NGHTTP2_NO_ERROR) {
      this.#closeError ??= new SocketError(
        `the server ended the HTTP/2 connection to ${this.#options.origin} (GOAWAY ${codeName(code)})`,
      );
    }
    if (this.#phase === 'open' || this.#phase === 'connecting') {
      this.#phase = 'draining';
      this.#events.onCapacityChanged?.();
    }
  }

  /**
   * Sends one request on a new stream and resolves with the response once its head came.
   * `tag` names the exchange in its report (and for {@link dumpResponse}); the owner passes one
   * per hold. Refused input (a bad header, a pseudo-header, Upgrade) begins no exchange.
   */
  request(
    options: ExchangeOptions,
    deadline?: RequestDeadline,
    tag?: unknown,
  ): Promise<HttpResponse> {
    const signal = deadline === undefined ? options.signal : deadline.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const method = normalMethod(options.method);
    const path = options.path ?? '/';
    if (this.#phase !== 'open' || this.#session.destroyed || this.#session.closed) {
      return Promise.reject(this.#unusable(method, path));
    }
    if (this.#exchanges.has(tag)) {
      return Promise.reject(new InvalidStateError('an exchange with this tag is in progress'));
    }
    const body = options.body ?? null;
    let headers: OutgoingHttpHeaders;
    let bodyBytes: Uint8Array | undefined;
    let declaredLength = -1;
    let expectContinue = false;
    try {
      if (typeof body === 'string') bodyBytes = Buffer.from(body);
      else if (body instanceof Uint8Array) bodyBytes = body;
      else if (body !== null && !isAsyncIterable(body)) {
        throw new InvalidArgumentError('body must be a string, Uint8Array, or async iterable');
      }
      const mapped = requestHeaders(method, path, this.#options.authority, options.headers);
      headers = mapped.headers;
      expectContinue = mapped.expectContinue && body !== null;
      if (mapped.contentLength !== undefined) {
        if (bodyBytes !== undefined && mapped.contentLength !== bodyBytes.byteLength) {
          throw new InvalidArgumentError(
            `content-length ${mapped.contentLength} does not match the body's ${bodyBytes.byteLength} bytes`,
          );
        }
        declaredLength = mapped.contentLength;
      } else if (bodyBytes !== undefined && (bodyBytes.byteLength > 0 || method !== 'GET')) {
        headers['content-length'] = bodyBytes.byteLength;
      }
      validateTimeout('headersTimeout', options.headersTimeout);
      validateTimeout('bodyTimeout', options.bodyTimeout);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#nextStreamId() > LAST_STREAM_ID) {
      // Ids near the end: this session takes no more; the request goes elsewhere.
      this.close();
      this.#events.onCapacityChanged?.();
      return Promise.reject(this.#unusable(method, path));
    }
    let stream: ClientHttp2Stream;
    try {
      // `:scheme` is the session's, filled in by Node.
      stream = this.#session.request(headers, { endStream: body === null });
    } catch (error) {
      // Node checks headers and the session's state synchronously (undici #4356).
      const code = (error as { code?: string }).code ?? '';
      if (code === 'ERR_HTTP2_GOAWAY_SESSION' || code === 'ERR_HTTP2_INVALID_SESSION') {
        return Promise.reject(this.#unusable(method, path));
      }
      return Promise.reject(
        new InvalidArgumentError(
          `the request cannot be sent over HTTP/2: ${(error as Error).message}`,
        ),
      );
    }
    return new Promise<HttpResponse>((resolve, reject) => {
      const exchange: StreamExchange = {
        phase: expectContinue ? 'awaiting-continue' : body === null ? 'awaiting-head' : 'sending',
        tag,
        method,
        path,
        stream,
        signal,
        deadline,
        headersTimeout: options.headersTimeout ?? this.#options.headersTimeout ?? DEFAULT_TIMEOUT,
        bodyTimeout: options.bodyTimeout ?? this.#options.bodyTimeout ?? DEFAULT_TIMEOUT,
        resolve,
        reject,
        onAbort: undefined,
        sent: body === null ? 'all' : 'partial',
        status: 0,
        queue: undefined,
        received: 0,
        error: undefined,
        timer: undefined,
        readTimer: false,
        endStream: false,
        ended: false,
        drained: 0,
        draining: false,
        paused: false,
        sendBody: undefined,
        trailers: [],
      };
      this.#exchanges.set(tag, exchange);
      if (deadline !== undefined) {
        deadline.phase = 'send';
        deadline.exchangeStarted();
      }
      if (signal !== undefined) {
        exchange.onAbort = () => {
          const reason = abortReason(signal);
          this.#fail(exchange, reason);
          // The request's own deadline ran out: as for a head or body timeout, is the
          // connection still alive? (A caller's abort says nothing about the server.)
          if (reason instanceof RequestTimeoutError) this.#checkAlive();
        };
        try {
          signal.addEventListener('abort', exchange.onAbort, { once: true });
        } catch {
          this.#fail(exchange, new InvalidArgumentError('signal must be an AbortSignal'));
          return;
        }
      }
      this.#watch(exchange);
      if (body === null) this.#awaitHead(exchange);
      else if (expectContinue) {
        exchange.sendBody = () => {
          exchange.sendBody = undefined;
          exchange.timer?.cancel();
          if (exchange.phase !== 'awaiting-continue') return;
          exchange.phase = 'sending';
          this.#writeBody(exchange, body, bodyBytes, declaredLength);
        };
        stream.once('continue', () => exchange.sendBody?.());
        exchange.timer = this.#clock.schedule(() => exchange.sendBody?.(), CONTINUE_TIMEOUT);
        exchange.readTimer = false;
      } else this.#writeBody(exchange, body, bodyBytes, declaredLength);
    });
  }

  /** The next stream id the session would give (odd, growing). */
  #nextStreamId(): number {
    const state = this.#session.state as { nextStreamID?: number } | undefined;
    return state?.nextStreamID ?? 1;
  }

  /** The error for a request this session can no longer take: nothing was sent, any method may go elsewhere. */
  #unusable(method: string, path: string): SocketError {
    return locateError(
      new SocketError(`the HTTP/2 connection to ${this.#options.origin} takes no new requests`, {
        requestSent: 'none',
        responseStarted: false,
        unprocessed: true,
      }),
      this.#options.origin,
      method,
      path,
    );
  }

  /** Wires the stream's events to the exchange. */
  #watch(exchange: StreamExchange): void {
    const { stream } = exchange;
    stream.on('response', (headers: IncomingHttpHeaders, _flags: number, raw?: string[]) =>
      this.#onHead(exchange, headers, raw),
    );
    stream.on('data', (chunk: Buffer) => this.#onData(exchange, chunk));
    stream.on('trailers', (_headers: IncomingHttpHeaders, _flags: number, raw?: string[]) => {
      exchange.trailers = raw ?? [];
    });
    // node:http2 ends the readable side on the server's END_STREAM, and also on a
    // RST_STREAM(NO_ERROR) that cuts the response short; only in the first is the stream still
    // open when the end is pushed (a reset closes it first).
    const push = stream.push;
    stream.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk === null && !stream.closed) exchange.endStream = true;
      return push.call(stream, chunk, encoding);
    };
    stream.on('end', () => this.#onEnd(exchange));
    // Errors are read from the stream's close (rstCode), once; this only keeps them handled.
    stream.on('error', () => {});
    stream.on('close', () => this.#onStreamClose(exchange));
  }

  #writeBody(
    exchange: StreamExchange,
    body: RequestBody,
    bytes: Uint8Array | undefined,
    declaredLength: number,
  ): void {
    const { stream } = exchange;
    if (bytes !== undefined) {
      stream.end(bytes);
      exchange.sent = 'all';
      this.#awaitHead(exchange);
      return;
    }
    void this.#pump(exchange, body as AsyncIterable<Uint8Array | string>, declaredLength);
  }

  /** Streams an upload with backpressure, held to its declared length when it has one. */
  async #pump(
    exchange: StreamExchange,
    source: AsyncIterable<Uint8Array | string>,
    declaredLength: number,
  ): Promise<void> {
    const { stream } = exchange;
    let written = 0;
    try {
      for await (const chunk of source) {
        if (exchange.phase === 'done' || stream.destroyed) return;
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        if (!(bytes instanceof Uint8Array)) {
          throw new InvalidArgumentError('a streamed body must yield strings or Uint8Arrays');
        }
        written += bytes.byteLength;
        if (declaredLength >= 0 && written > declaredLength) {
          throw new RequestBodyError(
            `the body is longer than its content-length (${declaredLength})`,
          );
        }
        if (bytes.byteLength === 0) continue;
        if (!stream.write(bytes)) await this.#drained(exchange);
      }
      if (exchange.phase === 'done' || stream.destroyed) return;
      if (declaredLength >= 0 && written !== declaredLength) {
        throw new RequestBodyError(
          `the body ended after ${written} of its content-length's ${declaredLength} bytes`,
        );
      }
      stream.end();
      exchange.sent = 'all';
      if (exchange.phase === 'sending') this.#awaitHead(exchange);
    } catch (error) {
      const failure =
        error instanceof RequestBodyError || error instanceof InvalidArgumentError
          ? error
          : new RequestBodyError(`reading the request body failed: ${(error as Error).message}`, {
              cause: error,
            });
      this.#fail(exchange, failure);
    }
  }

  /** Resolves when the stream can take more, or the exchange is over; the body timeout bounds the wait. */
  #drained(exchange: StreamExchange): Promise<void> {
    const { stream } = exchange;
    return new Promise<void>((resolve) => {
      const done = () => {
        timer.cancel();
        stream.off('drain', done);
        stream.off('close', done);
        resolve();
      };
      const timer = this.#clock.schedule(() => {
        done();
        this.#fail(exchange, new BodyTimeoutError(exchange.bodyTimeout));
      }, exchange.bodyTimeout);
      stream.once('drain', done);
      stream.once('close', done);
    });
  }

  /** The request is out (or its body is going): the head timer runs. */
  #awaitHead(exchange: StreamExchange): void {
    if (exchange.phase === 'done' || exchange.status !== 0) return;
    exchange.phase = 'awaiting-head';
    if (exchange.deadline !== undefined) exchange.deadline.phase = 'headers';
    this.#armReadTimer(exchange, exchange.headersTimeout);
  }

  /**
   * The head timer, then the body timer: one timer per stream, refreshed in place for the
   * body and each chunk of it (a new timer per chunk costs more than the chunk's own work).
   */
  #armReadTimer(exchange: StreamExchange, delay: number): void {
    const timer = exchange.timer;
    if (timer !== undefined) {
      if (exchange.readTimer && timer.refresh?.(delay) === true) return;
      timer.cancel();
    }
    exchange.timer = this.#clock.schedule(() => this.#readTimedOut(exchange), delay);
    exchange.readTimer = true;
  }

  #readTimedOut(exchange: StreamExchange): void {
    if (exchange.phase === 'done' || exchange.draining) return;
    this.#fail(
      exchange,
      exchange.phase === 'body'
        ? new BodyTimeoutError(exchange.bodyTimeout)
        : new HeadersTimeoutError(exchange.headersTimeout),
    );
    this.#checkAlive();
  }

  /** Stops the read timer for now; {@link #armReadTimer} re-arms it. */
  #holdReadTimer(exchange: StreamExchange): void {
    const timer = exchange.timer;
    if (timer === undefined) return;
    if (exchange.readTimer && timer.suspend !== undefined) timer.suspend();
    else {
      timer.cancel();
      exchange.timer = undefined;
    }
  }

  #onHead(exchange: StreamExchange, headers: IncomingHttpHeaders, raw: string[] | undefined): void {
    if (exchange.phase === 'done') return;
    const status = Number(headers[HTTP2_HEADER_STATUS]);
    exchange.status = status;
    this.#holdReadTimer(exchange);
    // A final answer before the go-ahead: the body is not sent (RFC 9110 §10.1.1).
    if (exchange.phase === 'awaiting-continue') {
      exchange.sendBody = undefined;
      exchange.sent = 'partial';
    }
    const rawHeaders: string[] = [];
    let size = 0;
    const pairs = raw ?? [];
    for (let i = 0; i < pairs.length; i += 2) {
      const name = pairs[i]!;
      const value = pairs[i + 1]!;
      // As the field would take in an HTTP/1.1 head (name, ': ', value, CRLF): the limit
      // means the same on both protocols.
      size += name.length + value.length + 4;
      if (name.charCodeAt(0) === 58 /* ':' */) continue;
      rawHeaders.push(name, value);
    }
    if (rawHeaders.length / 2 > this.#options.maxHeaderCount) {
      this.#fail(exchange, new ResponseLimitError('maxHeaderCount', this.#options.maxHeaderCount));
      return;
    }
    if (size > this.#options.maxHeaderSize) {
      this.#fail(exchange, new ResponseLimitError('maxHeaderSize', this.#options.maxHeaderSize));
      return;
    }
    if (!(status >= 200 && status <= 999)) {
      this.#fail(
        exchange,
        new ResponseError(`HTTP/2 response status ${headers[HTTP2_HEADER_STATUS]}`),
      );
      return;
    }
    const length = contentLength(headers, exchange.method, status);
    if (length > this.#options.maxResponseSize) {
      this.#fail(
        exchange,
        new ResponseLimitError('maxResponseSize', this.#options.maxResponseSize),
      );
      return;
    }
    const source: BodySource = {
      pause: () => {
        exchange.paused = true;
        this.#holdReadTimer(exchange);
        exchange.stream.pause();
      },
      resume: () => {
        exchange.paused = false;
        this.#armBodyTimer(exchange);
        exchange.stream.resume();
      },
      cancel: () => this.#throwAway(exchange),
      abandoned: () => this.#events.onBodyAbandoned?.(exchange.tag),
    };
    const queue = new BodyQueue(source, length);
    exchange.queue = queue;
    exchange.phase = 'body';
    if (exchange.deadline !== undefined) exchange.deadline.phase = 'body';
    const body = new ResponseBody(queue);
    queue.watch(body);
    this.#armBodyTimer(exchange);
    const resolve = exchange.resolve!;
    exchange.resolve = undefined;
    exchange.reject = undefined;
    resolve(
      new HttpResponse(status, '', '2.0', rawHeaders, body, this.#options.origin, exchange.path),
    );
  }

  #armBodyTimer(exchange: StreamExchange): void {
    if (exchange.phase !== 'body' || exchange.paused) {
      this.#holdReadTimer(exchange);
      return;
    }
    this.#armReadTimer(exchange, exchange.bodyTimeout);
  }

  #onData(exchange: StreamExchange, chunk: Buffer): void {
    if (exchange.phase !== 'body') return;
    exchange.received += chunk.byteLength;
    if (exchange.draining) {
      exchange.drained += chunk.byteLength;
      if (exchange.drained > (this.#options.maxDrainBytes ?? DEFAULT_DRAIN_BYTES)) {
        exchange.stream.close(NGHTTP2_CANCEL);
      }
      return;
    }
    if (exchange.received > this.#options.maxResponseSize) {
      this.#fail(
        exchange,
        new ResponseLimitError('maxResponseSize', this.#options.maxResponseSize),
      );
      return;
    }
    this.#armBodyTimer(exchange);
    exchange.queue!.push(chunk);
  }

  #onEnd(exchange: StreamExchange): void {
    if (exchange.phase !== 'body') return;
    // Node ends the readable side of a stream that was reset or whose session died, too:
    // only an end without a reset code is the server's END_STREAM.
    if (!exchange.endStream) return;
    exchange.ended = true;
    exchange.timer?.cancel();
    exchange.timer = undefined;
    // A dumped body ends too: that settles its dump().
    exchange.queue!.end(exchange.trailers);
    // Our side may still be open (a final answer came before the go-ahead): end it.
    if (exchange.sent !== 'all' && !exchange.stream.destroyed)
      exchange.stream.close(NGHTTP2_NO_ERROR);
    // Closed both ways now: report it, so the slot is free before the stream's 'close' (a tick
    // later), where a caller that read the body and sends again would find it still taken.
    else if (exchange.stream.writableFinished) this.#onStreamClose(exchange);
    // else: our request is still going out (flow control): the stream is open at both ends
    // and counts against the server's limit; the report waits for its 'close'.
  }

  /** The reader gave the body up: read a little more out, else reset the stream (the session lives on). */
  #throwAway(exchange: StreamExchange): void {
    if (exchange.phase !== 'body' || exchange.draining) return;
    exchange.draining = true;
    exchange.paused = false;
    exchange.timer?.cancel();
    exchange.timer = this.#clock.schedule(
      () => exchange.stream.close(NGHTTP2_CANCEL),
      this.#options.maxDrainTime ?? DEFAULT_DRAIN_TIME,
    );
    exchange.readTimer = false;
    exchange.stream.resume();
  }

  /**
   * Throws the response of `tag`'s exchange away: its body is read out a little or its stream
   * reset; a stream still waiting for its head is reset. Its report follows. False when `tag`
   * has no exchange in progress.
   */
  dumpResponse(tag?: unknown): boolean {
    const exchange = this.#exchanges.get(tag);
    if (exchange === undefined) return false;
    if (exchange.phase === 'body') {
      exchange.queue?.dump();
      this.#throwAway(exchange);
    } else {
      this.#fail(exchange, new SocketError('the request was given up before its response came'));
    }
    return true;
  }

  /** Fails the exchange once with `error` and resets its stream; the report follows at its close. */
  #fail(exchange: StreamExchange, error: Error): void {
    if (exchange.phase === 'done' || exchange.error !== undefined) return;
    exchange.error = locateError(error, this.#options.origin, exchange.method, exchange.path);
    exchange.sendBody = undefined;
    const reject = exchange.reject;
    exchange.resolve = undefined;
    exchange.reject = undefined;
    reject?.(exchange.error);
    exchange.queue?.fail(exchange.error);
    if (!exchange.stream.destroyed) exchange.stream.close(NGHTTP2_CANCEL);
    // A stream closed by a session that is gone may never say so: end it here.
    if (this.#phase === 'closed' || exchange.stream.destroyed) this.#onStreamClose(exchange);
  }

  /** The stream is gone: classify how, settle what is left, and make the one report. */
  #onStreamClose(exchange: StreamExchange): void {
    if (exchange.phase === 'done') return;
    const wasHead = exchange.status !== 0;
    const ended = exchange.ended;
    if (!ended && exchange.error === undefined) {
      if (exchange.draining) exchange.queue?.end();
      else {
        this.#fail(exchange, this.#closeReason(exchange, wasHead));
        // #fail ends a stream whose session is gone itself.
        if ((exchange.phase as StreamPhase) === 'done') return;
      }
    }
    exchange.phase = 'done';
    exchange.timer?.cancel();
    exchange.timer = undefined;
    if (exchange.onAbort !== undefined)
      exchange.signal?.removeEventListener('abort', exchange.onAbort);
    this.#exchanges.delete(exchange.tag);
    exchange.deadline?.exchangeEnded();
    const report: ExchangeReport = {
      reusable: this.#phase === 'open',
      error: exchange.error,
      status: exchange.status,
      keepAliveHint: undefined,
      tag: exchange.tag,
    };
    this.#events.onExchangeEnd?.(report);
  }

  /** Why a stream closed before its response ended, told from its reset code and the session. */
  #closeReason(exchange: StreamExchange, responded: boolean): Error {
    const { stream } = exchange;
    const code = stream.rstCode ?? NGHTTP2_NO_ERROR;
    const id = stream.id ?? 0;
    // Not processed, by the server's word: refused, or above its GOAWAY's last id (RFC 9113 §8.7).
    if (!responded && (code === NGHTTP2_REFUSED_STREAM || id > this.#goawayLast)) {
      return new SocketError(
        code === NGHTTP2_REFUSED_STREAM
          ? 'the server refused the HTTP/2 stream (REFUSED_STREAM)'
          : `the server closed the HTTP/2 connection before this stream (GOAWAY, last stream ${this.#goawayLast})`,
        { requestSent: exchange.sent, responseStarted: false, unprocessed: true },
      );
    }
    // node:http2 resets a stream itself, with this code, when the response head passes the
    // header list size we advertised (our maxHeaderSize, 32 bytes per field included) before
    // our own check sees the head; the reset is ours, so it is our limit, not the server's word.
    if (!responded && code === NGHTTP2_ENHANCE_YOUR_CALM) {
      return new ResponseLimitError('maxHeaderSize', this.#options.maxHeaderSize);
    }
    if (this.#phase === 'closed' || this.#session.destroyed) {
      return new SocketError(
        this.#closeError?.message ?? `the HTTP/2 connection to ${this.#options.origin} closed`,
        {
          requestSent: exchange.sent,
          responseStarted: responded,
          ...(this.#closeError === undefined ? {} : { cause: this.#closeError }),
        },
      );
    }
    if (code !== NGHTTP2_NO_ERROR || responded) {
      // A NO_ERROR reset before END_STREAM cuts the response short all the same.
      return new StreamResetError(`the server reset the HTTP/2 stream (${codeName(code)})`, code);
    }
    return new ResponseError('the HTTP/2 stream ended before its response did');
  }

  /**
   * A stream timed out: is the connection dead? A PING must come back within `pingTimeout`,
   * else the connection is destroyed, failing every stream on it.
   */
  #checkAlive(): void {
    if (this.#pingTimer !== undefined || this.#phase === 'closed') return;
    const timeout = this.#options.pingTimeout ?? DEFAULT_PING_TIMEOUT;
    this.#pingTimer = this.#clock.schedule(() => {
      this.destroy(
        new SocketError(`the HTTP/2 connection to ${this.#options.origin} stopped answering PING`),
      );
    }, timeout);
    try {
      this.#session.ping((error) => {
        if (error !== null) return;
        this.#pingTimer?.cancel();
        this.#pingTimer = undefined;
      });
    } catch {
      // Too many outstanding PINGs: the timer decides.
    }
  }
}

/** `GET` when absent; the common methods upper-cased, as the HTTP/1 serializer does. */
function normalMethod(method: string | undefined): string {
  if (method === undefined) return 'GET';
  const upper = method.toUpperCase();
  return ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'].includes(upper) ? upper : method;
}

/**
 * The request's fields for HTTP/2 (RFC 9113 §8.2-8.3): pseudo-headers first, names
 * lower-cased, Host as `:authority`, HTTP/1.1's connection fields dropped, Upgrade and
 * pseudo-headers of the caller's refused.
 */
function requestHeaders(
  method: string,
  path: string,
  authority: string,
  input: ExchangeOptions['headers'],
): { headers: OutgoingHttpHeaders; expectContinue: boolean; contentLength: number | undefined } {
  if (typeof method !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method)) {
    throw new InvalidArgumentError(`invalid method: ${String(method)}`);
  }
  if (typeof path !== 'string' || path === '' || /[\s\0]/.test(path)) {
    throw new InvalidArgumentError(`invalid request target: ${JSON.stringify(path)}`);
  }
  const headers: OutgoingHttpHeaders = {
    [HTTP2_HEADER_METHOD]: method,
    [HTTP2_HEADER_PATH]: path,
    [HTTP2_HEADER_AUTHORITY]: authority,
  };
  let expectContinue = false;
  let contentLength: number | undefined;
  for (const [rawName, rawValue] of headerEntries(input)) {
    if (typeof rawName !== 'string') throw new InvalidArgumentError('header names must be strings');
    const name = rawName.toLowerCase();
    const value = String(rawValue);
    if (name.charCodeAt(0) === 58 /* ':' */) {
      throw new InvalidArgumentError(`pseudo-header ${rawName} cannot be set by a request`);
    }
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) {
      throw new InvalidArgumentError(`invalid header name: ${JSON.stringify(rawName)}`);
    }
    if (/[\r\n\0]/.test(value)) {
      throw new InvalidArgumentError(`invalid value for header ${rawName}`);
    }
    if (DROPPED_FIELDS.has(name)) continue;
    if (name === 'upgrade') {
      throw new InvalidArgumentError('Upgrade has no meaning in HTTP/2 (RFC 9113 §8.2.2)');
    }
    if (name === 'transfer-encoding') {
      if (value.trim().toLowerCase() === 'chunked') continue;
      throw new InvalidArgumentError(`transfer-encoding ${value} cannot be sent over HTTP/2`);
    }
    // TE only as "trailers" (RFC 9113 §8.2.2); other codings mean nothing here.
    if (name === 'te') {
      if (value.trim().toLowerCase() === 'trailers') headers.te = 'trailers';
      continue;
    }
    if (name === 'host') {
      headers[HTTP2_HEADER_AUTHORITY] = value;
      continue;
    }
    if (name === 'expect' && value.trim().toLowerCase() === '100-continue') expectContinue = true;
    if (name === 'content-length') {
      if (!/^\d+$/.test(value.trim()))
        throw new InvalidArgumentError(`invalid content-length: ${value}`);
      contentLength = Number(value.trim());
      headers['content-length'] = contentLength;
      continue;
    }
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[name] = [String(existing), value];
  }
  return { headers, expectContinue, contentLength };
}

/** The response's declared body length, or -1 when unknown. */
function contentLength(headers: IncomingHttpHeaders, method: string, status: number): number {
  if (method === 'HEAD' || status === 204 || status === 304) return 0;
  const value = headers['content-length'];
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return -1;
  return Number(value);
}

function validateTimeout(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new InvalidArgumentError(`${name} must be a positive number of ms`);
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}
