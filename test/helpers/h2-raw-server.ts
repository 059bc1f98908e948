/**
 * A raw-frame HTTP/2 server over `node:net` (or `node:tls` with ALPN `h2`) that writes frames
 * by hand, for what node:http2's server refuses to do: GOAWAY(0) with streams in flight, a
 * double GOAWAY, CONTINUATION floods, oversized header blocks, SETTINGS/PING/RST floods, a
 * window stuck at zero, PUSH_PROMISE after `enablePush: 0`, connection-specific response
 * headers, MCS=0 forever, and bytes that break framing.
 *
 * Each connection is scripted by the test: `onConnection(conn)` gets an
 * {@link H2RawConnection} that writes frames and reads the client's. The reader only splits
 * frames and notes the stream ids the client opens; it does not decode HPACK (request headers
 * are Huffman-coded and indexed), so a script tells requests apart by stream id. Header blocks
 * the server sends are HPACK literals without indexing and without Huffman coding.
 */
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server,
  type Socket,
} from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { TestCertificates } from './tls.js';

/** Frame types (RFC 9113 §6). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags (RFC 9113 §6); ACK and END_STREAM share a bit on different frame types. */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** Error codes (RFC 9113 §7). */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** SETTINGS parameters by name (RFC 9113 §6.5.2). */
export interface RawSettings {
  headerTableSize?: number;
  enablePush?: number;
  maxConcurrentStreams?: number;
  initialWindowSize?: number;
  maxFrameSize?: number;
  maxHeaderListSize?: number;
}

const SETTING_IDS: Record<keyof RawSettings, number> = {
  headerTableSize: 0x1,
  enablePush: 0x2,
  maxConcurrentStreams: 0x3,
  initialWindowSize: 0x4,
  maxFrameSize: 0x5,
  maxHeaderListSize: 0x6,
};

/** The 24 bytes every client connection starts with (RFC 9113 §3.4). */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** The largest stream id, the first id of a graceful double GOAWAY (RFC 9113 §6.8). */
export const MAX_STREAM_ID = 2 ** 31 - 1;

/** One frame from the client. */
export interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A header field list: name (lowercase) and value, in order; repeats allowed. */
export type RawFields = ReadonlyArray<readonly [string, string]>;

/** Encodes one frame: 9-byte header (length, type, flags, stream id) and payload. */
export function encodeFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1); `high` holds the bits above it. */
function hpackInteger(value: number, prefixBits: number, high = 0): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [high | value];
  const out = [high | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/**
 * Encodes `fields` as an HPACK block of literals without indexing, new names, no Huffman
 * (RFC 7541 §6.2.2): valid for any decoder, and it leaves the dynamic table empty.
 */
export function encodeHeaderBlock(fields: RawFields): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x00, ...hpackInteger(n.length, 7)]), n);
    parts.push(Buffer.from(hpackInteger(v.length, 7)), v);
  }
  return Buffer.concat(parts);
}

/** Splits complete frames off `buffer`; returns them and the bytes left over. */
export function parseFrames(buffer: Buffer): { frames: RawFrame[]; rest: Buffer } {
  const frames: RawFrame[] = [];
  let offset = 0;
  while (buffer.length - offset >= 9) {
    const length = buffer.readUIntBE(offset, 3);
    if (buffer.length - offset < 9 + length) break;
    frames.push({
      type: buffer[offset + 3]!,
      flags: buffer[offset + 4]!,
      streamId: buffer.readUInt32BE(offset + 5) & 0x7fffffff,
      payload: buffer.subarray(offset + 9, offset + 9 + length),
    });
    offset += 9 + length;
  }
  return { frames, rest: buffer.subarray(offset) };
}

/** Decodes a SETTINGS payload into id → value pairs, in order. */
export function decodeSettings(payload: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i + 6 <= payload.length; i += 6) {
    out.push([payload.readUInt16BE(i), payload.readUInt32BE(i + 2)]);
  }
  return out;
}

