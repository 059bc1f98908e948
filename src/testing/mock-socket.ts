/**
 * An in-memory connection: two duplex ends, each delivering what the other writes on a later
 * turn of the event loop, as a loopback socket does. The client's end has the `net.Socket`
 * members a connection uses (no-delay, ref/unref, addresses), so the pool speaks HTTP/1.1 over
 * it exactly as over TCP; the server's end can close (FIN) or reset (RST) it.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { ReplyConnection } from './wire.js';

/** One end of the pair. */
class End extends Duplex {
  peer: End | undefined;
  /** Set on the end that was reset: its peer sees ECONNRESET, not a FIN. */
  resetting = false;

  constructor() {
    // As a TCP socket: one side ending means both do.
    super({ allowHalfOpen: false });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error) => void) {
    const peer = this.peer;
    // Handed over on a later turn, as bytes from the kernel are.
    setImmediate(() => {
      if (peer !== undefined && !peer.destroyed && chunk.length > 0) peer.push(chunk);
      callback();
    });
  }

  override _final(callback: (error?: Error) => void): void {
    const peer = this.peer;
    setImmediate(() => {
      if (peer !== undefined && !peer.destroyed) peer.push(null);
      callback();
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    const reset = this.resetting;
    setImmediate(() => {
      if (peer === undefined || peer.destroyed) return;
      if (reset) peer.destroy(connectionReset());
      // Closed without a reset: a FIN, once what was written has arrived.
      else peer.push(null);
    });
    callback(error);
  }
}

function connectionReset(): Error {
  return Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104 });
}

/**
 * The client's end: a Duplex with the `net.Socket` members an HTTP/1.1 connection calls.
 * While ref'd (it is while a request runs) it keeps the event loop alive, as a real socket.
 */
class ClientEnd extends End {
  readonly localPort: number;
  readonly localAddress = '127.0.0.1';
  readonly remoteAddress = '127.0.0.1';
  readonly remoteFamily = 'IPv4';
  readonly remotePort: number;
  readonly connecting = false;
  #keepAlive: NodeJS.Timeout | undefined;

  constructor(localPort: number, remotePort: number) {
    super();
    this.localPort = localPort;
    this.remotePort = remotePort;
    this.ref();
    this.once('close', () => this.unref());
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }

  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: 'IPv4', port: this.localPort };
  }

  ref(): this {
    if (this.#keepAlive === undefined && !this.destroyed) {
      this.#keepAlive = setInterval(() => {}, 2 ** 30);
    }
    return this;
  }

  unref(): this {
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
    return this;
  }

  resetAndDestroy(): this {
    this.resetting = true;
    this.destroy();
    return this;
  }
}

/** A connected pair: the socket the pool gets, and the server's end as a {@link ReplyConnection}. */
export interface MockConnection {
  /** Give this to the pool. */
  readonly client: Socket;
  /** The server's end: read requests from `server.on('data')`, answer through `reply`. */
  readonly server: Duplex;
  /** The server end as a reply is played on it. */
  readonly reply: ReplyConnection;
  /** Fails the client's socket with `error` (its pending request rejects with it). */
  fail(error: Error): void;
}

/** Makes a connected pair; `localPort` is the number the client's end reports. */
export function mockConnection(localPort: number): MockConnection {
  const client = new ClientEnd(localPort, 80);
  const server = new End();
  client.peer = server;
  server.peer = client;
  server.on('error', () => {});
  const reply: ReplyConnection = {
    get destroyed() {
      return server.destroyed || server.writableEnded;
    },
    write: (bytes) => {
      if (!server.destroyed && !server.writableEnded) server.write(bytes);
    },
    end: () => {
      if (!server.destroyed) server.end();
    },
    reset: () => {
      server.resetting = true;
      server.destroy();
    },
    flush: () =>
      new Promise((resolve) => {
        if (server.destroyed || server.writableEnded) resolve();
        else server.write(Buffer.alloc(0), () => resolve());
      }),
  };
  return {
    client: client as unknown as Socket,
    server,
    reply,
    fail: (error) => {
      server.destroy();
      client.destroy(error);
    },
  };
}
