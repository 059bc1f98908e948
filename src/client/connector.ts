/**
 * Opening a pool's connection, composed from the rooms below: a direct connection (one dial),
 * an `http:` origin through a proxy (a dial to the proxy), or an `https:` origin through a
 * proxy (a dial to the proxy, a CONNECT tunnel spoken by the HTTP/1 codec, then TLS with the
 * origin over it), all within one connect-timeout budget.
 */
import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { type Clock, systemClock } from '../clock.js';
import {
  abortReason,
  ConnectTimeoutError,
  HttpoolError,
  InvalidArgumentError,
  SocketError,
} from '../errors.js';
import { type ConnectRequest, establishTunnel, serializeConnect } from '../http1/tunnel.js';
import { type DialOptions, type DialTarget, dial, serverName, withinTimeout } from '../net/dial.js';
import { type AddressSource, dialResolved } from '../net/eyeballs.js';
import type { Routing } from '../net/lookup.js';
import type { SharedReads } from '../net/sockets.js';
import type { Origin } from './origin.js';
import type { ProxyConfig } from './proxy.js';

/** What a {@link ConnectHook} is asked to connect to: the origin of the pool that needs a connection. */
export interface ConnectTarget {
  /** `scheme://host[:port]`, canonical (no default port). */
  readonly origin: string;
  /** `http:` or `https:`. */
  readonly protocol: 'http:' | 'https:';
  /** Host name or IP address (IPv6 without brackets). */
  readonly hostname: string;
  /** TCP port, the default one filled in. */
  readonly port: number;
  /** Aborted when the attempt is given up (the connect timeout, the pool destroyed). */
  readonly signal: AbortSignal | undefined;
}

/**
 * Opens a connection's socket instead of the pool (see {@link PoolOptions.connect}): resolves
 * with a socket ready for bytes, or with `undefined` to let the pool dial as usual.
 */
export type ConnectHook = (
  target: ConnectTarget,
) => Socket | undefined | Promise<Socket | undefined>;

/** How to open one connection; `lookup` and `localAddress` apply to the proxy too. */
export interface ConnectOptions extends Routing {
  /** ms to establish TCP (and TLS); `Infinity` waits as long as the OS does. */
  connectTimeout: number;
  /** Aborts the attempt (the pool is being destroyed). */
  signal?: AbortSignal | undefined;
  /** Runs the connect timeout; the system clock by default. */
  clock?: Clock | undefined;
  /** TLS settings for `https:` origins. */
  tls?: ConnectionOptions | undefined;
  /** A TLS session to resume (saves a round trip and the key exchange). */
  session?: Buffer | undefined;
  /** Called with each new TLS session ticket the server sends, for later resumption. */
  onSession?: ((session: Buffer) => void) | undefined;
  /** Protocols to offer the origin by ALPN (`['h2', 'http/1.1']` for HTTP/2 by choice). */
  ALPNProtocols?: readonly string[] | undefined;
  /**
   * False when the socket may go to HTTP/2 (Node's session reads it): its reads then stay
   * Node's own rather than landing in the shared buffer. Default true.
   */
  sharedReads?: boolean | undefined;
  /**
   * A forward proxy to go through. `https:` origins: a CONNECT tunnel (RFC 9110 §9.3.6), then
   * TLS with the origin inside it, so the proxy sees neither requests nor Proxy-Authorization
   * after the CONNECT. `http:` origins: a connection to the proxy; the caller sends each
   * request in absolute form (RFC 9112 §3.2.2) with Proxy-Authorization. An `https:` proxy is
   * reached over TLS either way (TLS inside TLS for an `https:` origin).
   */
  proxy?: ProxyConfig | undefined;
  /** A Unix domain socket (or named pipe) to connect over instead of TCP; not with `proxy`. */
  socketPath?: string | undefined;
  /**
   * Where a direct TCP connection to a host name gets its addresses (the Agent's DNS cache):
   * they are then raced by Happy Eyeballs in the order given. The Agent gives one only for a
   * host name reached without a proxy, a `socketPath` or a `lookup`.
   */
  addresses?: AddressSource | undefined;
  /** Asked first for the socket; `undefined` from it means dial as usual. */
  connect?: ConnectHook | undefined;
}

