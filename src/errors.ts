/**
 * Every error httpool raises extends {@link HttpoolError} and carries a stable string `code`.
 * Match on `code` (or `instanceof`), never on the message: messages may improve, codes do not change.
 */

const brand = Symbol.for('httpool.error');

/** Options every httpool error accepts. */
export interface HttpoolErrorOptions {
  /** The underlying error, when there is one (a socket error, say). */
  cause?: unknown;
}

/**
 * The base class of every httpool error.
 *
 * `instanceof HttpoolError` works across duplicate installs of the package, through a
 * `Symbol.for` brand, so a library bundling its own copy still matches.
 */
export class HttpoolError extends Error implements Partial<RequestTarget> {
  /** A stable, machine-readable identifier such as `ERR_POOL_EMPTY`. */
  readonly code: string;
  /**
   * The origin (`scheme://host[:port]`, the server's, never a proxy's) of the request this error
   * failed, on the errors that fail one request (see {@link RequestTarget}); else undefined.
   */
  declare readonly origin?: string;
  /** The method of the request this error failed, with {@link origin}. */
  declare readonly method?: string;
  /** The path of the request this error failed, without its query string, with {@link origin}. */
  declare readonly path?: string;

  constructor(message: string, code: string, options?: HttpoolErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }

  /** Present on every httpool error, whichever copy of the package made it. */
  get [brand](): true {
    return true;
  }

