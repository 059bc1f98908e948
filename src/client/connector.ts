import type { Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { abortReason, ConnectTimeoutError, SocketError } from '../errors.js';
import { type Routing, routing } from '../net/lookup.js';
import { connectSharedReads, connectTlsSharedReads, type SharedReads } from '../net/sockets.js';
import { type Origin, serverName } from './origin.js';
import { openTunnel, type ProxyConfig } from './proxy.js';

/** How to open one connection; `lookup` and `localAddress` apply to the proxy too. */
export interface ConnectOptions extends Routing {
  /** ms to establish TCP (and TLS); `Infinity` waits as long as the OS does. */
  connectTimeout: number;
  /** Aborts the attempt (the pool is being destroyed). */
  signal?: AbortSignal | undefined;
  /** TLS settings for `https:` origins. */
  tls?: ConnectionOptions | undefined;
  /** A TLS session to resume (saves a round trip and the key exchange). */
  session?: Buffer | undefined;
  /** Called with each new TLS session ticket the server sends, for later resumption. */
  onSession?: ((session: Buffer) => void) | undefined;
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
}

/** An open connection: the socket, and its reads when they land in the shared buffer. */
export interface OpenedSocket {
  socket: Socket;
  /** Set when the socket reads into the shared buffer: its reads come from here, not `data`. */
  reads: SharedReads | undefined;
}

/**
 * Opens a TCP or TLS connection to `origin` and resolves once it is ready for bytes
 * (after the TLS handshake and certificate check). With `options.proxy`, the socket leads to the
 * proxy (`http:`) or through a CONNECT tunnel to the origin (`https:`); `connectTimeout` bounds
 * the whole attempt, tunnel included. On timeout, abort or error the socket is destroyed and the
 * promise rejects with a typed error (ProxyError when the proxy refuses the tunnel).
 */
export async function openSocket(origin: Origin, options: ConnectOptions): Promise<OpenedSocket> {
  const { signal, proxy } = options;
  if (signal?.aborted) throw abortReason(signal);
  if (proxy === undefined) return handshake(origin, options, undefined, options.connectTimeout);
  // TLS to an https: proxy trusts what the origin's does, but it is not the origin: its own
  // host name is the SNI, and the origin's sessions and client certificate are not offered.
  const toProxy: ConnectOptions = {
    connectTimeout: options.connectTimeout,
    signal,
    tls: forProxy(options.tls),
    lookup: options.lookup,
    localAddress: options.localAddress,
  };
  if (origin.protocol === 'http:') {
    return handshake(proxy.origin, toProxy, undefined, options.connectTimeout, 'proxy ');
  }
  const started = performance.now();
  const tunnel = await openTunnel(proxy, { hostname: origin.hostname, port: origin.port }, toProxy);
  // One budget for TCP, CONNECT and TLS together, as without a proxy.
  const left = options.connectTimeout - (performance.now() - started);
  if (left <= 0 || signal?.aborted) {
    tunnel.destroy();
    throw signal?.aborted ? abortReason(signal) : new ConnectTimeoutError(options.connectTimeout);
  }
  return handshake(origin, options, tunnel, left);
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

/**
 * Connects to `origin` (TCP, then TLS for `https:`), or, given `over`, runs only the TLS
 * handshake on that already-open socket (a proxy tunnel).
 */
function handshake(
  origin: Origin,
  options: ConnectOptions,
  over: Socket | undefined,
  timeout: number,
  label = '',
): Promise<OpenedSocket> {
  const { signal } = options;
  return new Promise<OpenedSocket>((resolve, reject) => {
    let socket: Socket;
    let reads: SharedReads | undefined;
    const secure = origin.protocol === 'https:';
    if (secure) {
      const tlsOptions: ConnectionOptions = {
        ...options.tls,
        ...routing(options),
        host: origin.hostname,
        port: origin.port,
        ...(over === undefined ? {} : { socket: over }),
        ...(over === undefined && options.socketPath !== undefined
          ? { path: options.socketPath }
          : {}),
        servername: options.tls?.servername ?? serverName(origin.hostname),
      };
      if (options.session !== undefined) tlsOptions.session = options.session;
      // A TLS socket of our own reads into the shared buffer too; one inside a tunnel cannot.
      if (over === undefined) ({ socket, reads } = connectTlsSharedReads(tlsOptions));
      else socket = tlsConnect(tlsOptions);
      if (options.onSession !== undefined) socket.on('session', options.onSession);
    } else {
      // A plain socket of our own reads into the shared buffer the connection parses in place.
      if (over !== undefined) socket = over;
      else
        ({ socket, reads } = connectSharedReads(
          options.socketPath === undefined
            ? { ...routing(options), host: origin.hostname, port: origin.port }
            : { path: options.socketPath },
        ));
    }
    let timer: NodeJS.Timeout | undefined;
    const cleanup = () => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off(secure ? 'secureConnect' : 'connect', onConnect);
    };
    const fail = (error: Error) => {
      cleanup();
      socket.destroy();
      over?.destroy();
      reject(error);
    };
    const onError = (error: Error) =>
      fail(
        new SocketError(`connecting to ${label}${origin.origin} failed: ${error.message}`, {
          cause: error,
        }),
      );
    const onAbort = () => fail(abortReason(signal!));
    const onConnect = () => {
      cleanup();
      resolve({ socket, reads });
    };
    socket.once('error', onError);
    socket.once(secure ? 'secureConnect' : 'connect', onConnect);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (Number.isFinite(timeout)) {
      timer = setTimeout(() => fail(new ConnectTimeoutError(options.connectTimeout)), timeout);
      timer.unref();
    }
  });
}
