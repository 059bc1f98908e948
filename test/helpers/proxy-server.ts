/**
 * A forward proxy on 127.0.0.1 for tests, built on `node:http`: it forwards absolute-form
 * requests (`GET http://host:port/path`) with `node:http`, and opens CONNECT tunnels with
 * `net.connect`. It records what it saw, so a test can check which requests carried
 * `Proxy-Authorization` and which targets were tunnelled, and it can be told to demand
 * credentials (407) or to refuse every CONNECT with a given status.
 */
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import {
  type AddressInfo,
  createServer as createNetServer,
  connect as netConnect,
  type Socket,
} from 'node:net';

/** One request the proxy received. */
export interface ProxiedRequest {
  method: string;
  /** The request target as sent: absolute-form for forwarded requests, host:port for CONNECT. */
  url: string;
  /** The `Proxy-Authorization` value, if any. */
  proxyAuthorization: string | undefined;
  /** The request's header fields as raw pairs, for checks on what was forwarded. */
  rawHeaders: string[];
}

/** How the test proxy behaves. */
export interface ProxyServerOptions {
  /** When set, requests without exactly this `Proxy-Authorization` value get 407. */
  requireAuthorization?: string;
  /** When set, every CONNECT is answered with this status (e.g. 403) and closed. */
  refuseConnect?: number;
  /** When set, an `https:` proxy: clients reach it over TLS with this key and certificate. */
  tls?: { key: string; cert: string };
}

/** A running test proxy. */
export interface TestProxy {
  /** `http://127.0.0.1:PORT` (`https://localhost:PORT` with `tls`) */
  readonly url: string;
  readonly port: number;
  /** Every request seen, CONNECT included, in order. */
  readonly requests: ProxiedRequest[];
  /** The `host:port` of every CONNECT that was let through. */
  readonly tunnels: string[];
  /** Sockets open right now (client side and upstream). */
  readonly open: Set<Socket>;
  close(): Promise<void>;
}

function record(req: IncomingMessage, requests: ProxiedRequest[]): ProxiedRequest {
  const seen: ProxiedRequest = {
    method: req.method ?? '',
    url: req.url ?? '',
    proxyAuthorization: req.headers['proxy-authorization'],
    rawHeaders: [...req.rawHeaders],
  };
  requests.push(seen);
  return seen;
}

/** Starts a forward proxy on an ephemeral loopback port. */
export async function startProxyServer(options: ProxyServerOptions = {}): Promise<TestProxy> {
  const open = new Set<Socket>();
  const track = (socket: Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
  };
  const state = {
    url: '',
    port: 0,
    requests: [] as ProxiedRequest[],
    tunnels: [] as string[],
    open,
    close: async () => {
      for (const socket of open) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  } satisfies TestProxy as TestProxy;
  const authorized = (req: IncomingMessage) =>
    options.requireAuthorization === undefined ||
    req.headers['proxy-authorization'] === options.requireAuthorization;

  const handle = (req: IncomingMessage, res: import('node:http').ServerResponse) => {
    record(req, state.requests);
    if (!authorized(req)) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"', 'content-length': '0' });
      res.end();
      return;
    }
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400, { 'content-length': '0' }).end();
      return;
    }
    // Hop-by-hop and proxy-only fields stay here, as a real proxy would keep them.
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name === 'proxy-authorization' || name === 'proxy-connection') {
        continue;
      }
      headers[name] = value;
    }
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port === '' ? 80 : Number(target.port),
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers,
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    upstream.on('socket', track);
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-length': '0' });
      res.end();
    });
    req.pipe(upstream);
  };
  const server =
    options.tls === undefined ? createServer(handle) : createHttpsServer(options.tls, handle);
  server.on('connection', track);
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    record(req, state.requests);
    if (!authorized(req)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    if (options.refuseConnect !== undefined) {
      client.end(`HTTP/1.1 ${options.refuseConnect} Refused\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const url = req.url ?? '';
    const colon = url.lastIndexOf(':');
    const host = url.slice(0, colon).replace(/^\[|\]$/g, '');
    const upstream = netConnect({ host, port: Number(url.slice(colon + 1)) });
    track(upstream);
    upstream.once('connect', () => {
      state.tunnels.push(url);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.once('error', () => {
      client.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n');
    });
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = options.tls === undefined ? `http://127.0.0.1:${port}` : `https://localhost:${port}`;
  Object.assign(state, { url, port });
  return state;
}

/** A scripted fake proxy: what it received, and how it answers. */
export interface FakeProxy {
  readonly port: number;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** Each connection's request head, exactly as received (up to and with the blank line). */
  readonly heads: string[];
  /** Each connection's bytes after its head (what went into the tunnel), as Latin-1. */
  readonly after: string[];
  /** Sockets open right now. */
  readonly open: Set<Socket>;
  close(): Promise<void>;
}

/**
 * A raw TCP "proxy" on 127.0.0.1 for exercising the client's side of CONNECT: it reads one
 * request head per connection, records it, and hands the socket to `answer`, which writes
 * whatever bytes the test wants (in as many writes as it likes, or none). No-delay is on, so
 * separate writes leave as separate segments.
 */
export async function startFakeProxy(
  answer: (socket: Socket, head: string, index: number) => void | Promise<void>,
): Promise<FakeProxy> {
  const open = new Set<Socket>();
  const heads: string[] = [];
  const after: string[] = [];
  const server = createNetServer((socket) => {
    open.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    let index = -1;
    socket.on('data', (chunk: Buffer) => {
      if (index >= 0) {
        after[index] += chunk.toString('latin1');
        return;
      }
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      index = heads.length;
      heads.push(buffered.slice(0, end + 4));
      after.push(buffered.slice(end + 4));
      void answer(socket, heads[index]!, index);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    heads,
    after,
    open,
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Writes `parts` one at a time, a few ms apart, so each arrives in a read of its own. */
export async function writeSlowly(
  socket: Socket,
  parts: readonly (string | Buffer)[],
): Promise<void> {
  for (const part of parts) {
    if (socket.destroyed) return;
    socket.write(part);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
