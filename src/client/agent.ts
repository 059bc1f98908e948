import { isIP } from 'node:net';
import { systemClock } from '../clock.js';
import { abortReason, InvalidArgumentError, PoolClosedError } from '../errors.js';
import { MAX_TIMER_MS, type RequestDeadline, underDeadline } from '../http/deadline.js';
import { type HeaderPairs, toHeaderPairs } from '../http/header-pairs.js';
import type { HeadersInput } from '../http/options.js';
import type { HttpResponse } from '../http/response.js';
import { hasIdempotencyKey, isReplayableBody } from '../http/semantics.js';
import { standardMethod } from '../http1/serializer.js';
import { Semaphore } from '../pool/semaphore.js';
import { closeWithin } from './closing.js';
import {
  type CloseOptions,
  ConnectionPool,
  type PoolOptions,
  type RequestOptions,
} from './connection-pool.js';
import { DnsCache, type DnsOptions, type DnsStats, OriginAddresses } from './dns.js';
import { type FetchClient, type FetchInit, fetchThrough } from './fetch.js';
import {
  checkAgentOptions,
  checkAgentRequestOptions,
  checkOriginOptions,
  resolveProxy,
} from './options.js';
import { parseOrigin } from './origin.js';
import { type ProxyConfig, proxyForUrl } from './proxy.js';
import { BODY_SPENT, checkHop, isRedirectStatus, nextHop } from './redirect.js';
import { PoolRegistry } from './registry.js';
import { defaultHeaderPairs, requestContent, withQuery } from './request-options.js';
import {
  type RetryOptions,
  type RetryPolicy,
  resolveRetryPolicy,
  retryDelay,
} from './retry-policy.js';

/** Settings of an {@link Agent}: every {@link PoolOptions} field applies to each origin's pool. */
export interface AgentOptions extends Omit<PoolOptions, 'proxy'> {
  /**
   * A forward proxy for every origin (`http://user:pass@host:port`), or `'env'` to read
   * `http_proxy`, `https_proxy` and `no_proxy` (and `HTTPS_PROXY`, `NO_PROXY`) as curl does.
   * Pools are kept apart by proxy as well as origin. Default: no proxy.
   */
  proxy?: string | URL | ProxyConfig | 'env' | undefined;
  /** Connections open at once across all origins; waiters are served first come, first served. Default `Infinity`. */
  maxTotal?: number;
  /** Origins (pools) kept at once; the least recently used is closed beyond it. Default `Infinity`. */
  maxOrigins?: number;
  /** ms a pool with no connection and no work is kept before it is dropped. Default 60 000. */
  originIdleTimeout?: number;
  /** Retries of failed requests and retryable statuses; off by default. See {@link RetryOptions}. */
  retry?: RetryOptions | number | boolean;
  /** Redirects followed by `request()` when `redirect: 'follow'`. Default 20. */
  maxRedirections?: number;
  /**
   * Settings for one origin, merged over the agent's own, asked once when that origin's pool is
   * made (again if it is dropped and made anew): fewer connections to a small site, longer
   * timeouts for a slow one. Gets the canonical origin (`https://example.com:443` is
   * `https://example.com`). `undefined`, or a field left undefined, keeps the agent's setting;
   * `limits` and `tls` merge field by field; the proxy and clock are the agent's (setting them
   * here is refused). An unknown name, a bad value (a promise included), or a throw, fails the
   * request that needed the pool with it.
   */
  perOrigin?: ((origin: string) => OriginOptions | undefined) | undefined;
  /**
   * What a relative URL given to `request()` or `fetch()` is resolved against, by the URL
   * standard's rules: `/v1/items` replaces the whole path of `https://api.example.com/api/`,
   * `v1/items` is appended to it, and appended to `https://api.example.com/api` (no trailing
   * slash) it replaces `api`. An absolute URL is used as it is. Default: none (URLs must be
   * absolute).
   */
  baseUrl?: string | URL | undefined;
  /**
   * Header fields sent with every request, under the request's own (see
   * {@link PoolOptions.headers}). Merged before the first hop, so a redirect to another origin
   * drops a default Authorization or Cookie as it drops the request's own.
   */
  headers?: HeadersInput | undefined;
  /**
   * The DNS cache the agent's pools share (on by default): answers kept for their records'
   * TTL, one lookup per name at a time, new connections spread over a name's addresses and
   * raced by Happy Eyeballs, and connections to an address the name no longer resolves to
   * retired. See {@link DnsOptions}; `false` leaves lookups to `net.connect` (`dns.lookup`
   * on every connect). Not used for origins with a `lookup`, a `socketPath` or a proxy.
   */
  dns?: DnsOptions | false | undefined;
}

