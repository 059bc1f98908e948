/**
 * The pool for one origin: the policy (what to reuse, when to retire, what to replay) and the
 * wiring between the generic pool below, the HTTP/1 connections and the jobs kept apart:
 * leases and the leak detector (lease.ts), diagnostics (diagnostics.ts), option checks
 * (options.ts) and closing with a deadline (closing.ts).
 */
import type { LookupFunction } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { type Clock, systemClock } from '../clock.js';
import {
  ConnectTimeoutError,
  InvalidArgumentError,
  InvalidStateError,
  locateError,
  SocketError,
} from '../errors.js';
import { MAX_TIMER_MS, type RequestDeadline, underDeadline } from '../http/deadline.js';
import { type HeaderPairs, headerEntries } from '../http/header-pairs.js';
import type { ExchangeOptions, HeadersInput } from '../http/options.js';
import type { HttpResponse } from '../http/response.js';
import { isReplayableBody } from '../http/semantics.js';
import type { ExchangeReport, Transport, TransportEvents } from '../http/transport.js';
import { Http1Connection } from '../http1/connection.js';
import { type ParserLimits, resolveParserLimits } from '../http1/limits.js';
import { standardMethod } from '../http1/serializer.js';
import {
  Http2Connection,
  type Http2ConnectionOptions,
  MIN_NGHTTP2,
  nghttp2Supported,
} from '../http2/connection.js';
import type { AddressSource } from '../net/eyeballs.js';
import { type CloseReason, ResourcePool } from '../pool/resource-pool.js';
import type { Semaphore } from '../pool/semaphore.js';
import { closeWithin } from './closing.js';
import { type ConnectHook, openSocket } from './connector.js';
import { acceptEncoding, decodeResponse } from './decode.js';
import {
  channels,
  connectionClosed,
  debug,
  type ExchangeTrace,
  idleCloseLearned,
  requestEnded,
  requestStarted,
  tracingRequests,
} from './diagnostics.js';
import { DurationRecorder, type DurationSummary } from './histogram.js';
import { type Leased, LeaseState, Leases } from './lease.js';
import {
  checkAcquireOptions,
  checkPoolOptions,
  checkRequestOptions,
  resolveProxy,
} from './options.js';
import { type Origin, parseOrigin } from './origin.js';
import { PooledConnection } from './pooled-connection.js';
import { absoluteTarget, type ProxyConfig } from './proxy.js';
import { canReplay } from './replay.js';
import {
  type ConnectionRequestOptions,
  defaultHeaderPairs,
  type RequestConveniences,
  requestContent,
  withQuery,
} from './request-options.js';

/** Settings of a {@link ConnectionPool}. Every time is in milliseconds. */
export interface PoolOptions {
  /** Connections open at once (idle + leased + connecting). Default `Infinity`. */
  maxSize?: number;
  /** How long an idle connection is kept. Default 4000; `Infinity` keeps it until the server closes it. */
  idleTimeout?: number;
  /** Acquires allowed to wait at once; more are refused with QueueFullError. Default `Infinity`. */
  maxWaiting?: number;
  /** Time to open a connection (TCP and TLS). Default 10 000. */
  connectTimeout?: number;
  /** Time from the end of the request to the end of the response head. Default 300 000. */
  headersTimeout?: number;
  /** Longest gap between response body chunks. Default 300 000. */
  bodyTimeout?: number;
  /** Retire a connection after this age (with up to 2.5 % jitter). Default `Infinity`. */
  maxLifetime?: number;
  /** Retire a connection after this many requests. Default `Infinity`. */
  maxRequestsPerConnection?: number;
  /** Margin taken off a server's `Keep-Alive: timeout` hint before the connection is retired. Default 1000. */
  keepAliveTimeoutThreshold?: number;
  /** Body bytes read to throw an unread response away before closing instead. Default 256 KiB. */
  maxDrainBytes?: number;
  /**
   * Most ms spent throwing an unread response away (`dump()`, or a lease released with its
   * body unread), however steadily its bytes come; then the connection is closed and its slot
   * freed. Default 1000.
   */
  maxDrainTime?: number;
  /** Response parser limits (header size, header count, ...). */
  limits?: Partial<ParserLimits>;
  /** TLS settings for `https:` origins: ca, cert, key, servername, rejectUnauthorized, ... */
  tls?: ConnectionOptions;
  /**
   * Warn (`process.emitWarning`, code `HTTPOOL_LEAK`) when a connection stays leased longer
   * than this many ms, with the stack of the call that acquired it. Off by default: taking
   * the stack costs a few microseconds per acquire.
   */
  leakDetectionTimeout?: number;
  /**
   * Time source for the pool's timers and its connections' (idle expiry, the leak detector,
   * connecting, the headers, body, drain and 100-continue waits); tests pass a fake one.
   */
  clock?: Clock;
  /**
   * A forward proxy for every connection of this pool: a URL (`http://user:pass@proxy:3128`)
   * or a parsed {@link ProxyConfig}. `https:` origins are reached through a CONNECT tunnel
   * (RFC 9110 §9.3.6); `http:` origins get their requests in absolute form (RFC 9112 §3.2.2)
   * with Proxy-Authorization. An Agent picks one per origin (`proxyForUrl` reads the
   * environment) and keys its pools by `ProxyConfig.key` as well as the origin.
   */
  proxy?: string | URL | ProxyConfig | undefined;
  /**
   * Connect over this Unix domain socket (a leading `\0` names a Linux abstract socket) or
   * Windows named pipe instead of TCP, as to a local daemon's API. The origin still names the
   * server: it gives the Host header and, for `https:`, the TLS server name. Not with `proxy`.
   * On an Agent it applies to every origin, redirect targets included.
   */
  socketPath?: string | undefined;
  /**
   * Resolves host names instead of `dns.lookup` (same signature as `net.connect`'s `lookup`):
   * a DNS cache for a crawler, or a pinned address. Used for the proxy's name too.
   */
  lookup?: LookupFunction | undefined;
  /** The local IP address to connect from (a machine with several). */
  localAddress?: string | undefined;
  /**
   * Opens each connection's socket instead of the pool: called with the origin (and a signal
   * aborted when the attempt is given up), it gives a socket ready for bytes, or a promise of
   * one, within `connectTimeout`; the pool then speaks HTTP/1.1 over it as over any other
   * (`tls`, `proxy`, `socketPath`, `lookup` and `localAddress` are the hook's business then).
   * `undefined` from it lets the pool dial as usual. A throw or rejection fails the connect
   * with a SocketError (an httpool error is passed on as it is). For in-memory sockets in
   * tests (`MockAgent` from `httpool/testing` uses it), or a transport of one's own.
   */
  connect?: ConnectHook | undefined;
  /**
   * Header fields sent with every request (a shared `user-agent`, an API key), under the
   * request's own: a field the request gives (any case) replaces the default, and one it gives
   * as `undefined` or `null` removes it. Checked when the pool is made.
   */
  headers?: HeadersInput | undefined;
  /** Decode compressed responses by default; see {@link RequestConveniences.decompress}. Default false. */
  decompress?: boolean | undefined;
  /**
   * Whether to speak HTTP/2 (RFC 9113), one multiplexed connection carrying many requests:
   * - `'off'` (default): HTTP/1.1 only;
   * - `'auto'`: `https:` offers `h2` and `http/1.1` by ALPN and speaks what the server picks;
   *   `http:` stays HTTP/1.1;
   * - `'only'`: `https:` must agree to `h2`, else the connect fails (SocketError); `http:`
   *   speaks h2c with prior knowledge;
   * - `'prior-knowledge'`: HTTP/2 without asking (h2c on `http:` and `socketPath`; on
   *   `https:` as `'only'`).
   *
   * While the protocol is not yet known, one connection is opened and the other requests wait
   * for it. Through a forward proxy, `http:` stays HTTP/1.1; `https:` speaks h2 inside the tunnel.
   */
  http2?: Http2Mode | undefined;
  /**
   * Most requests one HTTP/2 connection carries at once; the server's
   * SETTINGS_MAX_CONCURRENT_STREAMS lowers it. Default 100.
   */
  maxConcurrentStreams?: number | undefined;
  /**
   * When an HTTP/2 request times out, a PING checks the connection: unanswered after this many
   * ms, the connection is closed, failing the requests on it. Default 15 000.
   */
  pingTimeout?: number | undefined;
}

