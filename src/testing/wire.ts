/**
 * The server's side of HTTP/1.1 for the test kit, shared by the mock sockets and the fault
 * server: reading requests off a byte stream, and playing a scripted {@link Reply} (with its
 * fault, if any) onto a connection. Deliberately small: it serves a client under test, it is
 * not a general server.
 */
import { InvalidArgumentError } from '../errors.js';

/** One request as the server read it. */
export interface ReceivedRequest {
  readonly method: string;
  /** The request target as sent: `/path?query` (or absolute form through a proxy). */
  readonly path: string;
  /** Header fields in the order sent, names as sent. */
  readonly rawHeaders: ReadonlyArray<readonly [string, string]>;
  /** Header fields by lower-case name; repeated fields joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body, de-chunked. */
  readonly body: Uint8Array;
}

/** Bytes of a head (request line and fields) the reader accepts before it gives up. */
const MAX_HEAD = 64 * 1024;

/**
 * Reads requests off a connection's bytes as they come: `onRequest` for each whole one (head
 * and body, Content-Length or chunked), `onContinue` when a head asks `Expect: 100-continue`,
 * `onError` once for bytes that are not a request (the reader then stops).
 */
export class RequestReader {
  #buffer: Buffer = Buffer.alloc(0);
  #failed = false;
  readonly #onRequest: (request: ReceivedRequest) => void;
  readonly #onContinue: () => void;
  readonly #onError: (error: Error) => void;

  constructor(
    onRequest: (request: ReceivedRequest) => void,
    onContinue: () => void,
    onError: (error: Error) => void,
  ) {
    this.#onRequest = onRequest;
    this.#onContinue = onContinue;
    this.#onError = onError;
  }

  /** Feeds bytes in; calls back for every request they complete. */
  push(chunk: Uint8Array): void {
    if (this.#failed) return;
    this.#buffer =
      this.#buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffer, chunk]);
    try {
      for (;;) {
        const request = this.#next();
        if (request === undefined) return;
        this.#onRequest(request);
      }
    } catch (error) {
      this.#failed = true;
      this.#onError(error as Error);
    }
  }

  /** The head read and answered with 100 Continue, while its body is awaited. */
  #continued = -1;

  #next(): ReceivedRequest | undefined {
    const buffer = this.#buffer;
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buffer.length > MAX_HEAD) throw new Error('request head too large');
      return undefined;
    }
    const lines = buffer.subarray(0, end).toString('latin1').split('\r\n');
    const [method, path, version] = (lines[0] ?? '').split(' ');
    if (method === undefined || path === undefined || version?.startsWith('HTTP/1.') !== true) {
      throw new Error(`not an HTTP/1.1 request line: ${JSON.stringify(lines[0])}`);
    }
    const rawHeaders: Array<[string, string]> = [];
    const headers: Record<string, string> = Object.create(null);
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`not a header field: ${JSON.stringify(line)}`);
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      rawHeaders.push([name, value]);
      const key = name.toLowerCase();
      headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
    }
    const start = end + 4;
    if (this.#continued !== start && /100-continue/i.test(headers['expect'] ?? '')) {
      this.#continued = start;
      this.#onContinue();
    }
    const chunked = /chunked/i.test(headers['transfer-encoding'] ?? '');
    const framed = chunked
      ? dechunk(buffer, start)
      : fixed(buffer, start, Number(headers['content-length'] ?? 0));
    if (framed === undefined) return undefined;
    this.#buffer = buffer.subarray(framed.next);
    this.#continued = -1;
    return { method, path, rawHeaders, headers, body: framed.body };
  }
}

function fixed(
  buffer: Buffer,
  start: number,
  length: number,
): { body: Uint8Array; next: number } | undefined {
  if (!Number.isSafeInteger(length) || length < 0) throw new Error('bad content-length');
  if (buffer.length < start + length) return undefined;
  return {
    body: Uint8Array.prototype.slice.call(buffer, start, start + length),
    next: start + length,
  };
}

/** A chunked body from `start`, when all of it (trailers included) has arrived. */
function dechunk(buffer: Buffer, start: number): { body: Uint8Array; next: number } | undefined {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = buffer.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(buffer.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error('bad chunk size');
    at = lineEnd + 2;
    if (size === 0) {
      // Trailers, if any, end with an empty line.
      if (buffer.length < at + 2) return undefined;
      if (buffer[at] === 0x0d && buffer[at + 1] === 0x0a) {
        return { body: new Uint8Array(Buffer.concat(parts)), next: at + 2 };
      }
      const trailersEnd = buffer.indexOf('\r\n\r\n', at);
      if (trailersEnd < 0) return undefined;
      return { body: new Uint8Array(Buffer.concat(parts)), next: trailersEnd + 4 };
    }
    if (buffer.length < at + size + 2) return undefined;
    parts.push(buffer.subarray(at, at + size));
    at += size + 2;
  }
}

