/**
 * The request options that save a caller some work: `query` (appended to the path, encoded),
 * `json` (serialized as the body, with its content type), `decompress`; and default headers
 * merged under the request's own. They are turned into plain path, headers and body here, once
 * per request, before anything reaches the connection.
 */
import { InvalidArgumentError } from '../errors.js';
import { type HeaderPairs, hasHeader, toHeaderPairs, withDefaults } from '../http/header-pairs.js';
import type { ExchangeOptions, HeadersInput, RequestBody } from '../http/options.js';
import { serializeRequestHead } from '../http1/serializer.js';

/** One query parameter value: converted with `String()`. */
export type QueryValue = string | number | boolean | bigint;

/**
 * Query parameters: a `URLSearchParams` (its entries, in order), or an object whose values are
 * a {@link QueryValue}, an array of them (one `name=value` per element), or `undefined`/`null`
 * (left out).
 */
export type QueryInput =
  | URLSearchParams
  | Record<string, QueryValue | readonly (QueryValue | null | undefined)[] | null | undefined>;

/** The options every request method takes on top of {@link ExchangeOptions}. */
export interface RequestConveniences {
  /**
   * Query parameters appended to the path (after a `?` already there, with `&`), encoded as a
   * form is (`application/x-www-form-urlencoded`, UTF-8) but with a space as `%20`. See
   * {@link QueryInput}.
   */
  query?: QueryInput | undefined;
  /**
   * A JSON value sent as the body, serialized with `JSON.stringify`, with
   * `content-type: application/json` unless the request gives a Content-Type. Not with `body`.
   */
  json?: unknown;
  /**
   * Ask for a compressed response (`accept-encoding`, unless the request sets one) and decode
   * gzip, deflate, br (and zstd where this Node has it): the body streams decoded bytes, and the
   * headers lose Content-Encoding and Content-Length. Default: the pool's `decompress` (off).
   */
  decompress?: boolean | undefined;
}

/** Options of `conn.request()`: one exchange plus the {@link RequestConveniences}. */
export interface ConnectionRequestOptions extends ExchangeOptions, RequestConveniences {}

const JSON_TYPE = 'application/json';

/**
 * The query string of `query`, without the `?`: `application/x-www-form-urlencoded`
 * serialization with spaces as `%20` rather than `+` (a `+` is a space only to form decoders;
 * `%20` is one to every decoder).
 *
 * @throws InvalidArgumentError for a value that is not a string, number, boolean or bigint
 */
export function encodeQuery(query: QueryInput): string {
  let params: URLSearchParams;
  if (query instanceof URLSearchParams) params = query;
  else if (typeof query === 'object' && query !== null && !Array.isArray(query)) {
    params = new URLSearchParams();
    for (const name of Object.keys(query)) {
      const value = query[name];
      if (Array.isArray(value)) {
        for (const item of value as readonly unknown[]) appendParam(params, name, item, true);
      } else appendParam(params, name, value, false);
    }
  } else {
    throw new InvalidArgumentError('query must be an object or a URLSearchParams');
  }
  // URLSearchParams writes a space as '+' and a literal '+' as '%2B': every '+' is a space.
  return params.toString().replaceAll('+', '%20');
}

function appendParam(params: URLSearchParams, name: string, value: unknown, inArray: boolean) {
  if (value === undefined || value === null) return;
  const kind = typeof value;
  if (kind === 'string' || kind === 'number' || kind === 'boolean' || kind === 'bigint') {
    params.append(name, String(value));
    return;
  }
  throw new InvalidArgumentError(
    `query parameter "${name}": ${inArray ? 'an array element' : 'the value'} must be a string, number, boolean or bigint`,
  );
}

/** `path` with `query` appended: after `?` (or `&` when the path already has a query). */
export function withQuery(path: string, query: QueryInput): string {
  const encoded = encodeQuery(query);
  if (encoded === '') return path;
  const at = path.indexOf('?');
  if (at === -1) return `${path}?${encoded}`;
  return path.endsWith('?') || path.endsWith('&') ? path + encoded : `${path}&${encoded}`;
}

/**
 * `value` serialized for `json`.
 *
 * @throws InvalidArgumentError when JSON cannot represent it (undefined, a function, a symbol,
 *   a bigint, a cycle)
 */
export function jsonBody(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new InvalidArgumentError(`json cannot be serialized: ${(error as Error).message}`);
  }
  if (text === undefined) {
    throw new InvalidArgumentError(
      'json must be a JSON value (not undefined, a function or a symbol)',
    );
  }
  return text;
}

/**
 * The headers and body a request sends once `json` and the default headers are applied:
 * defaults under the request's own fields, `json` serialized with its Content-Type (over a
 * default Content-Type, under the request's own), and `acceptEncoding` added when given and no
 * Accept-Encoding is there.
 *
 * @throws InvalidArgumentError for `json` with a `body`, or a value JSON cannot represent
 */
export function requestContent(
  options: { headers?: HeadersInput | undefined; body?: RequestBody | undefined; json?: unknown },
  defaults: HeaderPairs,
  acceptEncoding: string | undefined,
): { headers: HeadersInput | undefined; body: RequestBody | undefined } {
  let { headers, body } = options;
  let base = defaults;
  if (options.json !== undefined) {
    if (body !== undefined && body !== null) {
      throw new InvalidArgumentError('json and body cannot be used together');
    }
    body = jsonBody(options.json);
    if (!hasHeader(headers, 'content-type')) {
      // json's type goes over a default Content-Type, and under the request's own.
      base = [...defaults.filter(([name]) => name.toLowerCase() !== 'content-type')];
      base.push(['content-type', JSON_TYPE]);
    }
  }
  headers = withDefaults(base, headers);
  if (acceptEncoding !== undefined && !hasHeader(headers, 'accept-encoding')) {
    headers = withDefaults([['accept-encoding', acceptEncoding]], headers);
  }
  return { headers, body };
}

/**
 * Default headers given as a pool or agent option, as pairs, checked as a request would check
 * them (names, values, and fields no request can always carry, such as Content-Length).
 *
 * @throws InvalidArgumentError for headers a request would refuse
 */
export function defaultHeaderPairs(headers: HeadersInput | undefined): HeaderPairs {
  if (headers === undefined) return [];
  serializeRequestHead({ method: 'GET', path: '/', host: 'localhost', headers, framing: NONE });
  return toHeaderPairs(headers);
}

const NONE = { kind: 'none' } as const;
