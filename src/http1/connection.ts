import type { Socket } from 'node:net';
import { type Clock, systemClock, type Timer } from '../clock.js';
import {
  abortReason,
  BodyTimeoutError,
  HeadersTimeoutError,
  HttpoolError,
  InvalidArgumentError,
  InvalidStateError,
  locateError,
  RequestBodyError,
  ResponseError,
  SocketError,
} from '../errors.js';
import { BodyQueue, type BodySource, ResponseBody } from '../http/body.js';
import type { RequestDeadline } from '../http/deadline.js';
import type { ExchangeOptions, HeadersInput, RequestBody } from '../http/options.js';
import { HttpResponse } from '../http/response.js';
import type { Transport, TransportEvents } from '../http/transport.js';
import { type Exchange, type ExchangePhase, enter } from './exchange.js';
import type { ParserLimits } from './limits.js';
import { type ResponseHead, ResponseParser } from './parser.js';
import {
  type BodyFraming,
  chunkHeader,
  LAST_CHUNK,
  serializeRequestHead,
  standardMethod,
} from './serializer.js';

/** @internal Settings of one HTTP/1.1 connection. */
export interface Http1ConnectionOptions {
  /** Value of the Host header sent by default (`host[:port]`). */
  host: string;
  /**
   * The origin served (`scheme://host[:port]`): the base of each response's `url`, and where
   * errors say a request went. Default `http://` and {@link host}.
   */
  origin?: string | undefined;
  /** Parser limits; see {@link ParserLimits}. */
  limits?: Partial<ParserLimits> | undefined;
  /** ms from the end of the request to the end of the response head; default 300 000. */
  headersTimeout?: number | undefined;
  /** Longest gap between response body chunks (ms); default 300 000. */
  bodyTimeout?: number | undefined;
  /** Body bytes a connection reads to throw away an unread response before it gives up and closes; default 256 KiB. */
  maxDrainBytes?: number | undefined;
  /**
   * Most ms spent throwing an unread body away, however steadily its bytes come; then the
   * connection is closed instead. Default 1000.
   */
  maxDrainTime?: number | undefined;
  /**
   * Where the socket's reads go when they do not come as `data` events: a socket opened to
   * read into a shared buffer hands each read to the one receiver given here, while the
   * bytes are valid (so they must be parsed or copied before it returns).
   */
  reads?: ReadSource | undefined;
  /**
   * Where the connection's timers come from (headers, body, drain, `100 Continue` and flush
   * waits): {@link systemClock} by default; tests pass a {@link FakeClock}.
   */
  clock?: Clock | undefined;
}

/** @internal A socket's reads, handed to one receiver (see {@link Http1ConnectionOptions.reads}). */
export interface ReadSource {
  deliverTo(receive: (bytes: Buffer) => void): void;
}

/** @internal Where a connection is in its life. Transitions: idle → busy → idle … → closed. */
export type ConnectionState = 'idle' | 'busy' | 'closed';

const DEFAULT_TIMEOUT = 300_000;
const DEFAULT_MAX_DRAIN = 256 * 1024;
/** How long a body sent with `Expect: 100-continue` waits for `100 Continue` (as curl does). */
const CONTINUE_TIMEOUT = 1000;
/** Longest gap between body chunks while throwing an unread body away (ms). */
const DRAIN_TIMEOUT = 1000;
/** Longest time spent throwing an unread body away, by default (ms). */
const DEFAULT_MAX_DRAIN_TIME = 1000;
/**
 * Most ms a finished response waits for its request's last write to be flushed before the
 * connection is given up instead of reused. A TLS socket reports its write done a little after
 * the bytes left; a request still unsent after this is stuck behind a server that stopped
 * reading, and a next request would queue behind it.
 */
const FLUSH_WAIT = 250;

/**
 * A timer made once per connection and refreshed for each use; replaced only when its delay
 * changes (or its clock cannot refresh).
 */
type PersistentTimer = { ms: number; timer: Timer };

/**
 * @internal One HTTP/1.1 connection over a connected `net` or `tls` socket: one exchange at a time,
 * no pipelining. It knows nothing of pools: it is a {@link Transport}, whose owner learns through
 * {@link TransportEvents}, once per exchange, how it ended and whether the connection may carry
 * another.
 *
 * Rules (RFC 9112 §9.3): a connection is reusable only after its request was fully written
 * and its response fully read, when neither side asked to close, and when the server sent
 * nothing beyond the response.
 */
