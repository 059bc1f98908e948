/**
 * Loopback servers for integration tests: a `node:http` server, and a raw `node:net` server
 * that sends exactly the bytes a test chooses. Both count connections and track open
 * sockets so a test can see what the pool did from the server's side.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server,
  type Socket,
} from 'node:net';

/** A running test server. */
export interface TestServer {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  readonly port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Connections open right now. */
  readonly open: Set<Socket>;
  /** Requests seen (http server) or request heads seen (raw server). */
  requests: number;
  /** Resolves when a socket closes; tests use it to wait for the pool's close. */
  nextClose(): Promise<void>;
  close(): Promise<void>;
}

function track(
  server: { on(event: 'connection', fn: (socket: Socket) => void): unknown },
  state: TestServer,
) {
  const waiters: Array<() => void> = [];
  server.on('connection', (socket: Socket) => {
    state.connections++;
    state.open.add(socket);
    socket.on('close', () => {
      state.open.delete(socket);
      for (const resolve of waiters.splice(0)) resolve();
    });
  });
  return (): Promise<void> => new Promise((resolve) => waiters.push(resolve));
}

/** A `node:http` server calling `handler` for each request. */
export async function startHttpServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  configure?: (server: ReturnType<typeof createHttpServer>) => void,
): Promise<TestServer> {
  const server = createHttpServer((req, res) => {
    state.requests++;
    handler(req, res);
  });
  configure?.(server);
  const state = newState(() => server.closeAllConnections());
  return listen(server, state);
}

/** A fresh TestServer record; `dropConnections` ends what is open when the test closes it. */
function newState(dropConnections: () => void): TestServer & { server?: Server } {
  const state: TestServer & { server?: Server } = {
    origin: '',
    port: 0,
    connections: 0,
    open: new Set<Socket>(),
    requests: 0,
    nextClose: () => Promise.resolve(),
    close: async () => {
      dropConnections();
      const { server } = state;
      if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return state;
}

/** Starts counting connections, listens on a free loopback port and fills in the address. */
async function listen(
  server: Server,
  state: TestServer & { server?: Server },
): Promise<TestServer> {
  state.server = server;
  state.nextClose = track(server, state);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  Object.assign(state, { origin: `http://127.0.0.1:${port}`, port });
  return state;
}

/**
 * A raw server: `onRequest(socket, head, index)` is called for each request head that
 * arrives (text up to the blank line; bodies with Content-Length are skipped), and writes
 * whatever bytes the test wants. `index` counts requests across all connections.
 */
export async function startRawServer(
  onRequest: (socket: Socket, head: string, index: number, body: Buffer) => void,
): Promise<TestServer> {
  const state = newState(() => {
    for (const socket of state.open) socket.destroy();
  });
  const server = createNetServer((socket) => {
    socket.on('error', () => {});
    onRequests(socket, (head, body) => onRequest(socket, head, state.requests++, body));
  });
  return listen(server, state);
}

/**
 * Calls `onRequest` with each request that arrives on `socket`: its head (text up to the
 * blank line) and its body when it has a Content-Length. Enough HTTP for test servers.
 */
export function onRequests(socket: Socket, onRequest: (head: string, body: Buffer) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffered.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      const body = buffered.subarray(end + 4, end + 4 + length);
      buffered = buffered.subarray(end + 4 + length);
      onRequest(head, body);
    }
  });
}

/** Resolves after `ms` milliseconds (for waits on real sockets, never for pool timing). */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every few ms until it holds, failing after `timeoutMs`. */
export async function eventually(
  condition: () => boolean,
  timeoutMs = 2000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