/** See {@link PoolOptions.http2}. */
export type Http2Mode = 'off' | 'auto' | 'only' | 'prior-knowledge';

/** Options of {@link ConnectionPool.acquire}. */
export interface AcquireOptions {
  /** Wait for a connection when none is free (default true); false rejects with EmptyPoolError. */
  blocking?: boolean;
  /** Most ms to wait; AcquireTimeoutError after it. Default: no bound. */
  timeout?: number;
  /** Aborts the wait with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of {@link ConnectionPool.request}: one request plus how long to wait for a connection. */
export interface RequestOptions extends ConnectionRequestOptions {
  /** Most ms to wait for a free connection. Default: no bound. */
  acquireTimeout?: number | undefined;
}

/** A snapshot of a pool. */
export interface PoolStats {
  /** Connections open now: idle + leased + connecting. */
  open: number;
  /** Connections waiting in the pool for work. */
  idle: number;
  /** Connections lent out. */
  leased: number;
  /** Connections being opened. */
  connecting: number;
  /** Callers waiting for a connection. */
  waiting: number;
  /** Connections opened, ever. */
  created: number;
  /** Connections closed, ever. */
  closed: number;
  /** Requests sent, ever (a replay counts again). */
  requests: number;
  /** Requests replayed on a fresh connection after a stale kept-alive one failed, ever. */
  replayed: number;
  /** Connection attempts that failed, ever. */
  connectFailed: number;
  /** Acquires that timed out, ever. */
  acquireTimeouts: number;
  /** Requests sent on a connection that had carried one before, ever (`requests - reused` went on new ones). */
  reused: number;
  /** Leaks reported, ever: leases held too long or collected unreleased, response bodies collected unread. */
  leaks: number;
  /**
   * ms this pool keeps idle connections at most since the server closed one that sat idle
   * (a quarter less than it had been idle); undefined until that happens, and again after a
   * `Keep-Alive: timeout` hint, which is followed instead.
   */
  learnedIdleTimeout: number | undefined;
  /** Requests in progress on HTTP/2 connections now (each holds one stream). */
  streams: number;
  /** ms callers waited for a connection (acquire to lend). */
  waitTime: DurationSummary;
  /** ms connections stayed leased (lend to return). */
  leaseTime: DurationSummary;
  /** ms to open a connection (TCP, and TLS for https). */
  connectTime: DurationSummary;
}

/** @internal What an Agent shares with the pools it makes. */
export interface PoolInternals {
  /** Permits for connections across pools (the Agent's `maxTotal`); one per open connection. */
  budget?: Semaphore | undefined;
  /** Where direct connections get their addresses (the Agent's DNS cache). */
  addresses?: AddressSource | undefined;
}

/**
 * One lease on a connection and its exchange in progress. An HTTP/1.1 connection carries one
 * at a time, so its {@link Slot} is its own hold (a lease costs no allocation); an HTTP/2
 * connection is held by one {@link StreamHold} per stream slot lent out.
 */
interface Hold extends Leased {
  /** The connection held. */
  readonly slot: Slot;
  /** The exchange in progress, for diagnostics (only while someone listens). */
  exchange: ExchangeTrace | undefined;
  /** The lease ended while an exchange was running: put the connection back when it ends. */
  returnWhenDone: boolean;
  /** An exchange of this hold began and its report has not come yet. */
  running: boolean;
}

/** A lease on one stream of a shared (HTTP/2) connection. */
class StreamHold implements Hold {
  readonly lease = new LeaseState();
  exchange: ExchangeTrace | undefined = undefined;
  returnWhenDone = false;
  running = false;
  constructor(readonly slot: Slot) {}
}

/**
 * A pooled connection and what the pool knows about it: the connection's own life, and for
 * HTTP/1.1 the lease it is in (see lease.ts) and the exchange in progress.
 */
class Slot implements Hold {
  connection!: Transport;
  /** An HTTP/1.1 connection is its own hold. */
  get slot(): Slot {
    return this;
  }
  /** True for a shared (HTTP/2) connection: its leases are {@link StreamHold}s. */
  shared = false;
  running = false;
  /** Requests sent on this connection. */
  requests = 0;
  /** Exchanges that ended without an error: the server answered them in full. */
  answered = 0;
  /** Clock time after which the connection is not lent again (max lifetime with jitter). */
  retireAt: number;
  /** Clock time the connection was last put back to wait idle (NaN before). */
  idleSince = Number.NaN;
  /** The pool is closing it: a close the server did not start. */
  closing = false;
  /** The idle time the server last promised on this connection (from its exchange reports). */
  keepAliveHint: number | undefined = undefined;
  /** The address the socket went to; undefined over a `socketPath`. */
  remoteAddress: string | undefined = undefined;
  /** Why the pool retires it after its current exchange (`dns-changed`); undefined to keep it. */
  retiredFor: string | undefined = undefined;

