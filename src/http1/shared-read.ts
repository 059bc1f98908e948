import { connect, type Socket, type TcpNetConnectOpts } from 'node:net';

/** Bytes per read, Node's own default. */
const READ_SIZE = 64 * 1024;

/** Where a socket's reads go: the bytes are valid only until it returns. */
type Receiver = (bytes: Buffer) => void;

/** Sockets opened by {@link connectSharedReads}, and who takes their reads once someone does. */
const receivers = new WeakMap<Socket, Receiver | Buffer[]>();

/** The one buffer every such socket reads into; made on first use. */
let shared: Buffer | undefined;

/**
 * Hands a read to the socket's receiver. Reads that arrive before there is one (a server
 * speaking first) are copied out and kept for it.
 */
function onRead(this: Socket, length: number, buffer: Uint8Array): boolean {
  const bytes = (buffer as Buffer).subarray(0, length);
  const receiver = receivers.get(this);
  if (typeof receiver === 'function') receiver(bytes);
  else if (receiver !== undefined) receiver.push(Buffer.from(bytes));
  return true;
}

/**
 * Opens a plain TCP connection whose reads all land in one shared buffer, for an
 * {@link Http1Connection} to parse in place. Node otherwise allocates 64 KiB per read and
 * shrinks it to fit; at tens of thousands of responses a second that allocation, and the
 * C allocator handing memory back to the OS and faulting it in again, costs more than the
 * parsing does. TLS sockets read through their own layer and keep `data` events.
 */
export function connectSharedReads(options: TcpNetConnectOpts): Socket {
  shared ??= Buffer.allocUnsafe(READ_SIZE);
  const socket = connect({ ...options, onread: { buffer: shared, callback: onRead } });
  receivers.set(socket, []);
  return socket;
}

/**
 * Routes the reads of a socket opened by {@link connectSharedReads} to `receive`, after the
 * bytes read so far. Returns false for any other socket: its reads arrive as `data` events.
 */
export function takeOverSharedReads(socket: Socket, receive: Receiver): boolean {
  const early = receivers.get(socket);
  if (early === undefined || typeof early === 'function') return false;
  receivers.set(socket, receive);
  for (const bytes of early) receive(bytes);
  return true;
}
