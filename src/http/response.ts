import { pathStart } from '../errors.js';
import type { ResponseBody } from './body.js';
import { ResponseHeaders } from './headers.js';

/**
 * A response whose head has arrived. The body streams: read it with `for await`, or one of
 * {@link text}, {@link json}, {@link arrayBuffer}, or throw it away with {@link dump}.
 * Until the body is read to the end (or dumped) the connection stays busy.
 */
export class HttpResponse {
  /** Status code, e.g. 200. */
  readonly status: number;
  /** Reason phrase as the server sent it (may be empty). */
  readonly statusText: string;
  /** `"1.1"` or `"1.0"`. */
  readonly httpVersion: string;
  readonly #rawHeaders: readonly string[];
  #headers: ResponseHeaders | undefined;
  /**
   * The origin, until {@link url} is first read; then undefined, and {@link #target} holds the
   * URL. Joining them costs a string per response, which most callers never read.
   */
  #origin: string | undefined;
  /** The request target as sent (`/path?query`, absolute form through a proxy, or `*`), then the URL. */
  #target: string;
  /** The body stream. */
  readonly body: ResponseBody;
  #redirectUrls: readonly string[] = NO_REDIRECTS;

  /** @internal made by the connection when a response head has been parsed */
  constructor(
    status: number,
    statusText: string,
    httpVersion: string,
    rawHeaders: readonly string[],
    body: ResponseBody,
    origin: string,
    target: string,
  ) {
    this.status = status;
    this.statusText = statusText;
    this.httpVersion = httpVersion;
    this.#rawHeaders = rawHeaders;
    this.body = body;
    this.#origin = origin;
    this.#target = target;
  }

  /**
   * The URL this response answers: the origin and the request path with its query (after
   * redirects an Agent followed, the last one's). A relative link in the body resolves
   * against it: `new URL(href, res.url)`. For `OPTIONS *` it is the origin alone.
   */
  get url(): string {
    const origin = this.#origin;
    if (origin !== undefined) {
      this.#target = joinUrl(origin, this.#target);
      this.#origin = undefined;
    }
    return this.#target;
  }

  /**
   * Every URL a redirect led to, in the order followed, when `agent.request()` followed
   * redirects (`redirect: 'follow'`); the last one is {@link url}. Empty when none was followed
   * (and for `pool.request()`). A retry of a hop adds nothing.
   */
  get redirectUrls(): readonly string[] {
    return this.#redirectUrls;
  }

  /**
   * @internal The same response with other header fields and body (a decoded one): the URL and
   * redirects stay this one's.
   */
  withBody(rawHeaders: readonly string[], body: ResponseBody): HttpResponse {
    const copy = new HttpResponse(
      this.status,
      this.statusText,
      this.httpVersion,
      rawHeaders,
      body,
      '',
      this.#target,
    );
    copy.#origin = this.#origin;
    copy.#redirectUrls = this.#redirectUrls;
    return copy;
  }

  /** @internal the Agent, once it has followed redirects to this response */
  setRedirectUrls(urls: readonly string[]): void {
    this.#redirectUrls = urls;
  }

  /** Header fields: case-insensitive `get()`, raw ordered pairs in `raw`. Made on first use. */
  get headers(): ResponseHeaders {
    this.#headers ??= new ResponseHeaders(this.#rawHeaders);
    return this.#headers;
  }

  /** True for 2xx statuses. */
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  /** Trailer fields of a chunked response, available once the body has been read. */
  get trailers(): ResponseHeaders {
    return new ResponseHeaders(this.body.trailers);
  }

  /** Reads the whole body as UTF-8 text. */
  text(): Promise<string> {
    return this.body.text();
  }

  /**
   * Reads the whole body and parses it as JSON. `T` only names what the caller expects
   * (`res.json<User>()`); nothing checks that the value has that shape.
   */
  json<T = unknown>(): Promise<T> {
    return this.body.json<T>();
  }

  /** Reads the whole body into an ArrayBuffer. */
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.body.arrayBuffer();
  }

  /** Reads the whole body into one Uint8Array. */
  bytes(): Promise<Uint8Array> {
    return this.body.bytes();
  }

  /** Throws the body away so the connection can be reused (or closes it if that costs too much). */
  dump(): Promise<void> {
    return this.body.dump();
  }
}

/** Shared by every response that followed no redirect (frozen: nobody can push into it). */
const NO_REDIRECTS: readonly string[] = Object.freeze([]);

/** `origin` and the path part of `target` (origin form, absolute form or `*`). */
function joinUrl(origin: string, target: string): string {
  if (target.charCodeAt(0) === 0x2f) return origin + target;
  if (target === '*') return origin;
  // Absolute form (through a proxy): its path and query, on the origin as the pool names it.
  const rest = target.slice(pathStart(target));
  // The bare authority is OPTIONS * through a proxy (RFC 9112 §3.2.4): the origin, as direct.
  if (rest === '') return origin;
  return rest.charCodeAt(0) === 0x2f ? origin + rest : `${origin}/${rest}`;
}