export class Http1Connection implements Transport, BodySource {
  readonly #socket: Socket;
  readonly #options: Http1ConnectionOptions;
  readonly #clock: Clock;
  readonly #origin: string;
  readonly #events: TransportEvents;
  readonly #parser: ResponseParser;
  /** Read while the socket is open: a destroyed socket no longer knows it. */
  readonly #localPort: number | undefined;
  #state: ConnectionState = 'idle';
  #exchange: Exchange | undefined;
  /**
   * One timer per kind, made once on the clock and refreshed for each exchange: arming costs
   * no allocation, and disarming suspends it (with a clock that cannot, a timer that fires for
   * a kind no longer armed does nothing). Both are cancelled when the connection closes.
   */
  #headersTimer: PersistentTimer | undefined;
  #bodyTimer: PersistentTimer | undefined;
  #timerKind: 'headers' | 'body' | undefined;
  /** The body reader asked for a pause (backpressure): no body timer runs meanwhile. */
  #readerPaused = false;
  /** What the last response head said, for the exchange reports: its Keep-Alive hint (ms) and status. */
  #keepAliveHintMs: number | undefined;
  #lastStatus = 0;
  #closeError: Error | undefined;
  /** The last Keep-Alive value read, and the hint it gave: a server repeats it on every response. */
  #keepAliveValue: string | undefined;
  #keepAliveValueMs: number | undefined;
  /**
   * The head of the last plain request (no headers, no body), with the method and path it was
   * made for: a client repeating a request reuses the string, already checked and built.
   */
  #plainHead = '';
  #plainMethod: string | undefined;
  #plainPath: string | undefined;
  /**
   * The body of a response head parsed in the current read, until the parser returns: after
   * that the connection holds only its bytes, so a body its caller drops can be collected.
   */
  #newBody: ResponseBody | undefined;
  /**
   * A failure a parser callback found (a 101, a drain over its bound), acted on once the
   * parser has returned: ending the exchange under it would leave it reading into nothing.
   */
  #afterParse: Error | undefined;
  /** Whether the socket keeps the event loop alive (Node's default); see {@link unref}. */
  #refed = true;
  #markClosed!: () => void;
  /** Resolves once the socket has fully closed. */
  readonly closed: Promise<void> = new Promise((resolve) => {
    this.#markClosed = resolve;
  });

