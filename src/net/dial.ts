/**
 * Opening one connection: TCP, a Unix domain socket, or either with TLS on top, or TLS over a
 * socket that is already open (inside a proxy tunnel). It knows hosts, ports and certificates,
 * never HTTP: what is sent over the socket afterwards is the caller's business.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { type Clock, systemClock, type Timer } from '../clock.js';
import { abortReason, ConnectTimeoutError, InvalidArgumentError, SocketError } from '../errors.js';
import { type Routing, routing } from './lookup.js';
import { connectSharedReads, connectTlsSharedReads, type SharedReads } from './sockets.js';

/** Where {@link dial} connects: plain values, no URL or origin types. */
export interface DialTarget {
  /** Host name or IP address (IPv6 without brackets); the TLS server name by default. */
  readonly hostname: string;
  /** TCP port. */
  readonly port: number;
  /** TLS on top of the connection, certificate checked. */
  readonly secure: boolean;
  /** The TLS server name (SNI); else `tls.servername`, else {@link serverName}(hostname). */
  readonly servername?: string | undefined;
  /** A Unix domain socket (or named pipe) to connect over instead of TCP to hostname:port. */
  readonly socketPath?: string | undefined;
}

/** How {@link dial} connects. `lookup` and `localAddress` apply to TCP only. */
export interface DialOptions extends Routing {
  /** ms this attempt may take (TCP and TLS); `Infinity` waits as long as the OS does. */
  timeout: number;
  /**
   * The bound a ConnectTimeoutError names, when this attempt is one step of a longer one that
   * shares a budget (a proxy, a tunnel, then TLS); `timeout` by default.
   */
  budget?: number | undefined;
  /** Runs the timeout; the system clock by default. */
  clock?: Clock | undefined;
  /** Aborts the attempt; the socket is destroyed and the promise rejects with the reason. */
  signal?: AbortSignal | undefined;
  /**
   * What the attempt is, for error messages: `connecting to https://a.test`. A socket error
   * rejects with a SocketError saying `${what} failed: ${cause}`.
   */
  what: string;
  /** TLS settings (trust, versions, a client certificate); only with a `secure` target. */
  tls?: ConnectionOptions | undefined;
  /** A TLS session to resume (saves a round trip and the key exchange). */
  session?: Buffer | undefined;
  /** Called with each new TLS session ticket the server sends, for later resumption. */
  onSession?: ((session: Buffer) => void) | undefined;
  /**
   * Protocols to offer by ALPN (`['h2', 'http/1.1']`); none by default. The one the server
   * picked is the result's `alpnProtocol`.
   */
  ALPNProtocols?: readonly string[] | undefined;
  /**
   * Reads land in the one shared buffer and come from the result's `reads` (true by default):
   * for a socket an HTTP/1 connection parses in place. False for a socket that something else
   * will read as a stream: a tunnel that TLS goes over next.
   */
  sharedReads?: boolean | undefined;
  /**
   * An open socket to run only the TLS handshake over (a proxy tunnel): the target must be
   * `secure`, and nothing is dialled. It is destroyed with the attempt when that fails.
   */
  over?: Socket | undefined;
}

/** An open connection, ready for bytes. */
export interface Dialed {
  /** The socket (a TLSSocket for a secure target). */
  socket: Socket;
  /** Set when the socket reads into the shared buffer: its reads come from here, not `data`. */
  reads: SharedReads | undefined;
  /** The protocol the server chose by ALPN; undefined without TLS, or when none was agreed. */
  alpnProtocol: string | undefined;
}

/** The TLS server name (SNI) for `hostname`: none for an IP address (RFC 6066 §3). */
export function serverName(hostname: string): string {
  return isIP(hostname) !== 0 ? '' : hostname;
}

/**
 * Opens one connection to `target` (TCP or a Unix socket, then TLS when `secure`), or runs the
 * TLS handshake over `options.over`, and resolves once it is ready for bytes: connected, and
 * for TLS handshaken with the certificate checked.
 *
 * Rejects with SocketError (the cause is the socket's error), ConnectTimeoutError after
 * `timeout` ms on `clock` (naming `budget`), the signal's reason, or InvalidArgumentError for
 * options that do not go together. The socket (and `over`) is destroyed on every failure.
 */
export function dial(target: DialTarget, options: DialOptions): Promise<Dialed> {
  const { signal, over } = options;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  if (over !== undefined && !target.secure) {
    return Promise.reject(new InvalidArgumentError('only TLS goes over an open socket'));
  }
  const clock = options.clock ?? systemClock;
  return new Promise<Dialed>((resolve, reject) => {
    const { socket, reads } = open(target, options);
    const ready = target.secure ? 'secureConnect' : 'connect';
    let timer: Timer | undefined;
    const cleanup = () => {
      timer?.cancel();
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off(ready, onReady);
    };
    const fail = (error: Error) => {
      cleanup();
      socket.destroy();
      over?.destroy();
      reject(error);
    };
    const onError = (error: Error) =>
      fail(new SocketError(`${options.what} failed: ${error.message.trim()}`, { cause: error }));
    const onAbort = () => fail(abortReason(signal!));
    const onReady = () => {
      cleanup();
      const alpn = target.secure ? (socket as TLSSocket).alpnProtocol : false;
      resolve({ socket, reads, alpnProtocol: typeof alpn === 'string' ? alpn : undefined });
    };
    socket.once('error', onError);
    socket.once(ready, onReady);
    signal?.addEventListener('abort', onAbort, { once: true });
    timer = clock.schedule(
      () => fail(new ConnectTimeoutError(options.budget ?? options.timeout)),
      options.timeout,
    );
  });
}

/** Starts connecting; the socket is not ready yet. */
function open(target: DialTarget, options: DialOptions): { socket: Socket; reads?: SharedReads } {
  const { over } = options;
  const { socketPath } = target;
  const shared = options.sharedReads !== false;
  if (!target.secure) {
    const connectOptions =
      socketPath === undefined
        ? { ...routing(options), host: target.hostname, port: target.port }
        : { path: socketPath };
    if (shared) return connectSharedReads(connectOptions);
    return { socket: netConnect(connectOptions) };
  }
  const tlsOptions: ConnectionOptions = {
    ...options.tls,
    ...routing(options),
    host: target.hostname,
    port: target.port,
    ...(over === undefined ? {} : { socket: over }),
    ...(over === undefined && socketPath !== undefined ? { path: socketPath } : {}),
    servername: target.servername ?? options.tls?.servername ?? serverName(target.hostname),
  };
  if (options.session !== undefined) tlsOptions.session = options.session;
  if (options.ALPNProtocols !== undefined) tlsOptions.ALPNProtocols = [...options.ALPNProtocols];
  // A TLS socket of its own reads into the shared buffer too; one over another socket cannot.
  const opened =
    over === undefined && shared
      ? connectTlsSharedReads(tlsOptions)
      : { socket: tlsConnect(tlsOptions) };
  if (options.onSession !== undefined) opened.socket.on('session', options.onSession);
  return opened;
}

/**
 * `pending`, or a ConnectTimeoutError after `options.timeout` (naming the budget), or the
 * signal's reason: a step of opening a connection that has no timeout of its own.
 */
export function withinTimeout<T>(
  pending: Promise<T>,
  options: Pick<DialOptions, 'timeout' | 'budget' | 'signal'>,
  clock: Clock,
): Promise<T> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const done = () => {
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      done();
      reject(abortReason(signal!));
    };
    const timer = clock.schedule(() => {
      done();
      reject(new ConnectTimeoutError(options.budget ?? options.timeout));
    }, options.timeout);
    signal?.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}