/** An open connection: the socket, and its reads when they land in the shared buffer. */
export interface OpenedSocket {
  socket: Socket;
  /** Set when the socket reads into the shared buffer: its reads come from here, not `data`. */
  reads: SharedReads | undefined;
  /** The protocol agreed by ALPN with the origin; undefined when none was offered or agreed. */
  alpnProtocol: string | undefined;
}

/**
 * Opens a TCP or TLS connection to `origin` and resolves once it is ready for bytes
 * (after the TLS handshake and certificate check). With `options.proxy`, the socket leads to the
 * proxy (`http:`) or through a CONNECT tunnel to the origin (`https:`); `connectTimeout` bounds
 * the whole attempt, tunnel included. On timeout, abort or error the socket is destroyed and the
 * promise rejects with a typed error (ProxyError when the proxy refuses the tunnel).
 */
export async function openSocket(origin: Origin, options: ConnectOptions): Promise<OpenedSocket> {
  const { signal, proxy, connectTimeout } = options;
  if (signal?.aborted) throw abortReason(signal);
  const clock = options.clock ?? systemClock;
  if (options.connect !== undefined) {
    const socket = await fromHook(origin, options.connect, options, clock);
    if (socket !== undefined) {
      const alpn = (socket as { alpnProtocol?: unknown }).alpnProtocol;
      return {
        socket,
        reads: undefined,
        alpnProtocol: typeof alpn === 'string' ? alpn : undefined,
      };
    }
  }
  const toOrigin: DialOptions = {
    timeout: connectTimeout,
    clock,
    signal,
    what: `connecting to ${origin.origin}`,
    tls: options.tls,
    session: options.session,
    onSession: options.onSession,
    ALPNProtocols: options.ALPNProtocols,
    sharedReads: options.sharedReads,
    lookup: options.lookup,
    localAddress: options.localAddress,
  };
  if (proxy === undefined) {
    if (options.addresses !== undefined) {
      return dialResolved(originTarget(origin), options.addresses, toOrigin);
    }
    return dial(originTarget(origin, options.socketPath), toOrigin);
  }
  // TLS to an https: proxy trusts what the origin's does, but it is not the origin: its own
  // host name is the SNI, and the origin's sessions and client certificate are not offered.
  const viaProxy: TunnelOptions = {
    connectTimeout,
    signal,
    clock,
    tls: forProxy(options.tls),
    lookup: options.lookup,
    localAddress: options.localAddress,
  };
  if (origin.protocol === 'http:') {
    return dial(proxyTarget(proxy), proxyDialOptions(proxy, viaProxy, clock, 'connecting to'));
  }
  const started = clock.now();
  const tunnel = await openTunnel(proxy, originTarget(origin), viaProxy);
  // One budget for TCP, CONNECT and TLS together, as without a proxy.
  const left = connectTimeout - (clock.now() - started);
  if (left <= 0 || signal?.aborted) {
    tunnel.destroy();
    throw signal?.aborted ? abortReason(signal) : new ConnectTimeoutError(connectTimeout);
  }
  return dial(originTarget(origin), {
    ...toOrigin,
    timeout: left,
    budget: connectTimeout,
    over: tunnel,
  });
}

/**
 * The socket a {@link ConnectHook} gives for `origin`, within the connect timeout and the
 * signal. A hook's failure is a SocketError, unless it is an httpool error of its own (passed
 * on as it is); a socket that comes after the attempt was given up is destroyed.
 */
function fromHook(
  origin: Origin,
  hook: ConnectHook,
  options: ConnectOptions,
  clock: Clock,
): Promise<Socket | undefined> {
  const { signal, connectTimeout } = options;
  const asked = new Promise<Socket | undefined>((resolve) =>
    resolve(
      hook({
        origin: origin.origin,
        protocol: origin.protocol,
        hostname: origin.hostname,
        port: origin.port,
        signal,
      }),
    ),
  ).catch((error: unknown) => {
    throw error instanceof HttpoolError
      ? error
      : new SocketError(
          `connecting to ${origin.origin} failed: ${(error as Error)?.message ?? String(error)}`,
          { cause: error },
        );
  });
  return withinTimeout(asked, { timeout: connectTimeout, signal }, clock).then(
    (socket) => {
      if (socket !== undefined && !isSocket(socket)) {
        throw new InvalidArgumentError('the connect option must give a socket or undefined');
      }
      return socket;
    },
    (error: unknown) => {
      // Given up (timeout, abort) while the hook worked: a socket it gives later is closed.
      void asked.then(
        (socket) => {
          if (typeof socket?.destroy === 'function') socket.destroy();
        },
        () => undefined,
      );
      throw error;
    },
  );
}