/** A piece of a body: bytes or text (UTF-8), sent `delay` ms after the piece before it. */
export type ReplyChunk =
  | string
  | Uint8Array
  | { readonly data: string | Uint8Array; readonly delay: number };

/**
 * A fault played instead of (or after) an answer:
 * - `'close'`: close the connection (FIN) before any byte of the answer, as a server that
 *   dropped a kept-alive connection just as the request came;
 * - `'reset'`: reset it (RST) before any byte of the answer;
 * - `'stall'`: never answer (the client's `headersTimeout` must end it);
 * - `'stall-body'`: send the head and part of the body, then nothing (`bodyTimeout`);
 * - `'cut-body'`: send the head and part of the body, then close;
 * - `'reset-body'`: send the head and part of the body, then reset;
 * - `'drip'`: send the whole answer a few bytes at a time (`dripBytes`, every `dripDelay` ms);
 * - `'connection-close'`: answer with `Connection: close`, then close;
 * - `'idle-close'`: answer, then close the idle connection `after` ms later;
 * - `'idle-reset'`: answer, then reset the idle connection `after` ms later;
 * - `'stray-bytes'`: answer, then write bytes nobody asked for on the idle connection `after`
 *   ms later (`strayBytes`) and close it. By default they are not HTTP, so a request that
 *   races them fails loudly instead of taking them for its answer (HTTP/1.1 has no request
 *   ids: no client can tell stray bytes from an answer, a `408` a server sends before it
 *   closes included).
 */
export type Fault =
  | 'close'
  | 'reset'
  | 'stall'
  | 'stall-body'
  | 'cut-body'
  | 'reset-body'
  | 'drip'
  | 'connection-close'
  | 'idle-close'
  | 'idle-reset'
  | 'stray-bytes';

/** Every {@link Fault}, for checks and random choices. */
export const FAULTS: readonly Fault[] = [
  'close',
  'reset',
  'stall',
  'stall-body',
  'cut-body',
  'reset-body',
  'drip',
  'connection-close',
  'idle-close',
  'idle-reset',
  'stray-bytes',
];

/** Header fields of a reply: a record (an array value repeats the field) or pairs. */
export type ReplyHeaders =
  | Readonly<Record<string, string | number | readonly string[]>>
  | ReadonlyArray<readonly [string, string]>;

/** What to answer one request with. Every field is optional: `{}` is a `200` with no body. */
export interface Reply {
  /** Default 200. */
  readonly status?: number;
  /** Default a standard phrase for the status (`OK`), or `Unknown`. */
  readonly statusText?: string;
  readonly headers?: ReplyHeaders | undefined;
  /**
   * The body: text (UTF-8), bytes, or pieces sent one after another (each may wait `delay` ms
   * first). A HEAD request, a 204 or a 304 gets none whatever this says.
   */
  readonly body?: string | Uint8Array | readonly ReplyChunk[] | undefined;
  /** A JSON body instead (`content-type: application/json` unless the headers say otherwise). */
  readonly json?: unknown;
  /**
   * How the body is delimited: `'length'` (Content-Length, the default for text and bytes),
   * `'chunked'` (the default for a list of pieces), or `'close'` (neither: the body ends when
   * the connection does, so it is closed after it).
   */
  readonly framing?: 'length' | 'chunked' | 'close';
  /** ms to wait before anything is sent. Default 0. */
  readonly delay?: number;
  /** Answer with `Connection: close`, then close the connection. */
  readonly connectionClose?: boolean;
  /** A fault to play; see {@link Fault}. */
  readonly fault?: Fault | undefined;
  /** For the `*-body` faults: body bytes sent (as framed) before the cut. Default half. */
  readonly cutAt?: number;
  /** For the `idle-*` and `stray-bytes` faults: ms after the answer. Default 0. */
  readonly after?: number;
  /** For `'stray-bytes'`: what is written. */
  readonly strayBytes?: string | Uint8Array;
  /** For `'drip'`: bytes per write (default 1) and ms between writes (default 0). */
  readonly dripBytes?: number;
  readonly dripDelay?: number;
  /**
   * Bytes written as they are instead of a serialized answer (pieces may wait first); the
   * `idle-*` and `stray-bytes` faults still follow them.
   */
  readonly raw?: readonly ReplyChunk[] | undefined;
}