  /**
   * @param socket a connected socket; the connection owns it from now on
   * @param options Host header value, limits, timeouts
   * @param events callbacks to the owner
   */
  constructor(socket: Socket, options: Http1ConnectionOptions, events: TransportEvents = {}) {
    this.#socket = socket;
    this.#localPort = socket.localPort;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#origin = options.origin ?? `http://${options.host}`;
    this.#events = events;
    this.#parser = new ResponseParser(
      {
        onHead: (head) => this.#onHead(head),
        onData: (chunk) => this.#onData(chunk),
        onComplete: (trailers) => this.#onComplete(trailers),
        onInformational: (head) => {
          if (head.status === 100) this.#releaseHeldBody(this.#exchange);
        },
      },
      options.limits,
    );
    socket.setNoDelay(true);
    socket.on('end', () => this.#onSocketEnd());
    socket.on('error', (error) =>
      this.#fail(
        // A socket of the owner's own (an in-memory one in tests) may fail with an httpool
        // error of its own: passed on as it is, so it is neither wrapped nor replayed.
        error instanceof HttpoolError && !(error instanceof SocketError)
          ? error
          : brokenError(error.message, this.#exchange, error),
        this.#exchange,
      ),
    );
    socket.on('close', () => this.#onSocketClose());
    // Last: bytes the server sent before now are handed over at once.
    // The body copies what it keeps, so reads may land in a buffer the next read overwrites.
    if (options.reads !== undefined) options.reads.deliverTo((bytes) => this.#onSocketData(bytes));
    else socket.on('data', (chunk: Buffer) => this.#onSocketData(chunk));
  }

  /** `idle`, `busy` or `closed`: for tests and logs (an owner goes by the Transport members). */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The current exchange's phase (see {@link ExchangePhase}), for tests and logs; undefined when none. */
  get exchangePhase(): ExchangePhase | undefined {
    return this.#exchange?.phase;
  }

  /** Transport: always HTTP/1.1. */
  get protocol(): 'http/1.1' {
    return 'http/1.1';
  }

  /** Transport: one exchange at a time, no pipelining. */
  get capacity(): number {
    return 1;
  }

  /** Transport: 1 while an exchange runs (from its first write to its report), else 0. */
  get active(): number {
    return this.#exchange === undefined ? 0 : 1;
  }

  /**
   * Transport: true once the connection will carry no new exchange: it is closed, or the
   * exchange in progress has ruled a next one out (a side asked to close, an early answer,
   * bytes unasked). One-way: such an exchange ends by closing the connection.
   */
  get closing(): boolean {
    return this.#state === 'closed' || this.#exchange?.keepAlive === false;
  }

  /**
   * Throws away the body of the response in progress, as its `dump()` does (drain a little,
   * else close). Returns false, doing nothing, when no response head has arrived.
   */
  dumpResponse(): boolean {
    const body = this.#exchange?.body;
    if (body === undefined) return false;
    void body.dump();
    return true;
  }

  /** The socket's local port, useful in logs and tests; still known once the socket is gone. */
  get localPort(): number | undefined {
    return this.#localPort;
  }

  /**
   * Lets the socket keep the event loop alive again (it does when the connection is made).
   * The exchange timers are unref'd: while an exchange runs, the socket is what keeps the
   * process alive, so an owner that called {@link unref} calls this before the next request.
   */
  ref(): void {
    if (this.#refed) return;
    this.#refed = true;
    // A closed socket has no handle: Node would wait for a 'connect' that never comes.
    if (this.#state !== 'closed') this.#socket.ref();
  }

  /**
   * Stops the socket from keeping the event loop alive, as Node's `http.Agent` does with a
   * free socket: for a connection waiting idle in a pool, which should not hold a process
   * open that has nothing else to do.
   */
  unref(): void {
    if (!this.#refed) return;
    this.#refed = false;
    if (this.#state !== 'closed') this.#socket.unref();
  }

  /**
   * True when the connection can take a request now: idle, socket open, nothing received
   * since the last exchange. A FIN, RST or unsolicited byte while idle closes the connection,
   * so this turns false as soon as the event loop has seen any of them.
   */
  isHealthy(): boolean {
    return (
      this.#state === 'idle' &&
      !this.#socket.destroyed &&
      this.#socket.readable &&
      this.#socket.writable
    );
  }

  /**
   * Sends one request and resolves with the response once its head has arrived.
   * Bad input is refused with {@link InvalidArgumentError} before anything is written, and
   * the connection stays usable.
   *
   * With `deadline` (made by the caller from `options.timeout`), its signal replaces
   * `options.signal` (it carries the caller's too), and the exchange tells it its phases.
   *
   * A socket failure is classified where it happens: its {@link SocketError} says how much of
   * the request had gone out (`requestSent`) and whether an answer had begun
   * (`responseStarted`), so a caller can tell whether the server could have acted on it.
   */
  request(options: ExchangeOptions, deadline?: RequestDeadline): Promise<HttpResponse> {
    if (this.#state !== 'idle') {
      return Promise.reject(new InvalidStateError(`connection is ${this.#state}, not idle`));
    }
    const signal = deadline === undefined ? options.signal : deadline.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const method = standardMethod(options.method);
    const path = options.path ?? '/';
    if (this.#socket.destroyed || !this.#socket.writable) {
      this.#destroy(undefined);
      return Promise.reject(
        locateError(
          new SocketError('the connection is no longer open', {
            requestSent: 'none',
            responseStarted: false,
          }),
          this.#origin,
          method,
          path,
        ),
      );
    }
    const body = options.body ?? null;
    const plain = body === null && options.headers === undefined;
    let head: string;
    let keepAlive = true;
    let expectContinue = false;
    let bodyBytes: string | Uint8Array | undefined;
    let bodyOwed = -1;
    try {
      if (plain && method === this.#plainMethod && path === this.#plainPath) {
        head = this.#plainHead;
      } else {
        const serialized = this.#serialize(method, path, options.headers, body);
        head = serialized.head;
        keepAlive = serialized.keepAlive;
        expectContinue = serialized.expectContinue;
        bodyBytes = serialized.bodyBytes;
        bodyOwed = serialized.declaredLength;
        if (plain) {
          this.#plainHead = head;
          this.#plainMethod = method;
          this.#plainPath = path;
        }
      }
      validateTimeout('headersTimeout', options.headersTimeout);
      validateTimeout('bodyTimeout', options.bodyTimeout);
    } catch (error) {
      return Promise.reject(error);
    }

    return new Promise<HttpResponse>((resolve, reject) => {
      const exchange: Exchange = {
        phase: expectContinue ? 'awaiting-continue' : 'writing',
        sent: 'none',
        responseStarted: false,
        keepAlive,
        method,
        path,
        body: undefined,
        resolve,
        reject,
        signal,
        onAbort: undefined,
        headersTimeout: options.headersTimeout ?? this.#options.headersTimeout ?? DEFAULT_TIMEOUT,
        bodyTimeout: options.bodyTimeout ?? this.#options.bodyTimeout ?? DEFAULT_TIMEOUT,
        drainedBytes: 0,
        drainTimer: undefined,
        flushTimer: undefined,
        heldBody: undefined,
        heldStream: undefined,
        continueTimer: undefined,
        deadline,
        bodyOwed,
      };
      if (signal !== undefined) {
        // Before the connection turns busy: a signal that refuses a listener leaves the
        // connection idle, as it was.
        exchange.onAbort = () => this.#fail(abortReason(signal), exchange);
        try {
          signal.addEventListener('abort', exchange.onAbort, { once: true });
        } catch {
          reject(new InvalidArgumentError('signal must be an AbortSignal'));
          return;
        }
      }
      if (deadline !== undefined) {
        deadline.phase = 'send';
        deadline.exchangeStarted();
      }
      this.#exchange = exchange;
      this.#state = 'busy';
      this.#parser.expect(method);
      if (expectContinue) {
        // The head alone; the body waits for the server's go-ahead (or its silence).
        this.#socket.write(head, 'latin1');
        exchange.sent = 'partial';
        exchange.heldBody = () => this.#writeRequest(exchange, '', body, bodyBytes);
        if (bodyBytes === undefined) exchange.heldStream = body as AsyncIterable<unknown>;
        exchange.continueTimer = this.#clock.schedule(
          () => this.#releaseHeldBody(exchange),
          CONTINUE_TIMEOUT,
        );
      } else this.#writeRequest(exchange, head, body, bodyBytes);
    });
  }

  /** Checks the request and builds its head; throws InvalidArgumentError for bad input. */
  #serialize(
    method: string,
    path: string,
    headers: HeadersInput | undefined,
    body: RequestBody,
  ): {
    head: string;
    keepAlive: boolean;
    expectContinue: boolean;
    bodyBytes: string | Uint8Array | undefined;
    /** The caller's Content-Length for a streamed body; -1 for chunked or bytes. */
    declaredLength: number;
  } {
    let framing: BodyFraming;
    let bodyBytes: string | Uint8Array | undefined;
    if (body === null) framing = NO_BODY;
    else if (typeof body === 'string') {
      framing = { kind: 'length', length: Buffer.byteLength(body) };
      bodyBytes = body;
    } else if (body instanceof Uint8Array) {
      framing = { kind: 'length', length: body.byteLength };
      bodyBytes = body;
    } else if (isAsyncIterable(body)) framing = STREAM;
    else throw new InvalidArgumentError('body must be a string, Uint8Array, or async iterable');
    const serialized = serializeRequestHead({
      method,
      path,
      host: this.#options.host,
      headers,
      framing,
    });
    return {
      head: serialized.head,
      keepAlive: serialized.keepAlive,
      expectContinue: serialized.expectContinue,
      bodyBytes,
      declaredLength: serialized.declaredLength ?? -1,
    };
  }

  /**
   * Writes the request: its head and its body. `head` is empty for a body that was held back
   * for `100 Continue` (the head went ahead alone).
   */
  #writeRequest(
    exchange: Exchange,
    head: string,
    body: RequestBody,
    bodyBytes: string | Uint8Array | undefined,
  ): void {
    const socket = this.#socket;
    if (bodyBytes === undefined || framingLength(bodyBytes) === 0) {
      // One write, no corking: the common bodiless request goes straight to the socket.
      if (body === null || bodyBytes !== undefined) {
        socket.write(head, 'latin1');
        this.#requestWritten(exchange);
      } else {
        if (head !== '') socket.write(head, 'latin1');
        exchange.sent = 'partial';
        void this.#pumpBody(exchange, body as AsyncIterable<Uint8Array | string>);
      }
    } else if (typeof bodyBytes === 'string' && isLatin1Safe(bodyBytes)) {
      // Head and an ASCII body as one string: one write, one system call.
      socket.write(head + bodyBytes, 'latin1');
      this.#requestWritten(exchange);
    } else {
      socket.cork();
      if (head !== '') socket.write(head, 'latin1');
      socket.write(bodyBytes);
      socket.uncork();
      this.#requestWritten(exchange);
    }
  }

  /** `100 Continue` arrived, or the wait ran out: the held body goes now (once). */
  #releaseHeldBody(exchange: Exchange | undefined): void {
    // A 100 nobody waits for (no Expect sent, or a second one) changes nothing.
    if (exchange?.phase !== 'awaiting-continue') return;
    const write = exchange.heldBody!;
    exchange.heldBody = undefined; // sent now, so not closed by #dropHeldBody
    this.#dropHeldBody(exchange);
    enter(exchange, 'writing');
    write();
  }

  /** The held body will not be written (a final answer came first, or the exchange ended). */
  #dropHeldBody(exchange: Exchange): void {
    const unsent = exchange.heldBody !== undefined ? exchange.heldStream : undefined;
    exchange.heldBody = undefined;
    exchange.heldStream = undefined;
    if (exchange.continueTimer !== undefined) {
      exchange.continueTimer.cancel();
      exchange.continueTimer = undefined;
    }
    // A stream that will never be read is closed, so a file or a socket behind it is let go.
    if (unsent !== undefined) closeStream(unsent);
  }

  /**
   * Writes a streamed body: chunked, or, under the caller's Content-Length, as raw bytes held
   * to that length. A stream that yields more or fewer bytes fails the exchange with
   * RequestBodyError, which closes the connection: the server's framing is off by then.
   */
  async #pumpBody(exchange: Exchange, body: AsyncIterable<Uint8Array | string>): Promise<void> {
    const socket = this.#socket;
    const declared = exchange.bodyOwed;
    try {
      for await (const part of body) {
        // Over: failed, or answered (early) and ended while the stream was yielding.
        if (exchange.phase === 'done') return;
        const bytes = typeof part === 'string' ? Buffer.from(part) : part;
        if (!(bytes instanceof Uint8Array)) {
          throw new InvalidArgumentError('a streamed body must yield strings or Uint8Arrays');
        }
        if (bytes.byteLength === 0) continue;
        let flushed: boolean;
        if (declared === -1) {
          socket.cork();
          socket.write(chunkHeader(bytes.byteLength), 'latin1');
          socket.write(bytes);
          flushed = socket.write('\r\n', 'latin1');
          socket.uncork();
        } else {
          if (bytes.byteLength > exchange.bodyOwed) {
            // Not a byte of it: what the server would read past the length is a next request.
            throw new RequestBodyError(
              `the request body stream yielded more than its content-length (${declared} bytes)`,
            );
          }
          exchange.bodyOwed -= bytes.byteLength;
          flushed = socket.write(bytes);
        }
        if (!flushed) await this.#drained(exchange);
      }
      if (exchange.phase === 'done') return;
      if (declared === -1) socket.write(LAST_CHUNK, 'latin1');
      else if (exchange.bodyOwed > 0) {
        throw new RequestBodyError(
          `the request body stream ended after ${declared - exchange.bodyOwed} of its ` +
            `content-length's ${declared} bytes`,
        );
      }
      this.#requestWritten(exchange);
    } catch (error) {
      if (exchange.phase === 'done') return;
      this.#fail(
        error instanceof RequestBodyError
          ? error
          : new RequestBodyError('reading the request body failed', { cause: error }),
        exchange,
      );
    }
  }

