/**
 * WHATWG `fetch()` over an Agent: each hop goes through the agent's pools, retries and limits
 * (what fetch needs of the agent is the {@link FetchClient} declared here, so this module never
 * imports the Agent's), the redirect chain is run here with the rules of redirect.ts, and the
 * answer is Node's own global `Response`, its body a `ReadableStream` pulled from the connection.
 *
 * The common case (a string or URL, no body or a string body) takes a short path that builds
 * no `Request`; other bodies are normalised once, before the first hop.
 */
import { locateError, ResponseError } from '../errors.js';
import { type RequestDeadline, startDeadline } from '../http/deadline.js';
import { type HeaderPairs, toHeaderPairs, withDefaults } from '../http/header-pairs.js';
import type { HttpResponse } from '../http/response.js';
import { acceptEncoding, decodeResponse } from './decode.js';
import { BODY_SPENT, checkHop, isRedirectStatus, nextHop, RedirectError } from './redirect.js';
import { isAbortSignal } from './signal.js';

/** Redirects followed before the fetch fails (Fetch §4.4, step "redirect count is 20"). */
const MAX_REDIRECTS = 20;

const TEXT_PLAIN = 'text/plain;charset=UTF-8';
const FORM_URLENCODED = 'application/x-www-form-urlencoded;charset=UTF-8';

/** `fetch()`'s init, with httpool's extension. */
export interface FetchInit extends RequestInit {
  /**
   * One bound (ms) over the whole fetch: connections, every redirect, and the response body
   * until it has arrived. When it runs out, the fetch rejects with `TypeError('fetch failed')`
   * (or its body with `TypeError('terminated')`) whose `cause` is a RequestTimeoutError
   * (`ERR_TIMEOUT`). Default: none.
   */
  timeout?: number | undefined;
}

type RedirectMode = 'follow' | 'manual' | 'error';
type OutgoingBody = string | Uint8Array | AsyncIterable<Uint8Array> | null;

/** One request, normalised: what every hop needs. */
interface Prepared {
  url: URL;
  method: string;
  headers: HeaderPairs;
  body: OutgoingBody;
  /** The body is a stream: it cannot be sent twice (a 307/308 then fails, as the spec says). */
  streamed: boolean;
  signal: AbortSignal | undefined;
  redirect: RedirectMode;
}

/** @internal What fetch() needs of the agent it runs over; the Agent builds one of these. */
export interface FetchClient {
  /**
   * One hop: `agent.request()` without redirects, the agent's default headers already merged,
   * under the fetch's `deadline` when it has one.
   */
  request(
    url: URL,
    options: {
      method: string;
      headers: HeaderPairs;
      body: OutgoingBody;
      signal: AbortSignal | undefined;
    },
    deadline?: RequestDeadline | undefined,
  ): Promise<HttpResponse>;
  /** The agent's default headers, merged under the request's own before the first hop. */
  readonly headers: HeaderPairs;
  /** What a relative string input is resolved against. */
  readonly baseUrl: URL | undefined;
  /** The `maxResponseSize` of the pool that carried a hop: it bounds the decoded body too. */
  maxDecodedFor(url: URL): number;
}

/**
 * @internal The body of `Agent.fetch`. Rejections follow Node's fetch: a bad argument is a
 * TypeError; a failure of the exchange is `TypeError('fetch failed', { cause })` with the
 * httpool error as `cause` (a `timeout` that ran out included); an abort rejects with the
 * signal's reason.
 */
export async function fetchThrough(
  client: FetchClient,
  input: string | URL | Request,
  init?: FetchInit,
): Promise<Response> {
  const request =
    (typeof input === 'string' || input instanceof URL) && isSimpleBody(init?.body)
      ? prepareSimple(client, input, init)
      : await prepareGeneral(client, input, init);
  const signal = request.signal;
  if (signal?.aborted) throw signal.reason;
  const timeout = init?.timeout;
  if (timeout === undefined) return send(client, request, undefined);
  let deadline: RequestDeadline | undefined;
  try {
    deadline = startDeadline(timeout, signal);
  } catch (error) {
    // A bad argument, as fetch reports them; the httpool error says which.
    throw new TypeError((error as Error).message, { cause: error });
  }
  if (deadline === undefined) return send(client, request, undefined);
  let response: Response;
  try {
    response = await send(client, request, deadline);
  } catch (error) {
    deadline.end();
    throw error;
  }
  // Over once the body has arrived (or now, if it already has).
  deadline.handOver();
  return response;
}