/** The connection a reply is played on: a socket, or the server end of a mock one. */
export interface ReplyConnection {
  readonly destroyed: boolean;
  write(bytes: Uint8Array): void;
  /** Closes after what was written (FIN). */
  end(): void;
  /** Resets (RST), dropping what was not sent. */
  reset(): void;
  /** Resolves once what was written so far has been handed over. */
  flush(): Promise<void>;
}

/** How a played reply left its connection. */
export type ReplyOutcome = 'open' | 'closed' | 'stalled' | 'poisoned';

const PHRASES: Record<number, string> = {
  100: 'Continue',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Not HTTP: a request racing them fails loudly (see the `'stray-bytes'` fault). */
const DEFAULT_STRAY = '\x00stray bytes\r\n';

/**
 * @throws InvalidArgumentError for a reply that cannot be sent: a status outside 100-999, a
 * header name or value with line breaks, an unknown fault or framing
 */
export function checkReply(reply: Reply): void {
  if (typeof reply !== 'object' || reply === null) {
    throw new InvalidArgumentError('a reply must be an object');
  }
  const status = reply.status ?? 200;
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new InvalidArgumentError(`reply status must be an integer 100-999, got ${status}`);
  }
  if (reply.fault !== undefined && !FAULTS.includes(reply.fault)) {
    throw new InvalidArgumentError(
      `unknown fault ${String(reply.fault)}; one of ${FAULTS.join(', ')}`,
    );
  }
  if (reply.framing !== undefined && !['length', 'chunked', 'close'].includes(reply.framing)) {
    throw new InvalidArgumentError(`reply framing must be 'length', 'chunked' or 'close'`);
  }
  for (const [name, value] of headerPairs(reply.headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(value)) {
      throw new InvalidArgumentError(`reply header ${JSON.stringify(name)} cannot be sent`);
    }
  }
  for (const name of ['delay', 'after', 'cutAt', 'dripDelay'] as const) {
    const value = reply[name];
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && value < 2 ** 31)) {
      throw new InvalidArgumentError(`reply ${name} must be a non-negative number`);
    }
  }
  if (
    reply.dripBytes !== undefined &&
    !(Number.isInteger(reply.dripBytes) && reply.dripBytes > 0)
  ) {
    throw new InvalidArgumentError('reply dripBytes must be a positive integer');
  }
}

function headerPairs(headers: ReplyHeaders | undefined): Array<readonly [string, string]> {
  if (headers === undefined) return [];
  if (Array.isArray(headers)) return headers as Array<readonly [string, string]>;
  const out: Array<readonly [string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const item of value) out.push([name, String(item)]);
    else out.push([name, String(value)]);
  }
  return out;
}

const toBytes = (data: string | Uint8Array): Uint8Array =>
  typeof data === 'string' ? Buffer.from(data, 'utf8') : data;

const pieceOf = (chunk: ReplyChunk): { data: Uint8Array; delay: number } =>
  typeof chunk === 'string' || chunk instanceof Uint8Array
    ? { data: toBytes(chunk), delay: 0 }
    : { data: toBytes(chunk.data), delay: chunk.delay };

/** The pieces of the framed body, and the head, for `reply` to `method`. */
function framedReply(
  reply: Reply,
  method: string,
  closing: boolean,
): { head: Uint8Array; pieces: Array<{ data: Uint8Array; delay: number }>; framing: string } {
  const status = reply.status ?? 200;
  const pairs = headerPairs(reply.headers);
  const has = (name: string) => pairs.some(([n]) => n.toLowerCase() === name);
  let body = reply.body;
  if (reply.json !== undefined) {
    body = JSON.stringify(reply.json);
    if (!has('content-type')) pairs.push(['content-type', 'application/json']);
  }
  const list =
    body === undefined
      ? []
      : typeof body === 'string' || body instanceof Uint8Array
        ? [body]
        : body;
  const framing = reply.framing ?? (Array.isArray(body) ? 'chunked' : 'length');
  const bodiless = method === 'HEAD' || status === 204 || status === 304 || status < 200;
  let pieces = list.map(pieceOf);
  const total = pieces.reduce((sum, piece) => sum + piece.data.byteLength, 0);
  if (framing === 'length' && !has('content-length') && !(status === 204 || status < 200)) {
    pairs.push(['content-length', String(total)]);
  } else if (framing === 'chunked' && !has('transfer-encoding') && !bodiless) {
    pairs.push(['transfer-encoding', 'chunked']);
  }
  if ((closing || framing === 'close') && !has('connection')) pairs.push(['connection', 'close']);
  if (bodiless) pieces = [];
  else if (framing === 'chunked') {
    pieces = pieces
      .filter((piece) => piece.data.byteLength > 0)
      .map((piece) => ({
        delay: piece.delay,
        data: Buffer.concat([
          Buffer.from(`${piece.data.byteLength.toString(16)}\r\n`, 'latin1'),
          piece.data,
          Buffer.from('\r\n', 'latin1'),
        ]),
      }));
    pieces.push({ data: Buffer.from('0\r\n\r\n', 'latin1'), delay: 0 });
  }
  const phrase = reply.statusText ?? PHRASES[status] ?? 'Unknown';
  let head = `HTTP/1.1 ${status} ${phrase}\r\n`;
  for (const [name, value] of pairs) head += `${name}: ${value}\r\n`;
  return { head: Buffer.from(`${head}\r\n`, 'latin1'), pieces, framing };
}