/** Options of {@link startH2RawServer}. */
export interface H2RawServerOptions {
  /** Serve TLS with ALPN `h2` using these certificates; cleartext h2c without. */
  tls?: TestCertificates;
  /**
   * The SETTINGS frame sent as soon as a connection opens (the server preface), or `false`
   * to send nothing and leave the first bytes to the script. Default `{}` (empty SETTINGS).
   */
  settings?: RawSettings | false;
  /** ACK each SETTINGS frame the client sends. Default true. */
  autoAckSettings?: boolean;
  /** Answer each PING with a PING ACK. Default true; false makes a server that never pongs. */
  autoPong?: boolean;
  /** Scripts one connection. Called once it opened, after the server preface was written. */
  onConnection(conn: H2RawConnection): void | Promise<void>;
}

/** A running raw server. */
export interface H2RawServer {
  readonly port: number;
  /** `http://127.0.0.1:PORT` or, with `tls`, `https://127.0.0.1:PORT`. */
  readonly origin: string;
  /** Every connection accepted, in order. */
  readonly connections: H2RawConnection[];
  /** Errors thrown (or rejected) by `onConnection` scripts. */
  readonly scriptErrors: unknown[];
  close(): Promise<void>;
}

/** One client connection, seen and written frame by frame. */
export class H2RawConnection {
  /** Every frame the client sent after its preface, in order. */
  readonly frames: RawFrame[] = [];
  /** The ids of the streams the client opened (its HEADERS frames), in order. */
  readonly streams: number[] = [];
  /** False until the client's 24-byte preface arrived; set to null if it was wrong. */
  prefaceOk: boolean | null = false;
  /** Resolves when the socket closed. */
  readonly closed: Promise<void>;
  private buffered: Buffer = Buffer.alloc(0);
  private cursor = 0;
  private readonly waiters = new Set<() => void>();