  /** The lease it is in: one object for all its leases. */
  readonly lease = new LeaseState();

  /** The exchange in progress, for diagnostics (only while someone listens). */
  exchange: ExchangeTrace | undefined;
  /** The lease ended while an exchange was running: put the connection back when it ends. */
  returnWhenDone = false;

  constructor(retireAt: number) {
    this.retireAt = retireAt;
  }
}

const DEFAULT_IDLE_TIMEOUT = 4000;
/** Replays of one request after stale-connection failures (each on a reused connection). */
const MAX_REPLAYS = 2;
/**
 * Replays (sends after the first) of one request the server said it did not process (HTTP/2), while each connection
 * that refused it had answered others: a server that retires connections after N requests
 * (nginx's keepalive_requests) sends a GOAWAY per N, and a burst larger than N meets several.
 */
const MAX_UNPROCESSED_REPLAYS = 16;
const DEFAULT_CONNECT_TIMEOUT = 10_000;
/** Streams one HTTP/2 connection carries at most, unless `maxConcurrentStreams` says otherwise. */
const DEFAULT_MAX_STREAMS = 100;
const DEFAULT_KEEP_ALIVE_THRESHOLD = 1000;
/** After the server closed a connection idle for T ms, idle connections are kept for T × this. */
const IDLE_CLOSE_MARGIN = 0.75;
/**
 * A close this soon after a connection went idle is not an idle timeout (a server closing
 * right after its answer, stray bytes): learning from it would end reuse for the origin.
 */
const MIN_LEARNED_IDLE_MS = 50;

/**
 * The classic connection pool for one origin (`scheme://host:port`): it opens up to `maxSize`
 * HTTP/1.1 connections, lends them out one request at a time, and keeps them alive between
 * requests so the handshake is paid once.
 *
 * @example
 * ```ts
 * const pool = new ConnectionPool('http://127.0.0.1:8080', { maxSize: 8 });
 * const res = await pool.request({ path: '/users/1' });
 * console.log(res.status, await res.json());
 * await pool.close();
 * ```
 */
export class ConnectionPool implements AsyncDisposable {
  /** The origin this pool serves, canonical form (e.g. `http://127.0.0.1:8080`). */
  readonly origin: string;
  readonly #target: Origin;
  readonly #options: PoolOptions;
  readonly #pool: ResourcePool<Slot>;
  readonly #clock: Clock | undefined;
  readonly #budget: Semaphore | undefined;
  readonly #proxy: ProxyConfig | undefined;
  /** True for an `http:` origin behind a proxy: requests are sent in absolute form. */
  readonly #forwarded: boolean;
  #tlsSession: Buffer | undefined;
  /** ms idle connections are kept at most, learned from the server closing idle ones; none yet. */
  #learnedIdleTimeout: number | undefined;
  /** The `headers` option as pairs (empty for none). */
  readonly #defaultHeaders: HeaderPairs;
  /** Requests need {@link #prepare}: there are default headers or decoding is on by default. */
  readonly #prepares: boolean;
  /** `limits.maxResponseSize`, which bounds a decoded body too. */
  readonly #maxDecoded: number;
  #requests = 0;
  /** Connections being opened (past the Agent's budget): a deadline in `acquire` is then in `connect`. */
  #opening = 0;
  readonly #isOpening = (): boolean => this.#opening > 0;
  #replayed = 0;
  /** Acquires waiting now, and the handle that keeps the process alive for them (HTTP/2). */
  #waiting = 0;
  #waitHandle: ReturnType<typeof setInterval> | undefined;
  #reused = 0;
  readonly #connectTime = new DurationRecorder();
  /** Lease timing and the leak detector. */
  readonly #leases: Leases<Hold>;
  /** Which protocols connections may speak; see PoolOptions.http2. */
  readonly #http2: 'never' | 'alpn' | 'always';
  /** Exchanges in progress on HTTP/2 connections. */
  #streams = 0;
  /** Where direct connections get their addresses; undefined to let `net.connect` look up. */
  readonly #addresses: AddressSource | undefined;
  /** Open connections that know their address, for {@link retireAddresses}; only with #addresses. */
  readonly #addressed = new Set<Slot>();