/** Waits on the player's time source (a fake clock's, or real timers). */
export type Wait = (ms: number) => Promise<void>;

/**
 * Plays `reply` to `request` on `connection`: waits, writes, and plays the fault. Resolves
 * with how the connection was left once everything is written (a stall resolves at once).
 * `closing` says the connection must close after the answer (the request asked to).
 */
export async function playReply(
  connection: ReplyConnection,
  request: { method: string },
  reply: Reply,
  wait: Wait,
  closing = false,
): Promise<ReplyOutcome> {
  const { fault } = reply;
  if ((reply.delay ?? 0) > 0) await wait(reply.delay ?? 0);
  if (connection.destroyed) return 'closed';
  if (fault === 'close') {
    connection.end();
    return 'closed';
  }
  if (fault === 'reset') {
    connection.reset();
    return 'closed';
  }
  if (fault === 'stall') return 'stalled';
  if (reply.raw !== undefined) {
    for (const piece of reply.raw.map(pieceOf)) {
      if (piece.delay > 0) await wait(piece.delay);
      if (connection.destroyed) return 'closed';
      connection.write(piece.data);
    }
    return afterAnswer(connection, reply, wait);
  }
  const ends = closing || reply.connectionClose === true || fault === 'connection-close';
  const { head, pieces, framing } = framedReply(reply, request.method, ends);
  if (fault === 'stall-body' || fault === 'cut-body' || fault === 'reset-body') {
    const bodyBytes = Buffer.concat(pieces.map((piece) => piece.data));
    // With no body to cut, the cut falls in the head: the answer is broken either way.
    const whole = bodyBytes.length === 0 ? head : Buffer.concat([head, bodyBytes]);
    const offset = bodyBytes.length === 0 ? 0 : head.byteLength;
    const cut = Math.min(
      offset + (reply.cutAt ?? Math.floor(Math.max(1, whole.length - offset) / 2)),
      whole.length - 1,
    );
    connection.write(whole.subarray(0, Math.max(1, cut)));
    if (fault === 'cut-body') connection.end();
    else if (fault === 'reset-body') {
      await connection.flush();
      connection.reset();
    }
    return fault === 'stall-body' ? 'stalled' : 'closed';
  }
  if (fault === 'drip') {
    const bytes = Buffer.concat([head, ...pieces.map((piece) => piece.data)]);
    const step = reply.dripBytes ?? 1;
    for (let at = 0; at < bytes.length; at += step) {
      if (connection.destroyed) return 'closed';
      connection.write(bytes.subarray(at, at + step));
      await wait(reply.dripDelay ?? 0);
    }
  } else {
    connection.write(head);
    for (const piece of pieces) {
      if (piece.delay > 0) await wait(piece.delay);
      if (connection.destroyed) return 'closed';
      connection.write(piece.data);
    }
  }
  if (ends || framing === 'close') {
    connection.end();
    return 'closed';
  }
  return afterAnswer(connection, reply, wait);
}

/** The fault that follows a whole answer, if any. */
function afterAnswer(connection: ReplyConnection, reply: Reply, wait: Wait): ReplyOutcome {
  const { fault } = reply;
  const after = reply.after ?? 0;
  if (fault === 'idle-close') return later(connection, wait, after, () => connection.end());
  if (fault === 'idle-reset') return later(connection, wait, after, () => connection.reset());
  if (fault === 'stray-bytes') {
    later(connection, wait, after, () => {
      connection.write(toBytes(reply.strayBytes ?? DEFAULT_STRAY));
      connection.end();
    });
    return 'poisoned';
  }
  return 'open';
}

/**
 * Runs `action` `ms` after the answer has been handed over, without holding the caller: the
 * reply is over, the fault comes on its own.
 */
function later(connection: ReplyConnection, wait: Wait, ms: number, action: () => void): 'closed' {
  void connection
    .flush()
    .then(() => wait(ms))
    .then(() => {
      if (!connection.destroyed) action();
    });
  return 'closed';
}