  /**
   * Waits until the socket can take more of a streamed body. A server that stops reading
   * fails the exchange after `bodyTimeout`, so an upload never hangs without a bound.
   */
  #drained(exchange: Exchange): Promise<void> {
    return new Promise((resolve) => {
      let stall: Timer | undefined;
      const done = () => {
        if (stall !== undefined) stall.cancel();
        this.#socket.off('drain', done);
        this.#socket.off('close', done);
        resolve();
      };
      if (exchange.phase === 'done') return resolve();
      this.#socket.on('drain', done);
      this.#socket.on('close', done);
      const ms = exchange.bodyTimeout;
      if (Number.isFinite(ms) && ms > 0) {
        stall = this.#clock.schedule(() => {
          done();
          this.#fail(new BodyTimeoutError(ms, 'request'), exchange);
        }, ms);
      }
    });
  }

  /**
   * After a request's last write (from {@link #requestWritten}). A plain socket has usually written everything
   * by then (its write buffer is empty): flushed. Otherwise (a TLS socket, a full kernel
   * buffer) an empty write's callback says when every byte before it has gone out; a callback
   * on every write would cost a tick per request.
   */
  #watchFlush(exchange: Exchange): void {
    if (this.#socket.writableLength === 0) exchange.sent = 'flushed';
    else this.#socket.write(EMPTY_BYTES, this.#onFlushed);
  }

  /**
   * The callback of the write that follows a request's last one: its bytes are the kernel's. One
   * function per connection: an exchange ends reusable only after its flush, so a callback
   * that runs always belongs to the current exchange (or to none, once the socket is gone).
   */
  readonly #onFlushed = (error?: Error | null): void => {
    const exchange = this.#exchange;
    if (error != null || exchange?.sent !== 'all') return;
    exchange.sent = 'flushed';
    if (exchange.phase === 'flushing') this.#endExchange(exchange);
  };

  /** The request's last byte was just written to the socket. */
  #requestWritten(exchange: Exchange): void {
    exchange.sent = 'all';
    this.#watchFlush(exchange);
    if (exchange.phase === 'writing') {
      enter(exchange, 'awaiting-head');
      if (exchange.deadline !== undefined) exchange.deadline.phase = 'headers';
      this.#arm('headers', exchange.headersTimeout);
    } else if (exchange.phase !== 'body' && exchange.phase !== 'draining') {
      // Only an early answer's body runs alongside the upload; once it is whole, the
      // exchange ends, and its upload with it.
      throw new Error(`internal: a request finished writing in ${exchange.phase}`);
    }
  }

  // --- timers: one per connection, re-armed rather than recreated where possible ---

  #arm(kind: 'headers' | 'body', ms: number): void {
    if (!Number.isFinite(ms) || ms <= 0) {
      this.#disarm();
      return;
    }
    // The other kind stops first: only one timer runs at a time.
    if (this.#timerKind !== undefined && this.#timerKind !== kind) this.#disarm();
    const held = kind === 'headers' ? this.#headersTimer : this.#bodyTimer;
    if (held !== undefined && held.ms === ms) {
      this.#rearm(kind, held);
    } else {
      held?.timer.cancel();
      const timer = {
        ms,
        timer: this.#clock.schedule(
          kind === 'headers' ? this.#onHeadersTimeout : this.#onBodyTimeout,
          ms,
        ),
      };
      if (kind === 'headers') this.#headersTimer = timer;
      else this.#bodyTimer = timer;
    }
    this.#timerKind = kind;
  }

  /** Runs `held` its whole delay from now again: in place when its clock can, else anew. */
  #rearm(kind: 'headers' | 'body', held: PersistentTimer): void {
    if (held.timer.refresh?.(held.ms) === true) return;
    held.timer.cancel();
    held.timer = this.#clock.schedule(
      kind === 'headers' ? this.#onHeadersTimeout : this.#onBodyTimeout,
      held.ms,
    );
  }

  /** Re-arms the body timer after body data moved, if it is the one armed. */
  #bodyProgress(): void {
    if (this.#timerKind === 'body') this.#rearm('body', this.#bodyTimer!);
  }

  /** Stops the armed timer; it stays made, to be refreshed by the next {@link #arm}. */
  #disarm(): void {
    const kind = this.#timerKind;
    if (kind === undefined) return;
    this.#timerKind = undefined;
    (kind === 'headers' ? this.#headersTimer : this.#bodyTimer)!.timer.suspend?.();
  }

  readonly #onHeadersTimeout = (): void => this.#onTimeout('headers');
  readonly #onBodyTimeout = (): void => this.#onTimeout('body');

  #onTimeout(kind: 'headers' | 'body'): void {
    // A clock that cannot suspend leaves a disarmed timer to run out: nothing to do then.
    if (this.#timerKind !== kind) return;
    this.#timerKind = undefined;
    const ms = (kind === 'headers' ? this.#headersTimer : this.#bodyTimer)!.ms;
    const exchange = this.#exchange;
    if (exchange === undefined) return;
    this.#fail(
      kind === 'headers' ? new HeadersTimeoutError(ms) : new BodyTimeoutError(ms),
      exchange,
    );
  }

  // --- reading ---

  #onSocketData(chunk: Buffer): void {
    const exchange = this.#exchange;
    if (exchange === undefined || exchange.phase === 'flushing') {
      // The server wrote while nothing was asked of it (RFC 9112 §9.3.2 forbids it): whatever it
      // is, it must never be read as the answer to a later request.
      this.#destroy(new ResponseError('the server sent data while the connection was idle'));
      return;
    }
    exchange.responseStarted = true;
    let consumed: number;
    try {
      consumed = this.#parser.execute(chunk);
    } catch (error) {
      this.#newBody = undefined;
      this.#afterParse = undefined;
      this.#fail(error as Error, exchange);
      return;
    }
    // What the parser's callbacks left to do once it returned (they must not end the exchange
    // under it): a failure, the verdict on a complete response, or the body timer.
    const newBody = this.#newBody;
    this.#newBody = undefined;
    const failure = this.#afterParse;
    if (failure !== undefined) {
      this.#afterParse = undefined;
      // A drain that ran over in a read that also ended the response did no harm.
      if (exchange.phase !== 'complete') {
        this.#fail(failure, exchange);
        return;
      }
    }
    if (exchange.phase === 'complete') {
      // The parser stops early only after a complete message (or a 101, failed above): the
      // bytes after it were sent unasked.
      if (consumed < chunk.byteLength) exchange.keepAlive = false;
      // An answer before the upload finished (Go #7569): deliver it, stop uploading, close.
      if (exchange.sent === 'none' || exchange.sent === 'partial') exchange.keepAlive = false;
      this.#endExchange(exchange);
    } else if (newBody !== undefined) {
      // A reader that already pushed back is not the server being slow: resume() arms it.
      if (!this.#readerPaused) this.#arm('body', exchange.bodyTimeout);
      // The rest of the body is still to come: should its reader drop it unread, give it up.
      exchange.body!.watch(newBody);
    }
  }

  #onHead(head: ResponseHead): void {
    const exchange = this.#exchange!;
    if (head.upgrade) {
      // The parser stops after a 101 head; whatever follows is not HTTP.
      this.#afterParse = new ResponseError('unexpected protocol switch (101)');
      return;
    }
    if (!head.keepAlive) exchange.keepAlive = false;
    if (exchange.phase === 'awaiting-continue') {
      // A final answer to `Expect: 100-continue` before the go-ahead: the body is not sent, and
      // the connection is not reused, since the server may still count on it (RFC 9110 §10.1.1).
      this.#dropHeldBody(exchange);
      exchange.keepAlive = false;
    }
    enter(exchange, 'body');
    this.#lastStatus = head.status;
    this.#keepAliveHintMs = this.#readKeepAlive(head.rawHeaders);
    const queue = new BodyQueue(this, declaredLength(head, exchange.method));
    exchange.body = queue;
    if (exchange.deadline !== undefined) exchange.deadline.phase = 'body';
    const body = new ResponseBody(queue);
    // The body timer is armed once the parser returns, and only if the body is still to come:
    // most small responses end in the same read as their head.
    this.#newBody = body;
    this.#disarm();
    const resolve = exchange.resolve;
    // The settled promise would hold the response (and so its body) for as long as the exchange
    // lives: let go of it, so a body dropped unread can be collected. Failures go to the body now.
    exchange.resolve = ignore;
    exchange.reject = ignore;
    resolve(
      new HttpResponse(
        head.status,
        head.statusText,
        head.versionMinor === 1
          ? '1.1'
          : head.versionMinor === 0
            ? '1.0'
            : `1.${head.versionMinor}`,
        head.rawHeaders,
        body,
        this.#origin,
        exchange.path,
      ),
    );
  }

  /** The `timeout=N` hint of the first Keep-Alive field that has one; the last value's reading is reused. */
  #readKeepAlive(rawHeaders: readonly string[]): number | undefined {
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      if (!isKeepAliveName(rawHeaders[i]!)) continue;
      const value = rawHeaders[i + 1]!;
      if (value !== this.#keepAliveValue) {
        this.#keepAliveValueMs = keepAliveTimeout(value);
        this.#keepAliveValue = value;
      }
      if (this.#keepAliveValueMs !== undefined) return this.#keepAliveValueMs;
    }
    return undefined;
  }

  #onData(chunk: Uint8Array): void {
    const exchange = this.#exchange!;
    if (exchange.phase === 'draining') {
      exchange.drainedBytes += chunk.byteLength;
      if (exchange.drainedBytes > (this.#options.maxDrainBytes ?? DEFAULT_MAX_DRAIN)) {
        this.#afterParse = brokenError(
          'closed instead of draining a large unread response',
          exchange,
        );
      }
    } else exchange.body!.push(chunk);
    this.#bodyProgress();
  }

  #onComplete(trailers: string[]): void {
    const exchange = this.#exchange!;
    enter(exchange, 'complete');
    this.#disarm();
    const body = exchange.body!;
    body.end(trailers);
    // Every byte is in the body's queue now: a reader that pushed back no longer holds the
    // socket, which must be reading again before the connection can serve anyone else.
    body.detach();
    if (this.#readerPaused) {
      this.#readerPaused = false;
      this.#socket.resume();
    }
  }

  #onSocketEnd(): void {
    const exchange = this.#exchange;
    if (exchange?.phase === 'flushing') {
      this.#fail(brokenError('the server closed the connection', exchange), exchange);
      return;
    }
    if (exchange === undefined) {
      this.#destroy(undefined);
      return;
    }
    try {
      // A body delimited by the connection's close ends here (RFC 9112 §6.3, rule 8).
      this.#parser.finish();
    } catch (error) {
      // Anything else was cut short: the socket's fault, not a malformed response.
      this.#fail(
        brokenError('the server closed the connection before the response ended', exchange, error),
        exchange,
      );
      return;
    }
    if (exchange.phase === 'complete') {
      exchange.keepAlive = false;
      this.#endExchange(exchange);
    } else {
      this.#fail(
        brokenError('the server closed the connection before the response ended', exchange),
        exchange,
      );
    }
  }

  #onSocketClose(): void {
    this.#markClosed();
    const exchange = this.#exchange;
    if (exchange !== undefined) {
      this.#fail(
        this.#closeError ??
          brokenError('the connection closed before the response ended', exchange),
        exchange,
      );
    }
    this.#destroy(undefined);
  }

  // --- BodySource: flow control from the body reader ---

  /** @internal backpressure from the body reader */
  pause(): void {
    this.#readerPaused = true;
    this.#socket.pause();
    // A reader that is behind is not the server being slow.
    if (this.#timerKind === 'body') this.#disarm();
  }

  /** @internal backpressure from the body reader */
  resume(): void {
    this.#readerPaused = false;
    this.#socket.resume();
    const phase = this.#exchange?.phase;
    if (phase === 'body' || phase === 'draining') this.#arm('body', this.#exchange!.bodyTimeout);
  }

  /** @internal the body was garbage-collected unread (cancel() follows) */
  abandoned(): void {
    this.#events.onBodyAbandoned?.();
  }

  /** @internal the body reader gave up: drain what is left if it is small, else close */
  cancel(): void {
    const exchange = this.#exchange;
    // A body already whole (or already given up) has nothing more to drain.
    if (exchange?.phase !== 'body') return;
    enter(exchange, 'draining');
    this.#readerPaused = false;
    this.#socket.resume();
    // Draining only saves a reconnect: a server slow to finish gets the connection closed
    // instead of holding it for a whole bodyTimeout.
    this.#disarm();
    const bodyTimeout = exchange.bodyTimeout;
    this.#arm(
      'body',
      Number.isFinite(bodyTimeout) && bodyTimeout > 0
        ? Math.min(bodyTimeout, DRAIN_TIMEOUT)
        : DRAIN_TIMEOUT,
    );
    // The gap timer restarts with every byte: a server sending one now and then would keep the
    // connection (and its pool slot) draining for as long as it likes without an overall bound.
    const maxDrainTime = this.#options.maxDrainTime ?? DEFAULT_MAX_DRAIN_TIME;
    if (Number.isFinite(maxDrainTime)) {
      exchange.drainTimer = this.#clock.schedule(() => {
        exchange.drainTimer = undefined;
        this.#fail(
          brokenError(
            `closed instead of draining an unread response for over ${maxDrainTime} ms`,
            exchange,
          ),
          exchange,
        );
      }, maxDrainTime);
    }
  }

  // --- ending ---

  /** The response is whole (`complete`), or the flush it waited for came or never will (`flushing`). */
  #endExchange(exchange: Exchange): void {
    if (exchange.phase !== 'complete' && exchange.phase !== 'flushing') {
      throw new Error(`internal: an exchange cannot end from ${exchange.phase}`);
    }
    if (exchange.drainTimer !== undefined) {
      exchange.drainTimer.cancel();
      exchange.drainTimer = undefined;
    }
    if (exchange.phase === 'complete' && exchange.sent !== 'flushed' && exchange.keepAlive) {
      // The answer came before the socket said the request's last bytes were written (a TLS
      // socket says so a little later): the verdict waits for that, a bounded while. Reusing
      // now could queue the next request behind bytes the server may never read.
      enter(exchange, 'flushing');
      this.#disarm();
      exchange.flushTimer = this.#clock.schedule(() => {
        exchange.flushTimer = undefined;
        exchange.keepAlive = false;
        this.#endExchange(exchange);
      }, FLUSH_WAIT);
      return;
    }
    if (exchange.flushTimer !== undefined) {
      exchange.flushTimer.cancel();
      exchange.flushTimer = undefined;
    }
    enter(exchange, 'done');
    this.#exchange = undefined;
    this.#dropHeldBody(exchange);
    this.#disarm();
    if (exchange.signal !== undefined && exchange.onAbort !== undefined) {
      exchange.signal.removeEventListener('abort', exchange.onAbort);
    }
    exchange.deadline?.exchangeEnded();
    // Only a request whose last write was flushed leaves the connection in step: one whose
    // bytes are still queued means the server answered without reading it all (an early
    // response), and a next request would queue behind them.
    const reusable =
      exchange.keepAlive &&
      exchange.sent === 'flushed' &&
      !this.#socket.destroyed &&
      this.#socket.readable &&
      this.#socket.writable;
    if (reusable) this.#state = 'idle';
    else this.#destroy(undefined);
    this.#events.onExchangeEnd?.({
      reusable,
      error: undefined,
      status: this.#lastStatus,
      keepAliveHint: this.#keepAliveHintMs,
    });
  }

  /**
   * Fails `exchange` with `error` and closes the connection; with no exchange, just closes.
   * An exchange already over is left alone: its timers and its upload may still report.
   */
  #fail(error: Error, exchange: Exchange | undefined): void {
    if (exchange?.phase === 'done') return;
    if (exchange?.phase === 'flushing') {
      // The response was delivered whole and only the reuse verdict was pending: not an error
      // of the exchange, just a connection that cannot be reused.
      exchange.keepAlive = false;
      this.#endExchange(exchange);
      return;
    }
    if (exchange !== undefined) {
      enter(exchange, 'done');
      this.#exchange = undefined;
      this.#disarm();
      exchange.drainTimer?.cancel();
      this.#dropHeldBody(exchange);
      if (exchange.signal !== undefined && exchange.onAbort !== undefined) {
        exchange.signal.removeEventListener('abort', exchange.onAbort);
      }
      // Says which request failed (an abort's reason is the caller's own, left as it is); a body
      // error reaches its reader through the body, so it is located here, not by the pool.
      if (error !== exchange.signal?.reason) {
        locateError(error, this.#origin, exchange.method, exchange.path);
      }
      if (exchange.body === undefined) exchange.reject(error);
      else exchange.body.fail(error);
      this.#destroy(error);
      exchange.deadline?.exchangeEnded();
      this.#events.onExchangeEnd?.({
        reusable: false,
        error,
        status: this.#lastStatus,
        keepAliveHint: this.#keepAliveHintMs,
      });
      return;
    }
    this.#destroy(error);
  }

  #destroy(error: Error | undefined): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closeError = error;
    this.#disarm();
    // Nothing may keep a closed connection alive until a timer runs out.
    this.#headersTimer?.timer.cancel();
    this.#bodyTimer?.timer.cancel();
    this.#socket.destroy();
    this.#events.onClose?.(error);
  }

  /** Closes the connection now, failing any exchange in progress with `error`. */
  destroy(error?: Error): void {
    const exchange = this.#exchange;
    if (exchange !== undefined) {
      this.#fail(error ?? brokenError('the connection was destroyed', exchange), exchange);
    } else this.#destroy(error);
  }
}