/** Runs the hops of a prepared fetch, under `deadline` when it has one. */
async function send(
  client: FetchClient,
  request: Prepared,
  deadline: RequestDeadline | undefined,
): Promise<Response> {
  const signal = request.signal;
  let { url, method, headers, body } = request;
  let redirects = 0;
  // Node's fetch reports type 'cors' once a redirect left the first URL's origin.
  let type: 'basic' | 'cors' = 'basic';
  for (;;) {
    let response: HttpResponse;
    try {
      response = await client.request(url, { method, headers, body, signal }, deadline);
    } catch (error) {
      throw failure(error, signal);
    }
    if (signal?.aborted) {
      // Aborted while the head was on its way in: the fetch fails, as if it came a moment later.
      void response.dump();
      throw signal.reason;
    }
    const status = response.status;
    if (request.redirect !== 'manual' && isRedirectStatus(status)) {
      let hop: ReturnType<typeof nextHop>;
      try {
        hop = nextHop(status, response.headers.get('location'), url, method, headers);
        if (hop !== undefined) {
          const refused = checkHop(
            hop,
            status,
            request.redirect,
            redirects,
            MAX_REDIRECTS,
            request.streamed && body !== null,
          );
          if (refused === BODY_SPENT) {
            throw new RedirectError(
              `a streamed body cannot be sent again after a ${status}`,
              status,
            );
          }
          if (refused !== undefined) throw refused;
        }
      } catch (error) {
        void response.dump();
        throw failure(error, signal);
      }
      if (hop !== undefined) {
        // Read the redirect's own body away so its connection can carry the next hop.
        await response.dump();
        if (signal?.aborted) throw signal.reason;
        if (hop.url.origin !== request.url.origin) type = 'cors';
        url = hop.url;
        method = hop.method;
        headers = hop.headers;
        if (!hop.keepBody) body = null;
        redirects++;
        continue;
      }
    }
    return toResponse(
      response,
      url,
      method,
      redirects > 0,
      type,
      signal,
      client.maxDecodedFor(url),
    );
  }
}

/** The reason to reject with: the signal's own reason after an abort, else `fetch failed`. */
function failure(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  return new TypeError('fetch failed', { cause: error });
}

// --- request normalisation ---

function isSimpleBody(body: RequestInit['body'] | undefined): body is string | null | undefined {
  return body === undefined || body === null || typeof body === 'string';
}

/**
 * The last string parsed by {@link parseUrl} and its URL: a client fetching one URL over and
 * over parses it once. Safe to share because fetch never changes a URL it parsed (a redirect
 * makes a new one) and never hands it out.
 */
let lastInput: string | undefined;
let lastUrl: URL | undefined;
/** `lastUrl.href` when cached: if anything (an Agent subclass, say) changed it, parse again. */
let lastHref: string | undefined;

function parseUrl(input: string | URL, base?: URL): URL {
  if (base !== undefined && typeof input === 'string') {
    // Resolved against the agent's baseUrl; not cached, the cache being shared by all agents.
    let resolved: URL;
    try {
      resolved = new URL(input, base);
    } catch (error) {
      throw new TypeError(`Failed to parse URL from ${input}`, { cause: error });
    }
    return checkCredentials(resolved);
  }
  if (input === lastInput && lastUrl !== undefined && lastUrl.href === lastHref) return lastUrl;
  let url: URL;
  try {
    url = new URL(input);
  } catch (error) {
    throw new TypeError(`Failed to parse URL from ${String(input)}`, { cause: error });
  }
  checkCredentials(url);
  if (typeof input === 'string') {
    lastInput = input;
    lastUrl = url;
    lastHref = url.href;
  }
  return url;
}

function checkCredentials(url: URL): URL {
  if (url.username !== '' || url.password !== '') {
    throw new TypeError('Request cannot be constructed from a URL that includes credentials');
  }
  return url;
}

/** Methods the Fetch standard upper-cases whatever case they were given in. */
const NORMALISED_METHODS = new Map(
  ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'].map((m) => [m.toLowerCase(), m]),
);
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