  /**
   * Any copy's errors are `instanceof HttpoolError` (by the brand), and `instanceof` a subclass
   * when their class, or one it extends, has that subclass's name (two copies of the package
   * in one process, as npm may install them, each have their own classes).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (typeof value !== 'object' || value === null || !(brand in value)) return false;
    if (this === HttpoolError) return true;
    for (
      let proto = Object.getPrototypeOf(value);
      proto !== null;
      proto = Object.getPrototypeOf(proto)
    ) {
      if (Object.hasOwn(proto, 'constructor') && proto.constructor.name === this.name) return true;
    }
    return false;
  }
}

/**
 * Where a request was going: what {@link locateError} writes on the error that failed it.
 * `path` never has the query string, which may hold a secret (a token, a signature), since
 * errors end up in logs; the same goes for the message.
 */
export interface RequestTarget {
  /** `scheme://host[:port]` of the server (not of a proxy in between). */
  readonly origin: string;
  /** The request method. */
  readonly method: string;
  /** The request path without its query string (`*` for `OPTIONS *`). */
  readonly path: string;
}

/**
 * Codes of the errors that fail one request and say which (`origin`, `method`, `path`, and the
 * message ends with `: GET http://host/path`). Other errors (a closed pool, a full queue, a bad
 * argument, an abort) are about the caller or the pool, not about where a request went.
 */
const LOCATED_CODES: ReadonlySet<string> = new Set([
  'ERR_CONNECT_TIMEOUT',
  'ERR_HEADERS_TIMEOUT',
  'ERR_BODY_TIMEOUT',
  'ERR_SOCKET',
  'ERR_INVALID_RESPONSE',
  'ERR_RESPONSE_LIMIT',
  // A whole-request deadline (RequestTimeoutError) fails one request too.
  'ERR_TIMEOUT',
  'ERR_MOCK_NOT_MATCHED',
]);

/**
 * @internal Writes where the request was going on `error`, when it is one of the errors that
 * fail one request, and appends `: METHOD origin/path` to its message. `target` is the request
 * target as sent: `/path?query`, an absolute-form `http://host/path?query` (through a proxy), or
 * `*`; only its path is kept. An error located once keeps what it says (the first request it
 * failed). Returns `error`.
 *
 * Errors are located before they leave httpool: V8 formats `stack` on its first read, with the
 * message as it is then, so the stack shows the located message too.
 */
export function locateError<E>(error: E, origin: string, method: string, target: string): E {
  if (!(error instanceof HttpoolError) || !LOCATED_CODES.has(error.code)) return error;
  if (error.origin !== undefined) return error;
  const path = pathOf(target);
  const fields = error as { origin?: string; method?: string; path?: string };
  fields.origin = origin;
  fields.method = method;
  fields.path = path;
  error.message += `: ${method} ${path === '*' ? `${origin} *` : origin + path}`;
  return error;
}

/**
 * @internal Where the path of a request target begins: 0 in origin form (`/path`) and for `*`;
 * in absolute form (`http://host:port/path?query`, through a proxy), just after the authority.
 */
export function pathStart(target: string): number {
  if (target.charCodeAt(0) === 0x2f || target === '*') return 0;
  const authority = target.indexOf('//');
  let start = authority < 0 ? 0 : authority + 2;
  while (start < target.length && target[start] !== '/' && target[start] !== '?') start++;
  return start;
}

/** The path of a request target: no scheme and authority (absolute form), no query. */
function pathOf(target: string): string {
  const start = pathStart(target);
  const query = target.indexOf('?', start);
  const path = target.slice(start, query < 0 ? target.length : query);
  return path === '' ? '/' : path;
}

/** True when `value` is an error raised by httpool (any copy of it). */
export function isHttpoolError(value: unknown): value is HttpoolError {
  return value instanceof HttpoolError;
}

/** `acquire({ blocking: false })` found no idle connection and the pool is at `maxSize`. */
export class EmptyPoolError extends HttpoolError {
  constructor(message = 'no idle connection and the pool is at maxSize') {
    super(message, 'ERR_POOL_EMPTY');
  }
}

/** The pool (or agent) was closed or destroyed: no new work is accepted. */
export class PoolClosedError extends HttpoolError {
  constructor(message = 'the pool is closed', options?: HttpoolErrorOptions) {
    super(message, 'ERR_POOL_CLOSED', options);
  }
}

/** An `acquire()` waited longer than its `timeout` for a connection. */
export class AcquireTimeoutError extends HttpoolError {
  /** The bound that was exceeded, in milliseconds. */
  readonly timeout: number;
  constructor(timeout: number, options?: HttpoolErrorOptions) {
    super(`no connection became available within ${timeout} ms`, 'ERR_ACQUIRE_TIMEOUT', options);
    this.timeout = timeout;
  }
}

/** Too many callers are already waiting for a connection (`maxWaiting`). */
export class QueueFullError extends HttpoolError {
  constructor(limit: number) {
    super(`the acquire queue is full (${limit} waiting)`, 'ERR_QUEUE_FULL');
  }
}

/**
 * An argument was refused before anything was sent: a bad option, method, path or header.
 * The message never repeats a header's value, which may be a secret.
 */
export class InvalidArgumentError extends HttpoolError {
  constructor(message: string) {
    super(message, 'ERR_INVALID_ARG');
  }
}

/** Opening the connection took longer than `connectTimeout`. */
export class ConnectTimeoutError extends HttpoolError {
  constructor(timeout: number) {
    super(`connecting took longer than ${timeout} ms`, 'ERR_CONNECT_TIMEOUT');
  }
}

/** The response head did not arrive within `headersTimeout`. */
export class HeadersTimeoutError extends HttpoolError {
  constructor(timeout: number) {
    super(`the response head did not arrive within ${timeout} ms`, 'ERR_HEADERS_TIMEOUT');
  }
}

/**
 * A body made no progress for `bodyTimeout`: no response body bytes arrived, or (for a
 * streamed request body) the server stopped reading the upload.
 */
export class BodyTimeoutError extends HttpoolError {
  /** Which body stalled. */
  readonly direction: 'response' | 'request';
  constructor(timeout: number, direction: 'response' | 'request' = 'response') {
    super(
      direction === 'response'
        ? `no response body data arrived for ${timeout} ms`
        : `the server read none of the request body for ${timeout} ms`,
      'ERR_BODY_TIMEOUT',
    );
    this.direction = direction;
  }
}

/**
 * Where a request was when its `timeout` ran out:
 * - `acquire`: waiting for a free connection (every one was busy);
 * - `connect`: waiting for a connection while the pool was opening one (TCP, TLS, a proxy tunnel);
 * - `send`: writing the request (its head and body, a `100 Continue` wait included);
 * - `headers`: waiting for the response head;
 * - `body`: receiving the response body (a reader that stops reading counts too);
 * - `retry-wait`: an Agent waiting to send a retry.
 */
export type RequestPhase = 'acquire' | 'connect' | 'send' | 'headers' | 'body' | 'retry-wait';

const PHASE_TEXT: Record<RequestPhase, string> = {
  acquire: 'waiting for a free connection',
  connect: 'waiting for a connection to open',
  send: 'sending the request',
  headers: 'waiting for the response head',
  body: 'receiving the response body',
  'retry-wait': 'waiting to retry',
};

/** What a {@link RequestTimeoutError} says about the request. */
export interface RequestTimeoutErrorOptions extends HttpoolErrorOptions {
  /** The request's `timeout`, in milliseconds. */
  timeout: number;
  /** Where the request was when the time ran out. */
  phase: RequestPhase;
}

/**
 * A request's `timeout` ran out: the one bound over waiting for a connection, connecting,
 * sending, the response head and its body (and, through an Agent, every redirect and retry).
 */
export class RequestTimeoutError extends HttpoolError {
  /** The bound that was exceeded, in milliseconds. */
  readonly timeout: number;
  /** Where the request was when it ran out. */
  readonly phase: RequestPhase;
  constructor(options: RequestTimeoutErrorOptions) {
    super(
      `the request did not complete within ${options.timeout} ms (${PHASE_TEXT[options.phase]})`,
      'ERR_TIMEOUT',
      options,
    );
    this.timeout = options.timeout;
    this.phase = options.phase;
  }
}

/**
 * The socket failed, or was closed by the peer, in the middle of an exchange.
 *
 * When it failed a request, the connection says how far that request got, at the moment it
 * failed (Go's transport calls the first case `nothingWrittenError`):
 * - {@link requestSent} `'none'` : nothing of it was written, so the server cannot have seen it;
 * - {@link responseStarted} `false`: no byte of an answer came, so the server did not answer
 *   it, though it may have read it (a kept-alive connection the server had already closed
 *   fails this way);
 * - otherwise the server may have acted on it.
 *
 * Both are undefined on a socket error that failed no request of its own (opening a
 * connection, a proxy tunnel).
 */
export class SocketError extends HttpoolError {
  /**
   * How much of the request was handed to the socket: `'none'`, `'partial'` (its head, or
   * part of a streamed body) or `'all'`. Bytes handed over may still not have reached the
   * server; bytes never handed over cannot have.
   */
  declare readonly requestSent?: 'none' | 'partial' | 'all';
  /** True when at least one byte of a response (a `100 Continue` included) had arrived. */
  declare readonly responseStarted?: boolean;
  /**
   * True when the server said it did not process the request: an HTTP/2 stream it refused
   * (REFUSED_STREAM) or one above the last stream id of its GOAWAY (RFC 9113 §8.7). Such a
   * request may be sent again whatever its method.
   */
  declare readonly unprocessed?: true;

