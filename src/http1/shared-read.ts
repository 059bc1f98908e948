import { connect, type NetConnectOpts, type OnReadOpts, type Socket } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';

/** Bytes per read, Node's own default. */
const READ_SIZE = 64 * 1024;

/** Where a socket's reads go: the bytes are valid only until it returns. */
type Receiver = (bytes: Buffer) => void;

/** One socket's reads: its receiver, or (until there is one) copies of what arrived. */
interface Route {
  receiver: Receiver | undefined;
  early: Buffer[];
}

/** Sockets opened by {@link connectSharedReads}. */
const routes = new WeakMap<Socket, Route>();

/** The one buffer every such socket reads into; made on first use. */
let shared: Buffer | undefined;

/**
 * Opens a TCP (or Unix domain socket) connection whose reads all land in one shared buffer, for an
 * {@link Http1Connection} to parse in place. Node otherwise allocates 64 KiB per read and
 * shrinks it to fit; at tens of thousands of responses a second that allocation, and the
 * C allocator handing memory back to the OS and faulting it in again, costs more than the
 * parsing does.
 */
export function connectSharedReads(options: NetConnectOpts): Socket {
  return withSharedReads((onread) => connect({ ...options, onread }));
}

/**
 * {@link connectSharedReads} for TLS: the decrypted bytes land in the shared buffer. Only for
 * a TLS socket of its own (not one layered on an existing socket, which Node does not allow).
 */
export function connectTlsSharedReads(options: ConnectionOptions): TLSSocket {
  // Node documents `onread` for tls.connect() too; its type definitions leave it out.
  return withSharedReads((onread) => tlsConnect({ ...options, onread } as ConnectionOptions));
}

function withSharedReads<S extends Socket>(open: (onread: OnReadOpts) => S): S {
  shared ??= Buffer.allocUnsafe(READ_SIZE);
  const route: Route = { receiver: undefined, early: [] };
  const callback = (length: number, buffer: Uint8Array): boolean => {
    const bytes = (buffer as Buffer).subarray(0, length);
    // Bytes that arrive before anyone receives them (a server speaking first) are kept.
    if (route.receiver !== undefined) route.receiver(bytes);
    else route.early.push(Buffer.from(bytes));
    return true;
  };
  const socket = open({ buffer: shared, callback });
  routes.set(socket, route);
  return socket;
}

/**
 * Routes the reads of a socket opened by {@link connectSharedReads} to `receive`, after the
 * bytes read so far. Returns false for any other socket: its reads arrive as `data` events.
 */
export function takeOverSharedReads(socket: Socket, receive: Receiver): boolean {
  const route = routes.get(socket);
  if (route === undefined || route.receiver !== undefined) return false;
  route.receiver = receive;
  const early = route.early;
  route.early = [];
  for (const bytes of early) receive(bytes);
  return true;
}