function normaliseMethod(method: string | undefined): string {
  if (method === undefined || method === 'GET') return 'GET';
  const normal = NORMALISED_METHODS.get(method.toLowerCase()) ?? method;
  if (FORBIDDEN_METHODS.has(normal.toUpperCase())) {
    throw new TypeError(`'${normal}' HTTP method is unsupported.`);
  }
  return normal;
}

function redirectMode(mode: RequestInit['redirect']): RedirectMode {
  if (mode === undefined || mode === 'follow' || mode === 'manual' || mode === 'error') {
    return mode ?? 'follow';
  }
  throw new TypeError(`'${String(mode)}' is not a valid redirect mode`);
}

/** `init.signal`, refused (a TypeError, as Node's fetch) unless it is an AbortSignal or absent. */
function initSignal(signal: AbortSignal | null | undefined): AbortSignal | undefined {
  if (signal === undefined || signal === null) return undefined;
  if (!isAbortSignal(signal)) throw new TypeError("RequestInit: 'signal' is not an AbortSignal");
  return signal;
}

/** The short path: a string or URL, and no body or a string body. */
function prepareSimple(
  client: FetchClient,
  input: string | URL,
  init: RequestInit | undefined,
): Prepared {
  const url = parseUrl(input, client.baseUrl);
  const method = normaliseMethod(init?.method);
  const body = (init?.body ?? null) as string | null;
  if (body !== null && (method === 'GET' || method === 'HEAD')) {
    throw new TypeError('Request with GET/HEAD method cannot have body.');
  }
  const headers = toHeaderPairs(
    (init?.headers ?? undefined) as Parameters<typeof toHeaderPairs>[0],
  );
  withAgentHeaders(client, headers);
  addDefaults(headers, url, body === null ? null : TEXT_PLAIN);
  return {
    url,
    method,
    headers,
    body,
    streamed: false,
    signal: initSignal(init?.signal),
    redirect: redirectMode(init?.redirect),
  };
}

/** Every other input: a `Request`, or a body that needs extracting. */
async function prepareGeneral(
  client: FetchClient,
  input: string | URL | Request,
  init: RequestInit | undefined,
): Promise<Prepared> {
  if (input instanceof Request) {
    const request = init === undefined ? input : new Request(input, init);
    const url = parseUrl(request.url);
    const headers: HeaderPairs = [];
    for (const pair of request.headers) headers.push(pair);
    withAgentHeaders(client, headers);
    // A Request's body is buffered: a string or bytes source can then follow a 307/308, as the
    // spec allows; the Request holds no clue to tell a stream source apart.
    const body = request.body === null ? null : new Uint8Array(await request.arrayBuffer());
    addDefaults(headers, url, null);
    return {
      url,
      method: request.method,
      headers,
      body,
      streamed: false,
      signal: request.signal,
      redirect: request.redirect as RedirectMode,
    };
  }
  const url = parseUrl(
    typeof input === 'string' || input instanceof URL ? input : String(input),
    client.baseUrl,
  );
  const method = normaliseMethod(init?.method);
  const headers = toHeaderPairs(
    (init?.headers ?? undefined) as Parameters<typeof toHeaderPairs>[0],
  );
  const extracted = await extractBody(init);
  if (extracted.body !== null && (method === 'GET' || method === 'HEAD')) {
    throw new TypeError('Request with GET/HEAD method cannot have body.');
  }
  withAgentHeaders(client, headers);
  addDefaults(headers, url, extracted.type);
  return {
    url,
    method,
    headers,
    body: extracted.body,
    streamed: extracted.streamed,
    signal: initSignal(init?.signal),
    redirect: redirectMode(init?.redirect),
  };
}

interface Extracted {
  body: OutgoingBody;
  type: string | null;
  streamed: boolean;
}