const NO_BODY: BodyFraming = { kind: 'none' };
const EMPTY_BYTES = new Uint8Array(0);
const STREAM: BodyFraming = { kind: 'stream' };

/**
 * The SocketError that fails `exchange` (or none, on an idle connection), classified where it
 * happens: how much of the request had gone out, and whether an answer had begun. The replay
 * rule reads these instead of asking the connection afterwards.
 */
function brokenError(
  message: string,
  exchange: Exchange | undefined,
  cause?: unknown,
): SocketError {
  if (exchange === undefined) return new SocketError(message, { cause });
  return new SocketError(message, {
    cause,
    requestSent: exchange.sent === 'flushed' ? 'all' : exchange.sent,
    responseStarted: exchange.responseStarted,
  });
}

/** Stands in for an exchange's settled resolve/reject, so they hold nothing. */
function ignore(): void {}

/** True when every character is ASCII, so Latin-1 and UTF-8 encode the string alike. */
function isLatin1Safe(text: string): boolean {
  // Short bodies only: scanning a long string costs more than the extra write saves.
  if (text.length > 1024) return false;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Closes a request body stream that will not be read: destroy() a Node stream, return() an iterator. */
function closeStream(stream: AsyncIterable<unknown>): void {
  try {
    const destroy = (stream as { destroy?: unknown }).destroy;
    if (typeof destroy === 'function') {
      destroy.call(stream);
      return;
    }
    const cancel = (stream as { cancel?: unknown }).cancel;
    if (typeof cancel === 'function') {
      // A web ReadableStream.
      void Promise.resolve(cancel.call(stream)).catch(() => {});
      return;
    }
    void stream[Symbol.asyncIterator]()
      .return?.()
      ?.catch(() => {});
  } catch {
    // Closing is a courtesy: a stream that refuses is left to its owner.
  }
}

/** The body length a response head declares (Content-Length framing), else -1. */
function declaredLength(head: ResponseHead, method: string): number {
  const length = head.contentLength;
  if (length === null || head.chunked || method === 'HEAD') return -1;
  return head.status === 204 || head.status === 304 ? -1 : length;
}

function framingLength(body: string | Uint8Array): number {
  return typeof body === 'string' ? body.length : body.byteLength;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

function validateTimeout(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(`${name} must be a non-negative number of ms`);
  }
}

/** True for `Keep-Alive` in any case, without making a lower-cased copy. */
function isKeepAliveName(name: string): boolean {
  if (name.length !== 10) return false;
  const lower = 'keep-alive';
  // Field names are tokens: `| 0x20` maps no other tchar onto a letter or `-`.
  for (let k = 0; k < 10; k++) {
    if ((name.charCodeAt(k) | 0x20) !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/** Reads `timeout=N` (seconds) from a Keep-Alive value, RFC 9112 Appendix C.2.2's hint. */
function keepAliveTimeout(value: string): number | undefined {
  const match = /(?:^|[,;\s])timeout\s*=\s*(\d{1,9})(?:$|[,;\s])/i.exec(value);
  return match === null ? undefined : Number(match[1]) * 1000;
}
