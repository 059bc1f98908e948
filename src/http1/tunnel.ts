/**
 * A CONNECT tunnel through an HTTP proxy (RFC 9110 §9.3.6), spoken with the same HTTP/1 codec
 * as every other exchange: the request is built by {@link serializeRequestHead} (authority-form)
 * and the answer read by {@link ResponseParser}, which knows that a 2xx answer to CONNECT ends
 * at its head. Opening the socket to the proxy, and TLS over the tunnel, are the caller's.
 */
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import { type Clock, systemClock, type Timer } from '../clock.js';
import {
  abortReason,
  ConnectTimeoutError,
  InvalidArgumentError,
  ProxyError,
  ResponseError,
  SocketError,
} from '../errors.js';
import { type ResponseHead, ResponseParser } from './parser.js';
import { isTokenString, serializeRequestHead } from './serializer.js';

/** What a CONNECT asks the proxy for. */
export interface ConnectRequest {
  /** The target's host name or IP address (IPv6 without brackets). */
  readonly hostname: string;
  /** The target's port, 1 to 65535. */
  readonly port: number;
  /** The `Proxy-Authorization` value (`Basic ...`), for the proxy alone. */
  readonly authorization?: string | undefined;
  /** Extra header fields (a `User-Agent`, say); not Host, Proxy-Authorization or framing. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** How {@link establishTunnel} runs the exchange. */
export interface TunnelExchangeOptions {
  /** Names the proxy in error messages: `proxy http://127.0.0.1:3128`. */
  readonly proxy: string;
  /** ms the exchange may take; `Infinity` waits for as long as the proxy keeps the socket. */
  readonly timeout: number;
  /** The bound a ConnectTimeoutError names, when the tunnel is one step of a longer attempt. */
  readonly budget?: number | undefined;
  /** Runs the timeout; the system clock by default. */
  readonly clock?: Clock | undefined;
  /** Aborts the exchange. */
  readonly signal?: AbortSignal | undefined;
}

/** Header names the tunnel writes itself; a caller supplying them would duplicate them. */
const RESERVED = new Set(['host', 'proxy-authorization', 'content-length', 'transfer-encoding']);

/** The proxy's answer head, status line to blank line, may take this many bytes. */
const LIMITS = { maxHeaderSize: 16 * 1024 };

/**
 * The CONNECT request head for `request`: `CONNECT host:port HTTP/1.1`, `Host: host:port`,
 * then Proxy-Authorization and the extra headers. Checks everything first, so a caller can
 * refuse a bad target before it opens a socket.
 *
 * @throws InvalidArgumentError for a bad host, port or header; the message never repeats a
 * header value, which may be a secret.
 */
export function serializeConnect(request: ConnectRequest): string {
  const { hostname, port, headers } = request;
  if (
    typeof hostname !== 'string' ||
    hostname === '' ||
    !/^[A-Za-z0-9._~%!$&'()*+,;=:-]+$/.test(hostname)
  ) {
    throw new InvalidArgumentError('tunnel target host is not a valid host name or address');
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError('tunnel target port must be an integer from 1 to 65535');
  }
  const fields: [string, string][] = [];
  if (request.authorization !== undefined) {
    fields.push(['proxy-authorization', request.authorization]);
  }
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!isTokenString(name)) {
      throw new InvalidArgumentError('CONNECT header name is not a valid token');
    }
    if (RESERVED.has(name.toLowerCase())) {
      throw new InvalidArgumentError(`CONNECT header "${name}" is set by httpool itself`);
    }
    if (typeof value !== 'string') {
      throw new InvalidArgumentError(`CONNECT header "${name}" has an invalid value`);
    }
    fields.push([name, value]);
  }
  // authority-form (RFC 9112 §3.2.3): an IPv6 literal needs its brackets back.
  const authority = `${isIP(hostname) === 6 ? `[${hostname}]` : hostname}:${port}`;
  return serializeRequestHead({
    method: 'CONNECT',
    path: authority,
    host: authority,
    headers: fields,
    framing: { kind: 'none' },
    tunnel: true,
  }).head;
}