/** Fetch's "extract a body": the bytes (or stream) to send and the default Content-Type. */
async function extractBody(init: RequestInit | undefined): Promise<Extracted> {
  const body: unknown = init?.body ?? null;
  if (body === null) return { body: null, type: null, streamed: false };
  if (typeof body === 'string') return { body, type: TEXT_PLAIN, streamed: false };
  if (body instanceof URLSearchParams) {
    return { body: body.toString(), type: FORM_URLENCODED, streamed: false };
  }
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
    // The spec sends a copy of the bytes as they were when fetch() was called.
    const view =
      body instanceof ArrayBuffer
        ? new Uint8Array(body)
        : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    return { body: view.slice(), type: null, streamed: false };
  }
  if (body instanceof Blob) {
    return {
      body: new Uint8Array(await body.arrayBuffer()),
      type: body.type === '' ? null : body.type,
      streamed: false,
    };
  }
  if (body instanceof ReadableStream || isAsyncIterable(body)) {
    if ((init as { duplex?: unknown }).duplex !== 'half') {
      throw new TypeError('RequestInit: duplex option is required when sending a body.');
    }
    if (body instanceof ReadableStream && body.locked) {
      throw new TypeError('Response body object should not be disturbed or locked');
    }
    return { body: streamChunks(body as AsyncIterable<unknown>), type: null, streamed: true };
  }
  // FormData, and anything else Node's Body mixin understands (it stringifies the rest): let it
  // write the bytes and pick the type (the multipart boundary, say).
  const extracted = new Response(body as ConstructorParameters<typeof Response>[0]);
  const type = extracted.headers.get('content-type');
  return { body: new Uint8Array(await extracted.arrayBuffer()), type, streamed: false };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

/** A request body stream's chunks, which must be bytes (as the Fetch standard requires). */
async function* streamChunks(source: AsyncIterable<unknown>): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError('a request body stream must yield Uint8Array chunks');
    }
    yield chunk;
  }
}

/** Puts the agent's default headers under `headers` (in place), the request's own winning. */
function withAgentHeaders(client: FetchClient, headers: HeaderPairs): void {
  if (client.headers.length === 0) return;
  const merged = withDefaults(client.headers, headers) as HeaderPairs;
  headers.length = 0;
  for (const pair of merged) headers.push(pair);
}

/** Adds the header fields fetch sends by default when the caller did not: Accept, Accept-Encoding, Content-Type. */
function addDefaults(headers: HeaderPairs, url: URL, contentType: string | null): void {
  let accept = false;
  let hasAcceptEncoding = false;
  let type = contentType === null;
  for (const pair of headers) {
    const name = pair[0].toLowerCase();
    if (name === 'accept') accept = true;
    else if (name === 'accept-encoding') hasAcceptEncoding = true;
    else if (name === 'content-type') type = true;
  }
  if (!type) headers.push(['content-type', contentType!]);
  if (!accept) headers.push(['accept', '*/*']);
  if (!hasAcceptEncoding) headers.push(['accept-encoding', acceptEncoding(url.protocol)]);
}

// --- the response ---

/** Statuses whose responses have no body (Fetch "null body status"; 101 and 103 never get here). */
function isNullBodyStatus(status: number): boolean {
  return status === 204 || status === 205 || status === 304;
}

function toResponse(
  response: HttpResponse,
  url: URL,
  method: string,
  redirected: boolean,
  type: 'basic' | 'cors',
  signal: AbortSignal | undefined,
  maxDecoded: number,
): Response {
  const status = response.status;
  if (status < 200 || status > 599) {
    void response.dump();
    throw failure(
      locateError(
        new ResponseError(`status ${status} cannot be given to a fetch Response`),
        url.origin,
        method,
        url.pathname,
      ),
      signal,
    );
  }
  const nullBody = method === 'HEAD' || isNullBodyStatus(status);
  let body: ReadableStream<Uint8Array> | null = null;
  if (nullBody) void response.dump();
  else {
    let source = response;
    if (response.headers.has('content-encoding')) {
      try {
        source = decodeResponse(response, method, maxDecoded);
      } catch (error) {
        throw failure(error, signal);
      }
    }
    // A small body that came whole with its head is handed over at once (its connection is
    // already back in the pool); anything else is pulled from the connection as it is read.
    const whole = source === response ? response.body.takeWhole() : undefined;
    if (whole !== undefined) body = wholeStream(whole, signal);
    else {
      body = bodyStream(source.body, signal);
      // A body nobody reads would hold its connection for good: give it up once the stream is
      // garbage (the holdings never reach the stream, so they do not keep it alive).
      unread.register(body, source);
    }
  }
  let out: Response;
  try {
    out = new Response(body, { status, statusText: response.statusText });
  } catch {
    // A reason phrase the Response constructor refuses (it is only informative): drop it.
    out = new Response(body, { status });
  }
  const fields = out.headers;
  const raw = response.headers.raw;
  try {
    for (let i = 0; i + 1 < raw.length; i += 2) fields.append(raw[i]!, raw[i + 1]!);
  } catch (error) {
    void body?.cancel();
    throw failure(
      locateError(
        new ResponseError('a header field fetch cannot represent', { cause: error }),
        url.origin,
        method,
        url.pathname,
      ),
      signal,
    );
  }
  let href = url.href;
  if (url.hash !== '') href = href.slice(0, href.length - url.hash.length);
  // One defineProperty each, two with shared descriptors: cheaper than defineProperties.
  Object.defineProperty(out, 'url', { value: href, enumerable: false });
  Object.defineProperty(out, 'redirected', redirected ? REDIRECTED : NOT_REDIRECTED);
  Object.defineProperty(out, 'type', type === 'basic' ? BASIC_TYPE : CORS_TYPE);
  return out;
}