  /**
   * @param origin `http://host[:port]` or `https://host[:port]`
   * @param options limits and timeouts; see {@link PoolOptions}
   * @throws InvalidArgumentError for a bad origin or option
   */
  constructor(origin: string | URL, options?: PoolOptions);
  /** @internal An Agent's pools also share its connection budget. */
  constructor(origin: string | URL, options: PoolOptions | undefined, internals: PoolInternals);
  constructor(origin: string | URL, options: PoolOptions = {}, internals: PoolInternals = {}) {
    this.#target = parseOrigin(origin);
    this.origin = this.#target.origin;
    checkPoolOptions(options);
    this.#options = options;
    this.#defaultHeaders = defaultHeaderPairs(options.headers);
    this.#prepares = this.#defaultHeaders.length > 0 || options.decompress === true;
    this.#maxDecoded = options.limits?.maxResponseSize ?? Number.POSITIVE_INFINITY;
    this.#clock = options.clock;
    this.#budget = internals.budget;
    this.#addresses = internals.addresses;
    this.#leases = new Leases<Hold>({
      origin: this.origin,
      leakDetectionTimeout: options.leakDetectionTimeout,
      clock: options.clock ?? systemClock,
      onAbandoned: (slot) => this.#onAbandoned(slot),
    });
    this.#proxy = resolveProxy(options.proxy);
    // Through a tunnel (https:) the proxy leaves the conversation after CONNECT, so its
    // credentials go on the CONNECT only; a plain http: request is addressed to the proxy.
    this.#forwarded = this.#proxy !== undefined && this.#target.protocol === 'http:';
    this.#http2 = http2Route(options.http2 ?? 'off', this.#target.protocol, this.#forwarded);
    if (this.#http2 !== 'never' && !nghttp2Supported()) {
      throw new InvalidStateError(
        `http2 needs nghttp2 ${MIN_NGHTTP2} or later (bounded against CONTINUATION floods); ` +
          `this Node has ${process.versions['nghttp2'] ?? 'none'}`,
      );
    }
    const poolOptions: ConstructorParameters<typeof ResourcePool<Slot>>[0] = {
      create: (signal) => this.#connect(signal),
      destroy: (slot, reason) => this.#close(slot, reason),
      isHealthy: (slot) => slot.connection.isHealthy(),
      keepIdle: (slot) => this.#keepIdle(slot),
      idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
    };
    if (options.maxSize !== undefined) poolOptions.maxSize = options.maxSize;
    if (options.maxWaiting !== undefined) poolOptions.maxWaiting = options.maxWaiting;
    if (options.clock !== undefined) poolOptions.clock = options.clock;
    if (this.#http2 !== 'never') {
      // A connection carries as many requests as its protocol lets it; while the protocol is
      // unknown, one connect serves the first burst (no socket per request during ALPN).
      poolOptions.capacity = (slot) => slot.connection.capacity;
      poolOptions.expectedCapacity = options.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS;
    }
    this.#pool = new ResourcePool<Slot>(poolOptions);
  }

  #now(): number {
    return this.#clock?.now() ?? performance.now();
  }

  async #connect(signal: AbortSignal): Promise<Slot> {
    // Every open connection holds one permit of the shared budget, released when it closes.
    await this.#budget?.acquire(signal);
    const started = performance.now();
    let opened: Awaited<ReturnType<typeof openSocket>>;
    this.#opening++;
    try {
      opened = await openSocket(this.#target, {
        connectTimeout: this.#options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
        signal,
        clock: this.#clock,
        tls: this.#options.tls,
        session: this.#tlsSession,
        onSession: (session) => {
          this.#tlsSession = session;
        },
        proxy: this.#proxy,
        socketPath: this.#options.socketPath,
        lookup: this.#options.lookup,
        localAddress: this.#options.localAddress,
        addresses: this.#addresses,
        connect: this.#options.connect,
        ...this.#protocolOffer(),
      });
    } catch (error) {
      this.#opening--;
      this.#budget?.release();
      debug('connect to %s failed: %s', this.origin, (error as Error).message);
      throw error;
    }
    this.#opening--;
    const connectMs = performance.now() - started;
    this.#connectTime.record(connectMs);
    const maxLifetime = this.#options.maxLifetime ?? Number.POSITIVE_INFINITY;
    // Jitter keeps connections opened together from all retiring in the same instant.
    const slot = new Slot(this.#now() + maxLifetime * (1 - Math.random() * 0.025));
    const speaksH2 =
      opened.alpnProtocol === 'h2' ||
      (this.#http2 === 'always' && this.#target.protocol === 'http:');
    if (speaksH2) {
      slot.shared = true;
      try {
        const connectTimeout = this.#options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
        slot.connection = await Http2Connection.open(
          opened.socket,
          this.#http2Options(),
          this.#events(slot),
          connectTimeout - connectMs,
          () => new ConnectTimeoutError(connectTimeout),
        );
      } catch (error) {
        opened.socket.destroy();
        this.#budget?.release();
        throw error;
      }
    } else if (this.#http2 === 'always') {
      opened.socket.destroy();
      this.#budget?.release();
      throw new SocketError(
        `${this.origin} did not agree to HTTP/2 (ALPN: ${opened.alpnProtocol ?? 'none'}) and http2 is '${this.#options.http2}'`,
      );
    } else slot.connection = this.#transport(opened, slot);
    if (slot.connection.closing) {
      // The server spoke before being asked (the connection refuses that): a failed connect.
      this.#budget?.release();
      throw new SocketError(`the connection to ${this.origin} closed as soon as it opened`);
    }
    const localPort = slot.connection.localPort;
    const remoteAddress = opened.socket.remoteAddress;
    slot.remoteAddress = remoteAddress;
    if (this.#addresses !== undefined) this.#addressed.add(slot);
    debug('%s: connection %s opened in %s ms', this.origin, localPort, connectMs.toFixed(1));
    if (channels.connectionOpen.hasSubscribers) {
      const protocol = slot.connection.protocol;
      channels.connectionOpen.publish({
        origin: this.origin,
        localPort,
        remoteAddress,
        connectMs,
        protocol,
      });
    }
    return slot;
  }

  /** What the connector offers by ALPN, and whether the socket may use shared reads (not if HTTP/2 may take it). */
  #protocolOffer(): { ALPNProtocols?: readonly string[]; sharedReads?: boolean } {
    if (this.#http2 === 'never') return {};
    if (this.#target.protocol === 'http:') return { sharedReads: false };
    return {
      ALPNProtocols: this.#http2 === 'alpn' ? ['h2', 'http/1.1'] : ['h2'],
      sharedReads: false,
    };
  }

  #http2Options(): Http2ConnectionOptions {
    const limits = resolveParserLimits(this.#options.limits);
    return {
      origin: this.origin,
      authority: this.#target.host,
      maxConcurrentStreams: this.#options.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS,
      maxHeaderSize: limits.maxHeaderSize,
      maxHeaderCount: limits.maxHeaderCount,
      maxResponseSize: limits.maxResponseSize,
      headersTimeout: this.#options.headersTimeout,
      bodyTimeout: this.#options.bodyTimeout,
      maxDrainBytes: this.#options.maxDrainBytes,
      maxDrainTime: this.#options.maxDrainTime,
      pingTimeout: this.#options.pingTimeout,
      clock: this.#clock,
    };
  }

  /**
   * The transport over a socket just opened, wired to its slot: one report per exchange, a
   * close, a body dropped unread. The one place that picks the protocol (HTTP/1.1 for now).
   */
  #transport(opened: Awaited<ReturnType<typeof openSocket>>, slot: Slot): Transport {
    return new Http1Connection(
      opened.socket,
      {
        reads: opened.reads,
        host: this.#target.host,
        origin: this.origin,
        limits: this.#options.limits,
        headersTimeout: this.#options.headersTimeout,
        bodyTimeout: this.#options.bodyTimeout,
        maxDrainBytes: this.#options.maxDrainBytes,
        maxDrainTime: this.#options.maxDrainTime,
        clock: this.#clock,
      },
      this.#events(slot),
    );
  }

  /** What a connection tells the pool: one report per exchange, a close, a body dropped unread, new capacity. */
  #events(slot: Slot): TransportEvents {
    return {
      onExchangeEnd: (report) => this.#exchangeEnded(slot, report),
      // Closed while idle (FIN, RST, unsolicited bytes): out of the pool now, not at checkout.
      onClose: () => {
        if (!slot.closing && !slot.shared && Number.isNaN(slot.lease.startedAt)) {
          this.#learnIdleClose(slot);
        }
        this.#pool.evict(slot);
      },
      onBodyAbandoned: (tag) => {
        // On a shared connection the stream's own lease took it; a lease (acquire()) that was
        // dropped too is reported by its own finalizer.
        const hold = slot.shared ? (tag as Hold | undefined) : slot;
        if (hold?.returnWhenDone === true) {
          this.#warnLeak('had a response body garbage-collected unread', hold.lease.acquiredAt);
        }
      },
      onCapacityChanged: () => this.#pool.capacityChanged(slot),
    };
  }

  #close(slot: Slot, reason: CloseReason): Promise<void> {
    slot.closing = true;
    this.#addressed.delete(slot);
    this.#endLease(slot);
    slot.connection.destroy();
    this.#budget?.release();
    // Retired by the pool, it closes for that reason, unless the pool itself is going.
    const why =
      reason === 'pool-closed' || reason === 'pool-destroyed'
        ? reason
        : (slot.retiredFor ?? reason);
    connectionClosed(this.origin, slot.connection.localPort, why, slot.requests);
    return slot.connection.closed;
  }

  /**
   * A connection is about to wait idle in the pool. Under a shared cap, an origin waiting for a
   * permit gets this one's instead (as in #putBack): a permit waiter must never wait on an idle
   * connection, which nothing would close in time (nor keep the process alive for). One that
   * stays idle no longer holds the process open, as Node's http.Agent does with a free socket.
   */
  #keepIdle(slot: Slot): boolean {
    if (this.#budget !== undefined && this.#budget.waiting > 0) return false;
    slot.connection.unref();
    return true;
  }

  /**
   * An acquire waits: over HTTP/2 the process must stay alive for it even when nothing else
   * would hold it, as when the only connection sits idle (unref'd) after the server lowered
   * its stream limit to 0. One handle per pool while anyone waits; none over HTTP/1.1, whose
   * waiters always wait on a leased or connecting socket, which holds the process itself.
   */
  #waitFor<T>(acquiring: Promise<T>): Promise<T> {
    if (this.#http2 === 'never') return acquiring;
    if (this.#waiting++ === 0) this.#waitHandle = setInterval(() => {}, MAX_TIMER_MS);
    const done = (): void => {
      if (--this.#waiting === 0) clearInterval(this.#waitHandle);
    };
    acquiring.then(done, done);
    return acquiring;
  }

  /** A lease begins: the socket holds the process open again, timing, and the leak detector. */
  #lend(slot: Slot, waitStarted: number): Hold {
    // Until the lease ends, its requests and bodies are promises someone waits on.
    slot.connection.ref();
    const hold: Hold = slot.shared ? new StreamHold(slot) : slot;
    this.#leases.begin(hold.lease, waitStarted);
    return hold;
  }

  #warnLeak(what: string, acquiredAt: Error | undefined): void {
    this.#leases.warn(what, acquiredAt);
  }

  /** A lease from acquire() was garbage-collected while current: close its connection, free the slot. */
  #onAbandoned(hold: Hold): void {
    // Released already, its unread body draining: the connection comes home by itself.
    if (hold.returnWhenDone) return;
    this.#warnLeak('was garbage-collected without being released', hold.lease.acquiredAt);
    this.throwAway(hold);
  }

  /** A lease ends (returned, discarded or destroyed). Safe to call more than once. */
  #endLease(hold: Hold, now = performance.now()): void {
    this.#leases.end(hold.lease, now);
  }

  /**
   * @internal The Agent's DNS watch: connections to an address `stale` says yes to are retired
   * (close reason `dns-changed`): idle ones now, busy ones once their exchange ends, so none is
   * cut in flight. Returns how many were marked. Only pools given an address source track them.
   */
  retireAddresses(stale: (address: string) => boolean): number {
    let marked = 0;
    for (const slot of this.#addressed) {
      if (slot.retiredFor !== undefined || slot.remoteAddress === undefined) continue;
      if (!stale(slot.remoteAddress)) continue;
      slot.retiredFor = 'dns-changed';
      marked++;
      // Busy: an HTTP/2 one takes no new streams from now on; those running finish.
      if (!this.#pool.evict(slot)) this.#retire(slot, 'dns-changed');
    }
    return marked;
  }

  /**
   * Closes the connection that has been idle longest, if any, and returns whether there was
   * one. An Agent uses it to free a connection for another origin under `maxTotal`.
   */
  closeIdleConnection(): boolean {
    return this.#pool.evictOldest();
  }

  /**
   * Lends a connection: an idle one if there is one, else a new one while under `maxSize`,
   * else the next one released (first come, first served).
   *
   * Rejects with EmptyPoolError (`blocking: false` and the pool is full), AcquireTimeoutError,
   * QueueFullError, PoolClosedError, the signal's reason, or the connect error
   * (SocketError, ConnectTimeoutError) of the connection opened for this call.
   */
  async acquire(options: AcquireOptions = {}): Promise<PooledConnection> {
    checkAcquireOptions(options);
    const started = performance.now();
    const hold = this.#lend(await this.#waitFor(this.#pool.acquire(options)), started);
    const lease = new PooledConnection(this, hold);
    this.#leases.watch(lease, hold);
    return lease;
  }

  /**
   * Gives a connection back; the same as `conn.release()`.
   *
   * @throws InvalidArgumentError when `conn` is not a connection lent by a pool
   */
  release(conn: PooledConnection): void {
    if (!(conn instanceof PooledConnection)) {
      throw new InvalidArgumentError('release() takes a connection from acquire()');
    }
    conn.release();
  }

  /**
   * Sends one request on a pooled connection. The connection goes back to the pool by
   * itself once the response body has been read to the end or dumped, so always read or
   * `dump()` the body.
   *
   * A request that fails on a reused connection before any response byte arrived (the
   * server had closed it while idle) is sent again, on a new connection where the pool has
   * room for one, when it is safe to: an idempotent method or an `Idempotency-Key` header,
   * and a body that can be sent again (none, string or bytes). A failure on a new connection
   * is never replayed, and a POST without an Idempotency-Key is never sent twice. Over
   * HTTP/2, a request the server says it did not process (REFUSED_STREAM, or above a GOAWAY's
   * last stream id) is sent again whatever its method: while the connections refusing it
   * answered others since (streams a GOAWAY lets finish count), up to 16 times; once after a
   * connection that answered nothing; not after a refusal as the first request of a brand-new
   * connection. A 421 (Misdirected Request) is sent once more on a new connection, whatever
   * its method, when its body can be sent again and a new connection can be had without
   * waiting behind the others on an HTTP/2 one; the connection that sent it takes no more.
   *
   * `timeout` bounds all of it, replays included, until the response body has arrived:
   * RequestTimeoutError (`ERR_TIMEOUT`) with the phase it ran out in.
   *
   * Rejects with InvalidArgumentError, before anything is queued or sent, for an unknown
   * option or a value of the wrong kind.
   */
  request(options: RequestOptions = {}): Promise<HttpResponse> {
    try {
      checkRequestOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    // Not an async frame of its own: the check costs no extra promise.
    return underDeadline(options.timeout, options.signal, (deadline) =>
      this.requestWithin(options, deadline),
    );
  }

  /**
   * @internal {@link request} under a deadline its caller made and ends (an Agent's, over
   * every hop and retry), whose signal then stands for `options.signal`.
   */
  async requestWithin(
    options: RequestOptions,
    deadline: RequestDeadline | undefined,
  ): Promise<HttpResponse> {
    const signal = deadline === undefined ? options.signal : deadline.signal;
    if (deadline !== undefined) {
      deadline.opening = this.#isOpening;
      deadline.at(this.origin, standardMethod(options.method), options.path ?? '/');
    }
    // After a stale connection failed, only a new one will do; after the server said it did
    // not process the request (HTTP/2), any other connection will.
    let fresh = false;
    let unprocessedReplays = 0;
    // A connection that had answered nothing (since) refused this request (HTTP/2).
    let refusedIdle = false;
    // Each refusing connection's answered count at its last refusal of this request.
    let refusals: Map<Slot, number> | undefined;
    let misdirected = false;
    for (let attempt = 0; ; attempt++) {
      // An idle connection is taken without a promise (and without a wait to time: NaN records
      // as 0); otherwise wait (or connect) for one.
      const idle =
        attempt === 0 && signal?.aborted !== true ? this.#pool.tryAcquireIdle() : undefined;
      let hold: Hold;
      if (idle !== undefined) hold = this.#lend(idle, Number.NaN);
      else {
        const started = performance.now();
        if (deadline !== undefined) deadline.phase = 'acquire';
        let acquired: Slot;
        try {
          acquired = await this.#waitFor(
            this.#pool.acquireWith(options.acquireTimeout, signal, fresh),
          );
        } catch (error) {
          // A connect error (timeout, refused, TLS) names the request it failed; the
          // connection names the errors of the exchange itself.
          if (error !== signal?.reason && error !== options.signal?.reason) {
            locateError(error, this.origin, standardMethod(options.method), options.path ?? '/');
          }
          throw error;
        }
        hold = this.#lend(acquired, started);
      }
      // Every exchange on a connection still lent out ended reusable.
      const reused = hold.slot.requests > 0;
      // Handed back by #exchangeEnded as soon as the response has been read (or failed).
      hold.returnWhenDone = true;
      try {
        const response = await this.send(hold, options, deadline);
        // 421: this connection cannot serve the origin (RFC 9110 §15.5.20); once more on a
        // new connection, whatever the method, when the body can be sent again.
        if (
          response.status !== 421 ||
          misdirected ||
          !isReplayableBody(options.body) ||
          !this.#freshWithoutWait(hold.slot)
        ) {
          return response;
        }
        misdirected = true;
        fresh = true;
        this.#replayed++;
        this.#retire(hold.slot, 'not-reusable');
        // Its body is not the answer: read it away (a failure here only closes that one).
        await response.dump().catch(() => undefined);
      } catch (error) {
        if (hold.returnWhenDone) {
          // No report handed the hold back. With no exchange running and the connection open,
          // the request was refused before anything was sent: the connection is as good as
          // before. Otherwise (found closed, or failed after its head) nothing else will.
          hold.returnWhenDone = false;
          if (!hold.running && !hold.slot.connection.closing) this.giveBack(hold);
          else this.throwAway(hold);
        }
        // A request the server did not process (HTTP/2) goes again, to a connection that is not
        // closing, whatever its method: while the connections refusing it answered others (a
        // server retiring them one GOAWAY after another), up to a bound; once only after a
        // connection that answered nothing, so a server refusing everything costs two sends.
        // Refused as the first request of a brand-new connection, it is not sent again: a
        // server that refuses on sight would otherwise cost a connect per refusal.
        if (error instanceof SocketError && error.unprocessed === true) {
          if (!reused) throw error;
          // Progress: the refusing connection answered others since this request's last
          // refusal there (a server refusing everything on a busy connection makes none).
          const { slot } = hold;
          refusals ??= new Map();
          // Streams a GOAWAY lets finish count too: they will be answered, maybe after this.
          const taken =
            slot.answered +
            (slot.connection instanceof Http2Connection ? slot.connection.acceptedAtGoaway : 0);
          const progressed = taken > (refusals.get(slot) ?? 0);
          refusals.set(slot, taken);
          const bound = progressed ? MAX_UNPROCESSED_REPLAYS : 1;
          if (unprocessedReplays < bound && !refusedIdle && canReplay(options, error)) {
            if (!progressed) refusedIdle = true;
            this.#replayed++;
            unprocessedReplays++;
            continue;
          }
          throw error;
        }
        // Only a reused connection's failure is replayed, so a replay that meets a failure
        // on a new connection stops there; the bound covers a run of stale ones.
        if (attempt < MAX_REPLAYS && reused && canReplay(options, error)) {
          this.#replayed++;
          fresh = true;
          continue;
        }
        throw error;
      }
    }
  }

  /**
   * Takes a connection out of service for good without cutting what it carries: an HTTP/1.1
   * one closes after its exchange, an HTTP/2 one takes no new streams (GOAWAY) and closes when
   * its streams end.
   */
  #retire(slot: Slot, reason: string): void {
    slot.retiredFor ??= reason;
    if (slot.connection instanceof Http2Connection) {
      slot.connection.close();
      this.#pool.capacityChanged(slot);
    }
  }

  /**
   * A fresh connection can be had for a 421's replay without waiting behind `slot`: a fresh
   * waiter never shares a busy HTTP/2 connection, so at `maxSize` it would wait until every
   * other stream on `slot` ended (for ever, behind a long-lived one).
   */
  #freshWithoutWait(slot: Slot): boolean {
    if (!slot.shared) return true;
    const { open, idle } = this.#pool.stats();
    return (
      open < (this.#options.maxSize ?? Number.POSITIVE_INFINITY) ||
      idle > 0 ||
      slot.connection.active <= 1
    );
  }

  /**
   * The request as a forward proxy needs it: the absolute-form target, and Proxy-Authorization
   * when the proxy has credentials and the caller did not set one. Only for `http:` origins;
   * tunnelled requests never carry the proxy's credentials, since the origin would read them.
   */
  #viaProxy(options: ExchangeOptions): ExchangeOptions {
    const path = absoluteTarget(this.#target, options.path ?? '/');
    const authorization = this.#proxy?.authorization;
    if (authorization === undefined) return { ...options, path };
    const pairs = headerEntries(options.headers);
    if (!pairs.some(([name]) => name.toLowerCase() === 'proxy-authorization')) {
      pairs.push(['proxy-authorization', authorization]);
    }
    return { ...options, path, headers: pairs };
  }

  /**
   * The request as the connection takes it: default headers merged, `query` in the path, `json`
   * as the body, Accept-Encoding when decoding.
   */
  #prepare(input: ConnectionRequestOptions, decompress: boolean): ExchangeOptions {
    const { headers, body } = requestContent(
      input,
      this.#defaultHeaders,
      decompress ? acceptEncoding(this.#target.protocol) : undefined,
    );
    const { query } = input;
    return {
      ...input,
      path: query === undefined ? input.path : withQuery(input.path ?? '/', query),
      headers,
      body,
      query: undefined,
      json: undefined,
      decompress: undefined,
    } as ExchangeOptions;
  }

  /** @internal LeaseOwner: sends on the hold's connection */
  send(
    hold: Hold,
    input: ConnectionRequestOptions,
    deadline?: RequestDeadline | undefined,
  ): Promise<HttpResponse> {
    let options: ExchangeOptions = input;
    let decompress = false;
    try {
      if (
        this.#prepares ||
        input.query !== undefined ||
        input.json !== undefined ||
        input.decompress === true
      ) {
        // Its kind was checked with the rest of the request's options.
        decompress = input.decompress ?? this.#options.decompress ?? false;
        options = this.#prepare(input, decompress);
      }
      // http: through a proxy: absolute-form target and Proxy-Authorization (RFC 9112 §3.2.2).
      if (this.#forwarded) options = this.#viaProxy(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const slot = hold.slot;
    const connection = slot.connection;
    const reused = slot.requests > 0;
    const active = connection.active;
    const pending = connection.request(options, deadline, hold);
    // An exchange began (input refused before anything was sent begins none): count it.
    if (connection.active > active) {
      this.#requests++;
      if (reused) this.#reused++;
      slot.requests++;
      hold.running = true;
      if (slot.shared) this.#streams++;
      if (tracingRequests())
        hold.exchange = requestStarted(this.origin, options, reused, connection.protocol);
    }
    if (!decompress) return pending;
    const method = standardMethod(options.method);
    return pending.then((response) => decodeResponse(response, method, this.#maxDecoded));
  }

  /** The connection's one report on an exchange: its verdict stands, and its hint is kept. */
  #exchangeEnded(slot: Slot, report: ExchangeReport): void {
    const hold = (report.tag as Hold | undefined) ?? slot;
    if (hold.running) {
      hold.running = false;
      if (slot.shared) this.#streams--;
    }
    slot.keepAliveHint = report.keepAliveHint;
    if (report.error === undefined) slot.answered++;
    const exchange = hold.exchange;
    hold.exchange = undefined;
    if (exchange !== undefined) this.#publishEnd(exchange, report);
    if (!hold.returnWhenDone) return;
    hold.returnWhenDone = false;
    this.#putBack(hold, report.reusable);
  }

  #publishEnd(exchange: ExchangeTrace, report: ExchangeReport): void {
    requestEnded(this.origin, exchange, report.status, report.error);
  }

  /** @internal LeaseOwner: the lease ended */
  giveBack(hold: Hold): void {
    const connection = hold.slot.connection;
    if (!hold.running) {
      // The last exchange's report already said it could carry another: is it still fit now?
      this.#putBack(hold, connection.isHealthy());
      return;
    }
    // Released with the body unread: drain a little (or close), then come home.
    hold.returnWhenDone = true;
    if (!connection.dumpResponse(hold)) {
      // Released while waiting for a response nobody will read: no way to reuse it safely.
      hold.returnWhenDone = false;
      this.#endLease(hold);
      this.#pool.discard(hold.slot);
    }
  }

  /**
   * @internal LeaseOwner: the lease ended, close the connection. On a shared (HTTP/2)
   * connection only this hold's stream is given up: the others on it carry on.
   */
  throwAway(hold: Hold): void {
    hold.returnWhenDone = false;
    if (hold.slot.shared) {
      const connection = hold.slot.connection;
      if (hold.running) {
        hold.returnWhenDone = true;
        if (connection.dumpResponse(hold)) return;
        hold.returnWhenDone = false;
      }
      this.#putBack(hold, connection.isHealthy());
      return;
    }
    this.#endLease(hold);
    this.#pool.discard(hold.slot);
  }

  /**
   * The server closed a connection that sat idle in the pool: it keeps idle connections no
   * longer than that, hint or not (RFC 9112 §9.5 lets it close at any time). From now on this
   * pool keeps them a quarter less, so a request never races the server's close.
   */
  #learnIdleClose(slot: Slot): void {
    if (Number.isNaN(slot.idleSince)) return;
    const idleFor = this.#now() - slot.idleSince;
    if (idleFor < MIN_LEARNED_IDLE_MS) return;
    const keep = idleFor * IDLE_CLOSE_MARGIN;
    if (this.#learnedIdleTimeout === undefined || keep < this.#learnedIdleTimeout) {
      this.#learnedIdleTimeout = keep;
      idleCloseLearned(this.origin, idleFor);
    }
  }

  /**
   * The lease is over: the connection goes back to the pool if the transport says it can carry
   * another (`fit`) and the pool's own policy keeps it ({@link #retires}), until its lifetime
   * or the server's Keep-Alive hint runs out.
   */
  #putBack(hold: Hold, fit: boolean): void {
    const slot = hold.slot;
    const now = performance.now();
    let expiresAt = slot.retireAt;
    const hint = slot.keepAliveHint;
    const clockNow = this.#clock === undefined ? now : this.#clock.now();
    if (hint !== undefined) {
      const threshold = this.#options.keepAliveTimeoutThreshold ?? DEFAULT_KEEP_ALIVE_THRESHOLD;
      expiresAt = Math.min(expiresAt, clockNow + hint - threshold);
      // The server said how long it keeps connections: that beats what its closes suggested.
      this.#learnedIdleTimeout = undefined;
    } else if (this.#learnedIdleTimeout !== undefined) {
      expiresAt = Math.min(expiresAt, clockNow + this.#learnedIdleTimeout);
    }
    slot.idleSince = clockNow;
    this.#endLease(hold, now);
    this.#pool.releaseWith(slot, fit && !this.#retires(slot), expiresAt);
  }

  /**
   * The pool's own reasons to close a connection its transport would still carry requests
   * on (its lifetime is the `expiresAt` of {@link #putBack}, a closing pool the ResourcePool's).
   */
  #retires(slot: Slot): boolean {
    return (
      slot.requests >= (this.#options.maxRequestsPerConnection ?? Number.POSITIVE_INFINITY) ||
      slot.retiredFor !== undefined ||
      // Under a shared cap, other origins waiting for a connection go first: closing this one
      // frees a permit for the oldest of them (first come, first served across origins).
      (this.#budget !== undefined && this.#budget.waiting > 0)
    );
  }

  /** A snapshot of the pool's connections, waiters and counters. */
  stats(): PoolStats {
    const s = this.#pool.stats();
    return {
      open: s.open,
      idle: s.idle,
      leased: s.leased,
      connecting: s.connecting,
      waiting: s.waiting,
      created: s.created,
      closed: s.destroyed,
      requests: this.#requests,
      replayed: this.#replayed,
      connectFailed: s.createFailed,
      acquireTimeouts: s.timedOut,
      reused: this.#reused,
      leaks: this.#leases.leaks,
      learnedIdleTimeout: this.#learnedIdleTimeout,
      streams: this.#streams,
      waitTime: this.#leases.waitTime.summary(),
      leaseTime: this.#leases.leaseTime.summary(),
      connectTime: this.#connectTime.summary(),
    };
  }

  /**
   * Graceful shutdown: waiting and later acquires fail with PoolClosedError, idle connections
   * close now, leased ones when they are released. Resolves when all are closed.
   *
   * With `timeout`, connections still busy after that many ms are destroyed (as by
   * {@link destroy}), so the promise resolves by then whatever the callers do.
   *
   * @throws InvalidArgumentError (as a rejection) for a negative or non-number `timeout`
   */
  close(options?: CloseOptions): Promise<void> {
    try {
      return closeWithin(
        options?.timeout,
        () => this.#pool.close(),
        (reason) => this.destroy(reason),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Closes everything now, failing requests in progress. Resolves when all sockets are closed. */
  destroy(reason?: Error): Promise<void> {
    return this.#pool.destroy(reason);
  }

  /** `await using pool = new ConnectionPool(...)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Options of a graceful `close()`. */
export interface CloseOptions {
  /**
   * Most ms to wait for busy connections to come back; then they are destroyed, failing what
   * is still in progress. Default: wait as long as it takes.
   */
  timeout?: number | undefined;
}

/**
 * How an origin's connections choose their protocol under `http2`: never HTTP/2, by ALPN
 * (`'auto'` on `https:`), or always (`'only'`, and `'prior-knowledge'`, which on `http:` is
 * h2c). A forwarded `http:` request goes to the proxy, which speaks HTTP/1.1.
 */
function http2Route(
  mode: Http2Mode,
  protocol: 'http:' | 'https:',
  forwarded: boolean,
): 'never' | 'alpn' | 'always' {
  if (mode === 'off' || forwarded) return 'never';
  if (protocol === 'https:') return mode === 'auto' ? 'alpn' : 'always';
  // Cleartext has no ALPN: h2 there is prior knowledge ('only' means h2 or fail, so it too).
  return mode === 'auto' ? 'never' : 'always';
}