/** What {@link AgentOptions.perOrigin} may set for one origin: any pool option but the proxy, clock and default headers. */
export type OriginOptions = Omit<PoolOptions, 'proxy' | 'clock' | 'headers'>;

/** Options of {@link Agent.request}: one request, plus redirects and retries. */
export interface AgentRequestOptions extends Omit<RequestOptions, 'path'> {
  /** `'manual'` (default): redirects are returned as they are. `'follow'`: followed; `'error'`: a redirect is a RedirectError. */
  redirect?: 'follow' | 'manual' | 'error';
  /** Most redirects followed for this request; default the agent's `maxRedirections`. */
  maxRedirections?: number;
  /** Overrides the agent's `retry` for this request (`false` turns retries off). */
  retry?: RetryOptions | number | boolean;
}

/** Per-origin snapshot returned by {@link Agent.stats}. */
export type AgentStats = Record<string, ReturnType<ConnectionPool['stats']>>;

const DEFAULT_ORIGIN_IDLE = 60_000;
const DEFAULT_MAX_REDIRECTIONS = 20;

/**
 * A client for many origins: one {@link ConnectionPool} per origin, made on first use (as
 * urllib3's PoolManager and undici's Agent do), with an optional cap across all of them.
 *
 * @example
 * ```ts
 * await using agent = new Agent({ maxSize: 6, maxTotal: 64 });
 * const res = await agent.request('http://127.0.0.1:8080/a');
 * console.log(res.status, await res.text());
 * ```
 */
export class Agent implements AsyncDisposable {
  readonly #options: AgentOptions;
  readonly #poolOptions: PoolOptions;
  readonly #perOrigin: ((origin: string) => OriginOptions | undefined) | undefined;
  /** Each pool's `limits.maxResponseSize`, which fetch() applies to the decoded body too. */
  readonly #maxResponseSize = new WeakMap<ConnectionPool, number>();
  /** The agent-wide proxy, `'env'` to choose per origin, or undefined for none. */
  readonly #proxy: ProxyConfig | 'env' | undefined;
  /** The pools, by key (the origin, and the proxy when there is one). */
  readonly #pools: PoolRegistry<ConnectionPool>;
  /** The pool key of each origin string seen, so a repeat request skips parsing it. */
  readonly #keys = new Map<string, string>();
  readonly #budget: Semaphore | undefined;
  readonly #retry: RetryPolicy | undefined;
  #closed = false;
  /** `baseUrl`, parsed. */
  readonly #baseUrl: URL | undefined;
  /** The `headers` option as pairs (empty for none), merged in {@link request} and {@link fetch}. */
  readonly #defaultHeaders: HeaderPairs;
  /**
   * The agent as fetch() sees it (the narrow interface fetch.ts declares, so fetch.ts never
   * imports this module): one hop of {@link request}, defaults already merged.
   */
  readonly #fetchClient: FetchClient;
  /** The DNS cache; undefined when `dns: false` or the agent's `lookup`/`socketPath` replace it. */
  readonly #dns: DnsCache | undefined;