  constructor(
    /** The socket (a TLSSocket under `tls`). */
    readonly socket: Socket,
    private readonly options: { autoAckSettings: boolean; autoPong: boolean },
  ) {
    // Not events.once: it rejects on the 'error' (a client's reset) that comes before the close.
    this.closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.wake());
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    if (this.prefaceOk === null) return;
    if (this.prefaceOk === false) {
      if (this.buffered.length < CLIENT_PREFACE.length) return;
      if (!this.buffered.subarray(0, CLIENT_PREFACE.length).equals(CLIENT_PREFACE)) {
        this.prefaceOk = null;
        this.wake();
        return;
      }
      this.prefaceOk = true;
      this.buffered = this.buffered.subarray(CLIENT_PREFACE.length);
    }
    const { frames, rest } = parseFrames(this.buffered);
    this.buffered = rest;
    for (const frame of frames) {
      this.frames.push(frame);
      if (frame.type === FrameType.HEADERS && !this.streams.includes(frame.streamId)) {
        this.streams.push(frame.streamId);
      }
      if (frame.type === FrameType.SETTINGS && !(frame.flags & Flag.ACK)) {
        if (this.options.autoAckSettings) this.settingsAck();
      }
      if (frame.type === FrameType.PING && !(frame.flags & Flag.ACK) && this.options.autoPong) {
        this.ping(frame.payload, true);
      }
    }
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves once `condition()` holds; rejects after `timeoutMs` or when the socket closed. */
  private until<T>(condition: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = condition();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (this.socket.destroyed) {
          done();
          reject(new Error(`connection closed while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /**
   * The next client frame, after the one the previous call returned, that `match` accepts
   * (any frame without `match`); rejects after `timeoutMs`.
   */
  nextFrame(match: (frame: RawFrame) => boolean = () => true, timeoutMs = 2000): Promise<RawFrame> {
    return this.until(
      () => {
        for (let i = this.cursor; i < this.frames.length; i++) {
          if (match(this.frames[i]!)) {
            this.cursor = i + 1;
            return this.frames[i]!;
          }
        }
        return undefined;
      },
      timeoutMs,
      'a frame',
    );
  }

  /** Resolves with the first `n` stream ids once the client opened that many streams. */
  waitForStreams(n: number, timeoutMs = 2000): Promise<number[]> {
    return this.until(
      () => (this.streams.length >= n ? this.streams.slice(0, n) : undefined),
      timeoutMs,
      `${n} client streams`,
    );
  }

  /** Resolves once the client's preface arrived; rejects if it was wrong. */
  async preface(timeoutMs = 2000): Promise<void> {
    const ok = await this.until(
      () => (this.prefaceOk === false ? undefined : this.prefaceOk),
      timeoutMs,
      'the client preface',
    );
    if (!ok) throw new Error('the client preface was wrong');
  }

  /** Writes raw bytes (garbage, a bad preface, a hand-made frame). */
  write(bytes: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Writes one frame. */
  frame(type: number, flags: number, streamId: number, payload?: Buffer): void {
    this.write(encodeFrame(type, flags, streamId, payload));
  }

  /** SETTINGS with the given parameters, by name or as raw id/value pairs. */
  settings(settings: RawSettings | ReadonlyArray<readonly [number, number]> = {}): void {
    const pairs = Array.isArray(settings)
      ? (settings as ReadonlyArray<readonly [number, number]>)
      : Object.entries(settings as RawSettings).map(
          ([name, value]) => [SETTING_IDS[name as keyof RawSettings], value as number] as const,
        );
    const payload = Buffer.alloc(6 * pairs.length);
    pairs.forEach(([id, value], i) => {
      payload.writeUInt16BE(id, 6 * i);
      payload.writeUInt32BE(value, 6 * i + 2);
    });
    this.frame(FrameType.SETTINGS, 0, 0, payload);
  }

  /** An empty SETTINGS frame with ACK. */
  settingsAck(): void {
    this.frame(FrameType.SETTINGS, Flag.ACK, 0);
  }

  /**
   * A header block on `streamId`: one HEADERS frame, then CONTINUATION frames when the block
   * is longer than `maxFrameSize` (default 16384, the smallest a client may allow).
   */
  headers(
    streamId: number,
    fields: RawFields,
    options: { endStream?: boolean; maxFrameSize?: number } = {},
  ): void {
    this.headerBlock(FrameType.HEADERS, streamId, encodeHeaderBlock(fields), options);
  }

  private headerBlock(
    type: number,
    streamId: number,
    block: Buffer,
    options: { endStream?: boolean; maxFrameSize?: number; prefix?: Buffer },
  ): void {
    const size = options.maxFrameSize ?? 16384;
    const prefix = options.prefix ?? Buffer.alloc(0);
    const first = block.subarray(0, size - prefix.length);
    let rest = block.subarray(first.length);
    const endStream = options.endStream ? Flag.END_STREAM : 0;
    const frames = [
      encodeFrame(
        type,
        endStream | (rest.length === 0 ? Flag.END_HEADERS : 0),
        streamId,
        Buffer.concat([prefix, first]),
      ),
    ];
    while (rest.length > 0) {
      const piece = rest.subarray(0, size);
      rest = rest.subarray(piece.length);
      frames.push(
        encodeFrame(
          FrameType.CONTINUATION,
          rest.length === 0 ? Flag.END_HEADERS : 0,
          streamId,
          piece,
        ),
      );
    }
    this.write(Buffer.concat(frames));
  }

  /** A CONTINUATION frame carrying `block` (raw HPACK bytes). */
  continuation(streamId: number, block: Buffer, endHeaders: boolean): void {
    this.frame(FrameType.CONTINUATION, endHeaders ? Flag.END_HEADERS : 0, streamId, block);
  }

  /**
   * A CONTINUATION flood: HEADERS with `:status 200` and no END_HEADERS, then `count`
   * CONTINUATION frames of one `x-flood-N: v` field each, never ending the block.
   */
  continuationFlood(streamId: number, count: number): void {
    const frames = [
      encodeFrame(FrameType.HEADERS, 0, streamId, encodeHeaderBlock([[':status', '200']])),
    ];
    for (let i = 0; i < count; i++) {
      frames.push(
        encodeFrame(
          FrameType.CONTINUATION,
          0,
          streamId,
          encodeHeaderBlock([[`x-flood-${i}`, 'v']]),
        ),
      );
    }
    this.write(Buffer.concat(frames));
  }

  /** DATA on `streamId`, split into frames of at most 16384 bytes; ignores flow control. */
  data(streamId: number, bytes: Buffer | string, endStream = false): void {
    const body = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    const frames: Buffer[] = [];
    let offset = 0;
    do {
      const piece = body.subarray(offset, offset + 16384);
      offset += piece.length;
      const last = offset >= body.length;
      frames.push(
        encodeFrame(FrameType.DATA, last && endStream ? Flag.END_STREAM : 0, streamId, piece),
      );
    } while (offset < body.length);
    this.write(Buffer.concat(frames));
  }

  /** A whole response: HEADERS (`:status` first, then `fields`) and DATA with END_STREAM. */
  respond(
    streamId: number,
    status: number,
    body: Buffer | string = '',
    fields: RawFields = [],
  ): void {
    const all: RawFields = [[':status', String(status)], ...fields];
    if (body.length === 0) {
      this.headers(streamId, all, { endStream: true });
      return;
    }
    this.headers(streamId, all);
    this.data(streamId, body, true);
  }

  /** GOAWAY with `lastStreamId` (0 allowed), `code` and optional debug data. */
  goaway(lastStreamId: number, code: number = ErrorCode.NO_ERROR, debug = ''): void {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(lastStreamId & 0x7fffffff, 0);
    payload.writeUInt32BE(code, 4);
    this.frame(FrameType.GOAWAY, 0, 0, Buffer.concat([payload, Buffer.from(debug)]));
  }

  /** RST_STREAM on `streamId` with `code`. */
  rst(streamId: number, code: number): void {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(code, 0);
    this.frame(FrameType.RST_STREAM, 0, streamId, payload);
  }

  /** PING with 8 bytes of opaque data (zeros by default), or its ACK. */
  ping(opaque: Buffer = Buffer.alloc(8), ack = false): void {
    this.frame(
      FrameType.PING,
      ack ? Flag.ACK : 0,
      0,
      Buffer.concat([opaque, Buffer.alloc(8)]).subarray(0, 8),
    );
  }

  /** PUSH_PROMISE on `streamId` promising `promisedId` with the given request fields. */
  pushPromise(streamId: number, promisedId: number, fields: RawFields): void {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(promisedId & 0x7fffffff, 0);
    this.headerBlock(FrameType.PUSH_PROMISE, streamId, encodeHeaderBlock(fields), { prefix });
  }

  /** WINDOW_UPDATE on `streamId` (0: the connection) by `increment`. */
  windowUpdate(streamId: number, increment: number): void {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(increment & 0x7fffffff, 0);
    this.frame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
  }

  /**
   * `count` frames of one kind in a single write: empty SETTINGS, PINGs, or RST_STREAM
   * (CANCEL) on `streamId` (default 1).
   */
  flood(kind: 'settings' | 'ping' | 'rst', count: number, streamId = 1): void {
    const one =
      kind === 'settings'
        ? encodeFrame(FrameType.SETTINGS, 0, 0)
        : kind === 'ping'
          ? encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8))
          : encodeFrame(
              FrameType.RST_STREAM,
              0,
              streamId,
              Buffer.from([0, 0, 0, ErrorCode.CANCEL]),
            );
    this.write(Buffer.concat(Array.from({ length: count }, () => one)));
  }

  /** Ends the socket (FIN) once written. */
  end(): void {
    this.socket.end();
  }

  /** Destroys the socket at once. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** Starts a raw server on 127.0.0.1 and a free port. */
export async function startH2RawServer(options: H2RawServerOptions): Promise<H2RawServer> {
  const connections: H2RawConnection[] = [];
  const scriptErrors: unknown[] = [];
  const sockets = new Set<Socket>();
  const start = (socket: Socket) => {
    const conn = new H2RawConnection(socket, {
      autoAckSettings: options.autoAckSettings ?? true,
      autoPong: options.autoPong ?? true,
    });
    connections.push(conn);
    if (options.settings !== false) conn.settings(options.settings ?? {});
    Promise.resolve()
      .then(() => options.onConnection(conn))
      .catch((error: unknown) => scriptErrors.push(error));
  };
  let server: Server;
  if (options.tls !== undefined) {
    server = createTlsServer(
      { key: options.tls.key, cert: options.tls.cert, ALPNProtocols: ['h2'] },
      (socket: TLSSocket) => start(socket),
    );
    server.on('tlsClientError', () => {});
  } else {
    server = createNetServer(start);
  }
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    connections,
    scriptErrors,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