  constructor(
    message: string,
    options?: HttpoolErrorOptions & {
      /** See {@link SocketError.requestSent}. */
      requestSent?: 'none' | 'partial' | 'all' | undefined;
      /** See {@link SocketError.responseStarted}. */
      responseStarted?: boolean | undefined;
      /** See {@link SocketError.unprocessed}. */
      unprocessed?: true | undefined;
    },
  ) {
    super(message, 'ERR_SOCKET', options);
    // Own properties only when known: an unclassified error shows no undefined fields.
    if (options?.requestSent !== undefined) this.requestSent = options.requestSent;
    if (options?.responseStarted !== undefined) this.responseStarted = options.responseStarted;
    if (options?.unprocessed === true) this.unprocessed = true;
  }
}

/**
 * The server reset an HTTP/2 stream (RST_STREAM) with an error code other than
 * REFUSED_STREAM, or the stream failed with one: the request may have been acted on, so it is
 * never sent again by itself. The connection stays in use for other requests.
 */
export class StreamResetError extends HttpoolError {
  /** The HTTP/2 error code (RFC 9113 §7), e.g. 2 for INTERNAL_ERROR, 8 for CANCEL. */
  readonly http2Code: number;
  constructor(message: string, http2Code: number, options?: HttpoolErrorOptions) {
    super(message, 'ERR_STREAM_RESET', options);
    this.http2Code = http2Code;
  }
}

/** Reading the request body the caller supplied failed; the request was abandoned. */
export class RequestBodyError extends HttpoolError {
  constructor(message: string, options?: HttpoolErrorOptions) {
    super(message, 'ERR_REQUEST_BODY', options);
  }
}

/** The server sent something that is not a valid HTTP/1.1 response. */
export class ResponseError extends HttpoolError {
  /** A short description of what was wrong, for logs. */
  readonly reason: string;
  constructor(reason: string, options?: HttpoolErrorOptions) {
    super(`invalid HTTP response: ${reason}`, 'ERR_INVALID_RESPONSE', options);
    this.reason = reason;
  }
}

/** The response exceeded one of the parser's limits (header size, header count, line length, ...). */
export class ResponseLimitError extends HttpoolError {
  /** Which limit was exceeded, by its option name (`maxHeaderSize`, ...). */
  readonly limit: string;
  /** The configured value of that limit. */
  readonly value: number;
  constructor(limit: string, value: number) {
    super(`the response exceeded ${limit} (${value})`, 'ERR_RESPONSE_LIMIT');
    this.limit = limit;
    this.value = value;
  }
}

/** The response body was read after it had already been consumed, or the response was misused. */
export class BodyUsedError extends HttpoolError {
  constructor(message = 'the response body has already been read') {
    super(message, 'ERR_BODY_USED');
  }
}

/** A connection or lease was used in a state that does not allow it (after release, say). */
export class InvalidStateError extends HttpoolError {
  constructor(message: string) {
    super(message, 'ERR_INVALID_STATE');
  }
}

/**
 * The proxy answered a CONNECT with something other than 2xx (407 when it wants credentials,
 * 403 when policy forbids the target, 502 when it could not reach it, ...).
 */
export class ProxyError extends HttpoolError {
  /** The proxy's status code. */
  readonly statusCode: number;
  constructor(message: string, statusCode: number, options?: HttpoolErrorOptions) {
    super(message, 'ERR_PROXY', options);
    this.statusCode = statusCode;
  }
}

/** An operation was aborted through an `AbortSignal` whose reason was not an Error. */
export class AbortError extends HttpoolError {
  constructor(message = 'the operation was aborted', options?: HttpoolErrorOptions) {
    super(message, 'ABORT_ERR', options);
  }
}

/**
 * A request to a `MockAgent` (from `httpool/testing`) that no interceptor matched, on an
 * origin not let through to the network. `expected` lists the interceptors that were waiting.
 */
export class MockNotMatchedError extends HttpoolError {
  /** The interceptors still waiting for a request when this one came, described. */
  readonly expected: readonly string[];
  constructor(message: string, expected: readonly string[]) {
    super(message, 'ERR_MOCK_NOT_MATCHED');
    this.expected = expected;
  }
}

/** `MockAgent.assertNoPendingInterceptors()` found interceptors no request used up. */
export class MockPendingError extends HttpoolError {
  /** The interceptors left, described. */
  readonly pending: readonly string[];
  constructor(pending: readonly string[]) {
    super(
      `${pending.length} interceptor${pending.length === 1 ? ' is' : 's are'} still pending:\n${pending.map((p) => `  ${p}`).join('\n')}`,
      'ERR_MOCK_PENDING',
    );
    this.pending = pending;
  }
}

/** The reason to reject with when `signal` aborted: its own reason if that is an Error. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new AbortError(undefined, { cause: reason });
}
