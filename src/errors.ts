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
export class HttpoolError extends Error {
  /** A stable, machine-readable identifier such as `ERR_POOL_EMPTY`. */
  readonly code: string;

  constructor(message: string, code: string, options?: HttpoolErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }

  /** Present on every httpool error, whichever copy of the package made it. */
  get [brand](): true {
    return true;
  }

  /** Any copy's errors are `instanceof HttpoolError` (by the brand); subclasses match as usual. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== HttpoolError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && brand in value;
  }
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

/** The socket failed, or was closed by the peer, in the middle of an exchange. */
export class SocketError extends HttpoolError {
  constructor(message: string, options?: HttpoolErrorOptions) {
    super(message, 'ERR_SOCKET', options);
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

/** An operation was aborted through an `AbortSignal` whose reason was not an Error. */
export class AbortError extends HttpoolError {
  constructor(message = 'the operation was aborted', options?: HttpoolErrorOptions) {
    super(message, 'ABORT_ERR', options);
  }
}

/** The reason to reject with when `signal` aborted: its own reason if that is an Error. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new AbortError(undefined, { cause: reason });
}
