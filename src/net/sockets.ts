import { connect, type NetConnectOpts, type OnReadOpts, type Socket } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';

/** Bytes per read, Node's own default. */
const READ_SIZE = 64 * 1024;

/** Where a socket's reads go: the bytes are valid only until it returns. */
export type Receiver = (bytes: Buffer) => void;

/** The one buffer every such socket reads into; made on first use. */
let shared: Buffer | undefined;

/**
 * The reads of one socket opened by {@link connectSharedReads}: they go to whoever
 * {@link deliverTo}s first, and until then are kept as copies (a server may speak first).
 */
export class SharedReads {
  #receiver: Receiver | undefined;
  #early: Buffer[] = [];

  /** @internal Called by the socket's `onread` for each read. */
  receive(bytes: Buffer): void {
    if (this.#receiver !== undefined) this.#receiver(bytes);
    else this.#early.push(Buffer.from(bytes));
  }

  /**
   * Sends every read to `receive`, those that arrived so far first. Once only: a socket has
   * one reader. The bytes are valid only until `receive` returns.
   */
  deliverTo(receive: Receiver): void {
    if (this.#receiver !== undefined) throw new Error('internal: shared reads taken twice');
    this.#receiver = receive;
    const early = this.#early;
    this.#early = [];
    for (const bytes of early) receive(bytes);
  }
}

/** A socket whose reads land in the shared buffer, and where they go. */
export interface SharedReadSocket<S extends Socket = Socket> {
  socket: S;
  reads: SharedReads;
}

/**
 * Opens a TCP (or Unix domain socket) connection whose reads all land in one shared buffer, for
 * an HTTP/1 connection to parse in place. Node otherwise allocates 64 KiB per read and shrinks
 * it to fit; at tens of thousands of responses a second that allocation, and the C allocator
 * handing memory back to the OS and faulting it in again, costs more than the parsing does.
 */
export function connectSharedReads(options: NetConnectOpts): SharedReadSocket {
  return withSharedReads((onread) => connect({ ...options, onread }));
}

/**
 * {@link connectSharedReads} for TLS: the decrypted bytes land in the shared buffer. Only for
 * a TLS socket of its own (not one layered on an existing socket, which Node does not allow).
 */
export function connectTlsSharedReads(options: ConnectionOptions): SharedReadSocket<TLSSocket> {
  // Node documents `onread` for tls.connect() too; its type definitions leave it out.
  return withSharedReads((onread) => tlsConnect({ ...options, onread } as ConnectionOptions));
}

function withSharedReads<S extends Socket>(open: (onread: OnReadOpts) => S): SharedReadSocket<S> {
  shared ??= Buffer.allocUnsafe(READ_SIZE);
  const reads = new SharedReads();
  const callback = (length: number, buffer: Uint8Array): boolean => {
    reads.receive((buffer as Buffer).subarray(0, length));
    return true;
  };
  return { socket: open({ buffer: shared, callback }), reads };
}