/**
 * Asks the proxy on `socket` (connected, and not reading into the shared buffer) for a tunnel
 * to `request`'s target, and resolves with the same socket once the proxy answered 2xx: the
 * bytes that follow are the target's, ready for a TLS handshake on top or anything else.
 *
 * Interim 1xx answers are skipped; the answer head is capped at 16 KiB. Bytes the proxy sent
 * after its head already belong to the tunnel and are put back on the socket (`unshift`), so
 * the next reader (a TLS socket over it, a `data` listener) sees them first. The resolved
 * socket has no listeners of ours left and is neither paused nor flowing.
 *
 * Rejects with ProxyError (a non-2xx answer; `statusCode` says which), ResponseError (a
 * malformed answer, the parser's error as its cause), ResponseLimitError (an oversized head),
 * SocketError (the socket failed, or the proxy closed it before answering), ConnectTimeoutError
 * (after `timeout` ms on `clock`), the signal's reason, or InvalidArgumentError (a bad
 * request). The socket is destroyed on every failure.
 */
export function establishTunnel(
  socket: Socket,
  request: ConnectRequest,
  options: TunnelExchangeOptions,
): Promise<Socket> {
  const { signal, proxy } = options;
  let head: string;
  try {
    if (signal?.aborted) throw abortReason(signal);
    head = serializeConnect(request);
  } catch (error) {
    socket.destroy();
    return Promise.reject(error);
  }
  const clock = options.clock ?? systemClock;
  return new Promise<Socket>((resolve, reject) => {
    let answer: ResponseHead | undefined;
    const parser = new ResponseParser(
      {
        onHead: (received) => {
          answer = received;
        },
        // A refusal's body is of no interest: the socket is closed once its head arrived.
        onData: () => {},
        onComplete: () => {},
      },
      LIMITS,
    );
    parser.expect('CONNECT');
    let timer: Timer | undefined;
    const cleanup = () => {
      timer?.cancel();
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    const fail = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onError = (error: Error) =>
      fail(new SocketError(`tunnel through ${proxy} failed: ${error.message}`, { cause: error }));
    const onAbort = () => fail(abortReason(signal!));
    const onEnd = () =>
      fail(new SocketError(`${proxy} closed the connection before answering CONNECT`));
    const onReadable = () => {
      for (;;) {
        const chunk = socket.read() as Buffer | null;
        if (chunk === null) return;
        let used: number;
        try {
          used = parser.execute(chunk);
        } catch (error) {
          // After a refusal's head, a broken body changes nothing: the refusal is the answer.
          if (answer === undefined) {
            fail(
              error instanceof ResponseError
                ? new ResponseError(
                    `${proxy} sent a malformed answer to CONNECT (${error.reason})`,
                    { cause: error },
                  )
                : (error as Error),
            );
            return;
          }
          used = chunk.length;
        }
        if (answer === undefined) continue;
        const { status, statusText } = answer;
        if (status >= 200 && status < 300) {
          cleanup();
          // Tunnel bytes that came with the head go back first in line, ahead of the rest.
          if (used < chunk.length) socket.unshift(chunk.subarray(used));
          resolve(socket);
          return;
        }
        const text = statusText === '' ? '' : ` ${statusText}`;
        fail(
          new ProxyError(
            `${proxy} refused CONNECT to ${request.hostname}:${request.port}: ${status}${text}`,
            status,
          ),
        );
        return;
      }
    };
    if (socket.destroyed || socket.readableEnded) {
      fail(new SocketError(`${proxy} closed the connection before answering CONNECT`));
      return;
    }
    socket.once('error', onError);
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    signal?.addEventListener('abort', onAbort, { once: true });
    timer = clock.schedule(
      () => fail(new ConnectTimeoutError(options.budget ?? options.timeout)),
      options.timeout,
    );
    socket.write(head, 'latin1');
  });
}