// Property descriptors shared by every response (read by defineProperty, never kept).
const REDIRECTED: PropertyDescriptor = { value: true, enumerable: false };
const NOT_REDIRECTED: PropertyDescriptor = { value: false, enumerable: false };
const BASIC_TYPE: PropertyDescriptor = { value: 'basic', enumerable: false };
const CORS_TYPE: PropertyDescriptor = { value: 'cors', enumerable: false };

/** Gives up the body of a response whose stream was collected unread (a no-op once it was read). */
const unread = new FinalizationRegistry<HttpResponse>((response) => {
  void response.dump();
});

/** A fetch body chunk: a plain Uint8Array view, as Node's fetch gives (never a Buffer, whose slice() would not copy). */
function plainView(chunk: Uint8Array): Uint8Array {
  return chunk.constructor === Uint8Array
    ? chunk
    : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * A body that has fully arrived, as a one-chunk `ReadableStream`. As in Node's fetch, an abort
 * still errors it until the reader has taken the chunk.
 */
function wholeStream(
  bytes: Uint8Array,
  signal: AbortSignal | undefined,
): ReadableStream<Uint8Array> {
  const chunk = plainView(bytes);
  if (signal === undefined) {
    return new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        controller.close();
      },
    });
  }
  let onAbort: (() => void) | undefined;
  const finish = () => {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    onAbort = undefined;
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(chunk);
      onAbort = () => {
        finish();
        controller.error(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    },
    // Asked for more once the chunk was taken: the body is over.
    pull(controller) {
      finish();
      controller.close();
    },
    cancel: finish,
  });
}

/**
 * The response body as a `ReadableStream`: each `pull` takes one chunk from the connection, so
 * a consumer that stops reading leaves the socket paused (backpressure); `cancel` gives the
 * body up. An abort errors the stream with the signal's reason, as in Node's fetch. `own`, when
 * given, moves each chunk into memory that holds only this body's bytes.
 */
function bodyStream(
  source: AsyncIterable<Uint8Array>,
  signal: AbortSignal | undefined,
  own?: (chunk: Uint8Array) => Uint8Array,
): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  let done = false;
  let onAbort: (() => void) | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const finish = () => {
    done = true;
    if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
  };
  // Made once per stream rather than on every pull.
  const onResult = (result: IteratorResult<Uint8Array>): void => {
    if (done) return;
    if (result.done === true) {
      finish();
      controller.close();
      return;
    }
    controller.enqueue(plainView(own === undefined ? result.value : own(result.value)));
  };
  const onError = (error: unknown): void => {
    if (done) return;
    finish();
    controller.error(
      signal?.aborted ? signal.reason : new TypeError('terminated', { cause: error }),
    );
  };
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      if (signal === undefined) return;
      onAbort = () => {
        if (done) return;
        finish();
        controller.error(signal.reason);
        void iterator.return?.();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    },
    pull() {
      return iterator.next().then(onResult, onError);
    },
    cancel() {
      if (done) return;
      finish();
      return iterator.return?.().then(() => undefined);
    },
  });
}
