import { isIP, connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { abortReason, ConnectTimeoutError, SocketError } from '../errors.js';
import type { Origin } from './origin.js';

/** How to open one connection. */
export interface ConnectOptions {
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
}

/**
 * Opens a TCP or TLS connection to `origin` and resolves once it is ready for bytes
 * (after the TLS handshake and certificate check). On timeout, abort or error the socket is
 * destroyed and the promise rejects with a typed error.
 */
export function openSocket(origin: Origin, options: ConnectOptions): Promise<Socket> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<Socket>((resolve, reject) => {
    let socket: Socket;
    const secure = origin.protocol === 'https:';
    if (secure) {
      const tlsOptions: ConnectionOptions = {
        ...options.tls,
        host: origin.hostname,
        port: origin.port,
        // SNI must not carry an IP address (RFC 6066 §3).
        servername: options.tls?.servername ?? (isIP(origin.hostname) !== 0 ? '' : origin.hostname),
      };
      if (options.session !== undefined) tlsOptions.session = options.session;
      socket = tlsConnect(tlsOptions);
      if (options.onSession !== undefined) socket.on('session', options.onSession);
    } else {
      socket = netConnect({ host: origin.hostname, port: origin.port });
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
      reject(error);
    };
    const onError = (error: Error) =>
      fail(
        new SocketError(`connecting to ${origin.origin} failed: ${error.message}`, {
          cause: error,
        }),
      );
    const onAbort = () => fail(abortReason(signal!));
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    socket.once('error', onError);
    socket.once(secure ? 'secureConnect' : 'connect', onConnect);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (Number.isFinite(options.connectTimeout)) {
      timer = setTimeout(
        () => fail(new ConnectTimeoutError(options.connectTimeout)),
        options.connectTimeout,
      );
      timer.unref();
    }
  });
}