function isSocket(value: unknown): value is Socket {
  const socket = value as Partial<Socket> | null;
  return (
    typeof socket === 'object' &&
    socket !== null &&
    typeof socket.write === 'function' &&
    typeof socket.on === 'function' &&
    typeof socket.destroy === 'function'
  );
}

/** Options of {@link openTunnel}. */
export interface TunnelOptions extends Routing {
  /** ms for the whole attempt: TCP to the proxy plus the CONNECT exchange. */
  connectTimeout: number;
  /** Aborts the attempt. */
  signal?: AbortSignal | undefined;
  /** Runs the connect timeout; the system clock by default. */
  clock?: Clock | undefined;
  /** Extra header fields for the CONNECT request (a `User-Agent`, say). */
  headers?: Record<string, string> | undefined;
  /** TLS settings for an `https:` proxy (ca, rejectUnauthorized, ...); its host name is the SNI. */
  tls?: ConnectionOptions | undefined;
}

/**
 * Opens a CONNECT tunnel (RFC 9110 §9.3.6) through `proxy` to `target` and resolves with the
 * socket once the proxy answered 2xx (a TLS socket to an `https:` proxy, verified with
 * `options.tls`): the bytes that follow are the target's, ready for a TLS handshake on top
 * (`tls.connect({ socket })`) or anything else. The request carries the proxy's
 * Proxy-Authorization when it has credentials. See {@link establishTunnel} for the exchange
 * and its errors; `connectTimeout` bounds the dial and the exchange together, and a bad target
 * or header is refused before anything is dialled.
 */
export async function openTunnel(
  proxy: ProxyConfig,
  target: { hostname: string; port: number },
  options: TunnelOptions,
): Promise<Socket> {
  const { signal, connectTimeout } = options;
  if (signal?.aborted) throw abortReason(signal);
  const request: ConnectRequest = {
    hostname: target.hostname,
    port: target.port,
    authorization: proxy.authorization,
    headers: options.headers,
  };
  serializeConnect(request);
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  // Not into the shared buffer: TLS (or the caller) reads the tunnel as a stream.
  const { socket } = await dial(proxyTarget(proxy), {
    ...proxyDialOptions(proxy, options, clock, 'tunnel through'),
    sharedReads: false,
  });
  return establishTunnel(socket, request, {
    proxy: `proxy ${proxy.origin.origin}`,
    timeout: connectTimeout - (clock.now() - started),
    budget: connectTimeout,
    clock,
    signal,
  });
}

function originTarget(origin: Origin, socketPath?: string): DialTarget {
  return {
    hostname: origin.hostname,
    port: origin.port,
    secure: origin.protocol === 'https:',
    socketPath,
  };
}

/** The proxy itself: its own host name is the TLS server name, whatever `tls` says. */
function proxyTarget(proxy: ProxyConfig): DialTarget {
  const { hostname, port, protocol } = proxy.origin;
  return { hostname, port, secure: protocol === 'https:', servername: serverName(hostname) };
}

function proxyDialOptions(
  proxy: ProxyConfig,
  options: TunnelOptions,
  clock: Clock,
  verb: 'connecting to' | 'tunnel through',
): DialOptions {
  return {
    timeout: options.connectTimeout,
    clock,
    signal: options.signal,
    what: `${verb} proxy ${proxy.origin.origin}`,
    tls: options.tls,
    lookup: options.lookup,
    localAddress: options.localAddress,
  };
}

/**
 * The part of the origin's TLS settings that applies to an `https:` proxy: what to trust and
 * how (ca, rejectUnauthorized, versions, ciphers, a `secureContext`). What identifies or
 * authenticates the origin connection (its servername, identity check, session, client
 * certificate and key, PSK) stays with it.
 */
function forProxy(tls: ConnectionOptions | undefined): ConnectionOptions | undefined {
  if (tls === undefined) return undefined;
  const {
    servername: _servername,
    checkServerIdentity: _checkServerIdentity,
    session: _session,
    cert: _cert,
    key: _key,
    pfx: _pfx,
    passphrase: _passphrase,
    privateKeyEngine: _privateKeyEngine,
    privateKeyIdentifier: _privateKeyIdentifier,
    pskCallback: _pskCallback,
    ...rest
  } = tls;
  return rest;
}