  /** @throws InvalidArgumentError for a bad option */
  constructor(options: AgentOptions = {}) {
    // Checked once, here, rather than on the first request (with the proxy, for the
    // combinations it rules out; its value is parsed below).
    checkAgentOptions(options);
    const {
      maxTotal,
      maxOrigins,
      originIdleTimeout,
      retry,
      maxRedirections,
      proxy,
      perOrigin,
      baseUrl,
      headers,
      dns,
      ...poolOptions
    } = options;
    this.#baseUrl = baseUrl === undefined ? undefined : toUrl(baseUrl, undefined, 'baseUrl');
    this.#defaultHeaders = defaultHeaderPairs(headers);
    this.#perOrigin = perOrigin;
    this.#options = options;
    this.#poolOptions = poolOptions;
    this.#proxy = proxy === 'env' ? proxy : resolveProxy(proxy);
    this.#retry = retry === undefined ? undefined : resolveRetryPolicy(retry);
    this.#dns =
      dns === false || poolOptions.lookup !== undefined || poolOptions.socketPath !== undefined
        ? undefined
        : new DnsCache(dns ?? {}, poolOptions.clock ?? systemClock);
    this.#pools = new PoolRegistry({
      maxOrigins: maxOrigins ?? Number.POSITIVE_INFINITY,
      originIdleTimeout: originIdleTimeout ?? DEFAULT_ORIGIN_IDLE,
      clock: poolOptions.clock ?? systemClock,
    });
    // Under the cap, a waiter for a permit gets one from the least recently used idle connection.
    this.#budget =
      maxTotal === undefined || maxTotal === Number.POSITIVE_INFINITY
        ? undefined
        : new Semaphore(maxTotal, () => this.#pools.reclaimIdle());
    this.#fetchClient = {
      // fetch() decodes by itself, keeping the headers as the Fetch standard says.
      request: (url, hop, deadline) =>
        this.#requestWithRetries(
          toUrl(url),
          { ...hop, decompress: false, path: url.pathname + url.search },
          deadline,
        ),
      headers: this.#defaultHeaders,
      baseUrl: this.#baseUrl,
      maxDecodedFor: this.#decodedLimit,
    };
  }

  /** True once {@link close} or {@link destroy} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The pool for `origin` (`scheme://host:port`), made on first use. Throws PoolClosedError
   * once the agent is closed.
   */
  pool(origin: string | URL): ConnectionPool {
    if (this.#closed) throw new PoolClosedError('the agent is closed');
    // Anything else (null included) skips the cache: parseOrigin refuses it, typed.
    const input =
      typeof origin === 'string' ? origin : origin instanceof URL ? origin.href : undefined;
    const known = input === undefined ? undefined : this.#keys.get(input);
    const cached = known === undefined ? undefined : this.#pools.use(known);
    if (cached !== undefined) return cached;
    const target = parseOrigin(origin);
    const proxy = this.#proxy === 'env' ? proxyForUrl(target) : this.#proxy;
    // Connections never cross proxies: a pool's identity is its origin and its proxy (its other
    // settings, perOrigin's included, are fixed for the origin when the pool is made).
    const key = proxy === undefined ? target.origin : `${target.origin} via ${proxy.key}`;
    // Bounded: a crawler may see millions of origin spellings.
    if (this.#keys.size >= 4096) this.#keys.clear();
    if (input !== undefined) this.#keys.set(input, key);
    let pool = this.#pools.use(key);
    if (pool !== undefined) return pool;
    const options = this.#optionsFor(target.origin, proxy);
    // perOrigin may have closed the agent: no pool may appear after close().
    if (this.#closed) throw new PoolClosedError('the agent is closed');
    // A host name reached directly gets its addresses from the cache (and its pool is watched).
    const addresses =
      this.#dns !== undefined &&
      proxy === undefined &&
      options.lookup === undefined &&
      options.socketPath === undefined &&
      isIP(target.hostname) === 0
        ? new OriginAddresses(this.#dns, target.hostname)
        : undefined;
    pool = new ConnectionPool(target.origin, options, { budget: this.#budget, addresses });
    if (addresses !== undefined) addresses.pool = pool;
    this.#maxResponseSize.set(pool, options.limits?.maxResponseSize ?? Number.POSITIVE_INFINITY);
    this.#pools.add(key, pool);
    return pool;
  }

  /**
   * The agent's pool options with `perOrigin`'s for this origin over them (a value left
   * undefined keeps the agent's; `limits` and `tls` are merged field by field, into copies the
   * caller cannot change later), and the proxy. Proxy and clock stay the agent's.
   */
  #optionsFor(origin: string, proxy: ProxyConfig | undefined): PoolOptions {
    const own = this.#perOrigin?.(origin);
    checkOriginOptions(own);
    if (own === undefined && proxy === undefined) return this.#poolOptions;
    const options: Record<string, unknown> = { ...this.#poolOptions };
    for (const [name, value] of Object.entries(own ?? {})) {
      if (value === undefined) continue;
      const base = options[name];
      options[name] =
        (name === 'limits' || name === 'tls') && typeof value === 'object' && value !== null
          ? { ...(base as object | undefined), ...(value as object) }
          : value;
    }
    if (proxy !== undefined) options['proxy'] = proxy;
    return options as PoolOptions;
  }

  /**
   * Sends a request to an absolute `http:` or `https:` URL through the pool of its origin.
   * Redirects are followed only with `redirect: 'follow'`; retries happen only when the
   * agent or the request sets `retry`. `timeout` bounds every hop and retry together, the
   * waits between retries included, until the final response's body has arrived.
   */
  request(url: string | URL, options: AgentRequestOptions = {}): Promise<HttpResponse> {
    return underDeadline(options.timeout, options.signal, (deadline) =>
      this.requestWithin(url, options, deadline),
    );
  }

  /**
   * @internal {@link request} under a deadline its caller made and ends (fetch()'s), whose
   * signal then stands for `options.signal`.
   */
  requestWithin(
    url: string | URL,
    options: AgentRequestOptions,
    deadline: RequestDeadline | undefined,
  ): Promise<HttpResponse> {
    let current: URL;
    let own = options;
    try {
      checkAgentRequestOptions(options);
      current = toUrl(url, this.#baseUrl);
      if (
        options.query !== undefined ||
        options.json !== undefined ||
        this.#defaultHeaders.length > 0
      ) {
        // Applied once, before the first hop: redirects and retries see plain headers and body.
        const { query } = options;
        if (query !== undefined) {
          const withParams = new URL(current.href);
          withParams.search = withQuery(current.search, query);
          current = withParams;
        }
        const { headers, body } = requestContent(options, this.#defaultHeaders, undefined);
        own = { ...options, headers, body, query: undefined, json: undefined };
      }
      const mode = own.redirect;
      if (mode === undefined || mode === 'manual') {
        // The common case, no redirect to follow: one hop, without an async frame of its own.
        return this.#requestWithRetries(
          current,
          {
            ...own,
            method: standardMethod(own.method),
            headers: own.headers,
            body: own.body,
            path: current.pathname + current.search,
          },
          deadline,
        );
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#requestFollowing(current, own, deadline);
  }

  /** {@link request} when redirects may be followed. */
  async #requestFollowing(
    url: URL,
    options: AgentRequestOptions,
    deadline: RequestDeadline | undefined,
  ): Promise<HttpResponse> {
    let current = url;
    const mode = options.redirect ?? 'manual';
    const maxRedirections =
      options.maxRedirections ?? this.#options.maxRedirections ?? DEFAULT_MAX_REDIRECTIONS;
    let method = standardMethod(options.method);
    let headers: HeaderPairs | RequestOptions['headers'] = options.headers;
    let body = options.body;
    // The URLs redirects led to, made on the first one followed.
    let followed: string[] | undefined;
    for (let redirects = 0; ; redirects++) {
      // One options object per hop: the caller's, with this hop's method, headers, body and path.
      const response = await this.#requestWithRetries(
        current,
        {
          ...options,
          method,
          headers,
          body,
          path: current.pathname + current.search,
        },
        deadline,
      );
      if (mode === 'manual' || !isRedirectStatus(response.status)) {
        return withRedirects(response, followed);
      }
      const pairs = Array.isArray(headers) ? headers : toHeaderPairs(headers);
      const hop = nextHop(
        response.status,
        response.headers.get('location'),
        current,
        method,
        pairs,
      );
      if (hop === undefined) return withRedirects(response, followed);
      const refused = checkHop(
        hop,
        response.status,
        mode,
        redirects,
        maxRedirections,
        body !== undefined && body !== null && !isReplayableBody(body),
      );
      // A streamed body is spent: the redirect is the answer.
      if (refused === BODY_SPENT) return withRedirects(response, followed);
      if (refused !== undefined) {
        await response.dump();
        throw refused;
      }
      await response.dump();
      current = hop.url;
      followed ??= [];
      followed.push(current.href);
      method = hop.method;
      headers = hop.headers;
      if (!hop.keepBody) body = null;
    }
  }

  /**
   * The WHATWG `fetch()` over this agent's pools: resolves with a real `Response` whose
   * body streams from the connection with backpressure. Redirects are followed by default
   * (at most 20), as the Fetch standard says. `init.timeout` (an httpool extension) bounds
   * the whole fetch, redirects and body included, as `timeout` does for {@link request}.
   */
  fetch(input: string | URL | Request, init?: FetchInit): Promise<Response> {
    return fetchThrough(this.#fetchClient, input, init);
  }

  /**
   * The body limit of the pool that carried a fetch's last hop: it bounds the decoded body too.
   * The limit is that pool's own (`perOrigin` may set it), so it is read through {@link pool}
   * as the hop was: should the pool have been dropped since (`maxOrigins`, once its connection
   * went back), it is made again to learn it, as it always was.
   */
  readonly #decodedLimit = (url: URL): number => {
    const pool = this.#closed ? undefined : this.pool(url.origin);
    return pool === undefined
      ? Number.POSITIVE_INFINITY
      : (this.#maxResponseSize.get(pool) ?? Number.POSITIVE_INFINITY);
  };

  /**
   * `options` is sent as it is (it already carries the hop's `path`), on every attempt.
   * Never throws: a failure is a rejection.
   */
  #requestWithRetries(
    url: URL,
    options: RequestOptions & Pick<AgentRequestOptions, 'retry'>,
    deadline: RequestDeadline | undefined,
  ): Promise<HttpResponse> {
    try {
      const policy = options.retry === undefined ? this.#retry : resolveRetryPolicy(options.retry);
      const retryable =
        policy !== undefined &&
        (policy.methods.has((options.method ?? 'GET').toUpperCase()) ||
          hasIdempotencyKey(options.headers)) &&
        isReplayableBody(options.body);
      // Nothing to retry: the pool's own promise, without an async frame in between.
      if (!retryable) {
        // Options checked and the deadline (if any) started by the agent: straight to the pool.
        return this.pool(url.origin).requestWithin(options, deadline);
      }
      return this.#retrying(url.origin, options, policy, deadline);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #retrying(
    origin: string,
    options: RequestOptions,
    policy: RetryPolicy,
    deadline: RequestDeadline | undefined,
  ): Promise<HttpResponse> {
    const signal = deadline === undefined ? options.signal : deadline.signal;
    for (let attempt = 0; ; attempt++) {
      const canRetry = attempt < policy.limit;
      let response: HttpResponse;
      try {
        // Looked up on every attempt: the pool may have been dropped while a retry slept.
        response = await this.pool(origin).requestWithin(options, deadline);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (!canRetry || typeof code !== 'string' || !policy.errorCodes.has(code)) throw error;
        // Out of time (or aborted): nothing more may be sent.
        if (signal?.aborted) throw error;
        await this.#wait(retryDelay(policy, attempt + 1, null), signal, deadline);
        continue;
      }
      if (!canRetry || !policy.statusCodes.has(response.status)) return response;
      const delay = retryDelay(policy, attempt + 1, response.headers.get('retry-after'));
      // Read the unwanted answer to the end so its connection can serve the retry.
      await response.dump();
      await this.#wait(delay, signal, deadline);
    }
  }

  /**
   * The pause before a retry, on the agent's clock (a test's fake clock moves it), with a
   * handle that keeps the process alive meanwhile, since a clock's timers need not (the
   * system clock's are unref'd): the request must settle.
   */
  #wait(
    ms: number,
    signal: AbortSignal | undefined,
    deadline: RequestDeadline | undefined,
  ): Promise<void> {
    if (deadline !== undefined) deadline.phase = 'retry-wait';
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const clock = this.#poolOptions.clock ?? systemClock;
    return new Promise<void>((resolve, reject) => {
      const alive = setInterval(() => {}, MAX_TIMER_MS);
      const onAbort = (): void => {
        timer.cancel();
        done();
        reject(abortReason(signal!));
      };
      const done = (): void => {
        clearInterval(alive);
        signal?.removeEventListener('abort', onAbort);
      };
      const timer = clock.schedule(() => {
        done();
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Per-origin snapshots of every pool the agent holds (`origin via proxy` for proxied ones). */
  stats(): AgentStats {
    const out: AgentStats = {};
    for (const [key, pool] of this.#pools.entries()) out[key] = pool.stats();
    return out;
  }

  /** The DNS cache's counters; undefined without one (`dns: false`, or a `lookup` or `socketPath`). */
  dnsStats(): DnsStats | undefined {
    return this.#dns?.stats();
  }

  /**
   * Connections open (or being opened) across all origins. Under `maxTotal` this counts the
   * permits held; a pool's own `connecting` also counts connections still waiting for one.
   */
  get openConnections(): number {
    if (this.#budget !== undefined) return this.#budget.held;
    let open = 0;
    for (const pool of this.#pools.values()) open += pool.stats().open;
    return open;
  }

  /**
   * Closes every pool gracefully (see {@link ConnectionPool.close}); later requests fail with
   * PoolClosedError. With `timeout`, connections still busy after that many ms are destroyed.
   *
   * @throws InvalidArgumentError (as a rejection) for a negative or non-number `timeout`
   */
  async close(options?: CloseOptions): Promise<void> {
    return closeWithin(
      options?.timeout,
      () => {
        this.#closed = true;
        return this.#pools.closeAll();
      },
      (reason) => this.destroy(reason),
    );
  }

  /**
   * Closes every pool now, failing requests in progress; pools still closing from an earlier
   * {@link close} are destroyed too.
   */
  async destroy(reason?: Error): Promise<void> {
    this.#closed = true;
    await this.#pools.destroyAll(reason);
  }

  /** `await using agent = new Agent()` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** `response`, told the URLs redirects led to on its way (none: left as it is). */
function withRedirects(response: HttpResponse, followed: string[] | undefined): HttpResponse {
  if (followed !== undefined) response.setRedirectUrls(followed);
  return response;
}

/**
 * `input` as an http(s) URL: a URL as it is, a string parsed (against `base` when given).
 *
 * @throws InvalidArgumentError for anything else, or a URL with credentials
 */
function toUrl(input: string | URL, base?: URL, what = 'url'): URL {
  let url: URL;
  try {
    // A URL is read, never changed, so it need not be copied.
    url = typeof input === 'string' ? new URL(input, base) : input;
    if (!(url instanceof URL)) throw new TypeError('not a URL');
  } catch {
    throw new InvalidArgumentError(
      base === undefined
        ? `${what} must be an absolute http: or https: URL${what === 'url' ? ' (or set baseUrl)' : ''}`
        : `${what} must be a URL or a path relative to baseUrl`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`unsupported protocol ${url.protocol} (http: or https: only)`);
  }
  if (url.username !== '' || url.password !== '') {
    // Credentials in a URL would otherwise be silently dropped: say so instead.
    throw new InvalidArgumentError(
      'credentials in the URL are not supported; send an Authorization header',
    );
  }
  return url;
}
