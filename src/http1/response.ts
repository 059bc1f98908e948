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
  /** The body stream. */
  readonly body: ResponseBody;

  /** @internal made by the connection when a response head has been parsed */
  constructor(
    status: number,
    statusText: string,
    httpVersion: string,
    rawHeaders: readonly string[],
    body: ResponseBody,
  ) {
    this.status = status;
    this.statusText = statusText;
    this.httpVersion = httpVersion;
    this.#rawHeaders = rawHeaders;
    this.body = body;
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

  /** Reads the whole body and parses it as JSON. */
  json(): Promise<unknown> {
    return this.body.json();
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
