/**
 * What a caller asks of one exchange, whatever protocol carries it: the request's method,
 * target, headers and body, and its time bounds.
 */

/** A header value: converted with `String()`; an array produces one field line per element. */
export type HeaderValue = string | number | readonly (string | number)[];

/**
 * Request headers, either as a record (own enumerable keys only; `undefined` and `null` values are
 * skipped) or as an iterable of `[name, value]` pairs such as a `Map` or a fetch `Headers`.
 * Names are sent with the case given.
 */
export type HeadersInput =
  | Record<string, HeaderValue | undefined>
  | Iterable<readonly [string, string | number]>;

/**
 * A request body: bytes sent with Content-Length, or a stream sent chunked (or, when the
 * caller gives a `content-length` header, sent with that length and held to it).
 */
export type RequestBody =
  | string
  | Uint8Array
  | AsyncIterable<Uint8Array | string>
  | NodeJS.ReadableStream
  | null;

/** One request on one connection. */
export interface ExchangeOptions {
  /**
   * Request method; default `GET`. DELETE, GET, HEAD, OPTIONS, POST and PUT are sent upper-case
   * whatever case they are given in (as fetch() does); other methods are sent as given.
   */
  method?: string | undefined;
  /** Request target; default `/`. */
  path?: string | undefined;
  /** Header fields, as an object or as ordered `[name, value]` pairs. */
  headers?: HeadersInput | undefined;
  /**
   * The body: string or bytes (Content-Length), or an async iterable / stream (chunked, or
   * with the `content-length` header given, which it must then match byte for byte).
   */
  body?: RequestBody | undefined;
  /** Aborts the exchange at any stage; the connection is closed if anything was sent. */
  signal?: AbortSignal | undefined;
  /** Overrides the connection's `headersTimeout` for this request (ms). */
  headersTimeout?: number | undefined;
  /** Overrides the connection's `bodyTimeout` for this request (ms). */
  bodyTimeout?: number | undefined;
  /**
   * One bound (ms) over the whole request: waiting for a connection, connecting, sending, the
   * response head and its body, until the body has arrived in full. RequestTimeoutError after
   * it. Default: none.
   */
  timeout?: number | undefined;
}
